"""Raw RFC 822 bytes -> ParsedEmail, whatever state the message arrives in.

The standard library's modern parser does the MIME work; around it, everything a
hostile or broken message can do is contained: charsets are guessed when wrong,
header values are read raw and decoded here (so a malformed header cannot raise),
MIME depth and part counts are capped, and each part that cannot be read becomes a
notice instead of an exception. Only input that is not an email at all raises
EmailParseError.
"""

import codecs
import email.header
import email.policy
import email.utils
import html as htmllib
import itertools
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser

import charset_normalizer
import nh3
from django.conf import settings

from heedful.conversations.inbound import InboundAttachment
from heedful.core.html import sanitize_html
from heedful.inboxes.email.authresults import auth_failed
from heedful.inboxes.email.parsed import Address, Bounce, EmailParseError, ParsedEmail
from heedful.inboxes.email.quoting import split_quoted

# A legitimate message has a handful of MIME sections (multipart or message/*
# containers); hundreds are a bomb built to exhaust the parser's recursion or the
# worker's time.
MAX_MULTIPART_SECTIONS = 200
MAX_DEPTH = 20
MAX_PARTS = 500
MAX_ADDRESSES = 1000
MAX_SUBJECT = 255
# Longer header values are cut (a To of hundreds of addresses fits; a 1 MB subject does not).
MAX_HEADER_VALUE = 32 * 1024
MAX_HEADER_BLOCK = 1024 * 1024
_HEADER_END = re.compile(rb"\r?\n\r?\n")
MAX_ID_LENGTH = 250
MAX_REFERENCES = 100
# Charset detection reads a sample: enough to be right, bounded for huge bodies.
DETECT_SAMPLE = 32 * 1024
MB = 1024 * 1024

_BODY_TYPES = ("text/plain", "text/html")
_TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")
# Alternative renditions nobody reads (text/enriched); calendar invites are kept.
_SKIPPED_RENDITIONS = ("text/enriched", "text/richtext", "text/x-amp-html", "text/watch-html")
# Common wrong or legacy names, mapped to the superset codec mail clients really use.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "utf8": "utf-8",
    "unknown-8bit": "",
    "x-unknown": "",
    "us-ascii": "ascii",
}
# Codecs that turn bytes into something other than a reading of text in a charset.
_NOT_CHARSETS = {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "utf_7"}
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\u2028\u2029\s]+")
_FOLD = re.compile(r"[\r\n]+[ \t]*")
_COMMENT = re.compile(r"\([^()]*\)")
_BRACKETED_ID = re.compile(r"<([^<>\s]+)>")
# Bounded repeats: an unbounded `+` before "@" makes a long run without one quadratic.
_LOOSE_ADDRESS = re.compile(r"[\w.+'=-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,10}")
_BLOCK_TAG = re.compile(
    # `[^<>]{0,1000}`, not `[^>]*`: thousands of "<br" without ">" would be quadratic.
    r"<\s*(?:br|hr|/p|/div|/li|/tr|/h[1-6]|/blockquote|/table|/pre|/ul|/ol|/dd|/dt)\b[^<>]{0,1000}>",
    re.IGNORECASE,
)
_BLANK_RUN = re.compile(r"\n{3,}")
_SPACE_RUN = re.compile(r"[ \t\xa0]+")
_NESTING_HEADER = re.compile(rb"^content-type:\s*(?:multipart|message)/", re.MULTILINE)
_NULL_SENDER = re.compile(r"^\s*<\s*>\s*$")
_DAEMONS = {"mailer-daemon", "postmaster"}


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message. Raises EmailParseError only when it is not an email at all."""
    if not raw or not raw.strip():
        raise EmailParseError("empty message")
    if len(raw) > MAX_HEADER_BLOCK and not _HEADER_END.search(raw, 0, MAX_HEADER_BLOCK):
        # Real mail has a few kilobytes of headers; megabytes of them only cost time.
        raise EmailParseError(f"the header block is over {MAX_HEADER_BLOCK // 1024} KB")
    message, notices = _parse_structure(raw)
    headers = _header_map(message)
    if not headers:
        raise EmailParseError("not an email: no header lines")
    walk = _Walk(notices)
    walk.visit(message, 0, None)
    text, html = walk.body()
    new_text, quoted = split_quoted(text)
    content_type = _content_type(message)
    return ParsedEmail(
        message_id=_first_id(headers.get("message-id", [])),
        in_reply_to=_ids(headers.get("in-reply-to", [])),
        references=_references(headers.get("references", [])),
        sender=_sender(headers),
        reply_to=tuple(_addresses(headers.get("reply-to", []))),
        to=tuple(_addresses(headers.get("to", []))),
        cc=tuple(_addresses(headers.get("cc", []))),
        delivered_to=_delivered_to(headers),
        subject=_subject(headers),
        date=_date(headers),
        text=new_text,
        quoted_text=quoted,
        html=sanitize_html(html),
        attachments=walk.attachments(html),
        notices=tuple(dict.fromkeys(walk.notices)),
        auto_submitted=_automatic(headers, content_type),
        auth_failed=auth_failed(
            headers.get("authentication-results", []),
            from_domain=_sender(headers).address.rpartition("@")[2],
        ),
        bounce=walk.bounce(),
        headers=_display_headers(headers),
    )


# --- structure ----------------------------------------------------------------------


class _OnceParsedHeaders(email.policy.EmailPolicy):
    """policy.default, except that each header is parsed once per message.

    The parser asks a part for its Content-Type several times (maintype, boundary,
    charset...), and the modern header classes re-parse the value on every request:
    that alone more than doubled the time to parse a message. Header objects are
    immutable, so sharing them is safe; the cache lives only as long as the message.
    """

    cache: dict[tuple[str, str], object] | None = None

    def header_fetch_parse(self, name: str, value: str) -> object:  # type: ignore[override]
        if self.cache is None:
            return super().header_fetch_parse(name, value)
        key = (name, value)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = super().header_fetch_parse(name, value)
        return found


def _fresh_policy() -> email.policy.Policy:
    # A new cache per message. The stubs know only EmailPolicy's own options.
    return _OnceParsedHeaders(cache={})  # type: ignore[call-overload]


def _parse_structure(raw: bytes) -> tuple[Message, list[str]]:
    if _too_many_sections(raw):
        return _headers_only(raw, "it has too many MIME sections")
    for policy in (_fresh_policy(), email.policy.compat32):
        try:
            return BytesParser(policy=policy).parsebytes(raw), []
        except RecursionError:
            return _headers_only(raw, "its MIME parts are nested too deeply")
        except Exception:  # noqa: S112 - the stricter policy failed; try the lenient one
            continue
    return _headers_only(raw, "its MIME structure could not be read")


def _too_many_sections(raw: bytes) -> bool:
    """A cheap count first (any mention), the exact one (Content-Type lines) only
    when the cheap one is high: a message may well talk about "multipart/"."""
    lowered = raw.lower()
    if lowered.count(b"multipart/") + lowered.count(b"message/") <= MAX_MULTIPART_SECTIONS:
        return False
    found = _NESTING_HEADER.finditer(lowered)
    return (
        sum(1 for _ in itertools.islice(found, MAX_MULTIPART_SECTIONS + 1)) > MAX_MULTIPART_SECTIONS
    )


def _headers_only(raw: bytes, why: str) -> tuple[Message, list[str]]:
    """Keep the headers and show the whole body as it arrived, so nothing is lost."""
    try:
        message = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    except Exception as exc:
        raise EmailParseError(f"not an email: {type(exc).__name__}") from exc
    for name in ("Content-Type", "Content-Transfer-Encoding"):
        del message[name]
    message["Content-Type"] = "text/plain"
    notice = f"The message was not split into parts because {why}; its body is shown as raw text."
    return message, [notice]


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a malformed Content-Type reads as plain text (RFC 2045)
        return "text/plain"


# --- the parts ----------------------------------------------------------------------


@dataclass
class _File:
    filename: str
    content_type: str
    content: bytes
    content_id: str
    disposition: str


class _Walk:
    """One pass over the MIME tree, collecting bodies, files and report parts."""

    def __init__(self, notices: list[str]) -> None:
        self.notices = notices
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.tnef_texts: list[str] = []
        self.tnef_htmls: list[str] = []
        self.files: list[_File] = []
        self.parts = 0
        self.report = False
        self.status_blocks: list[dict[str, str]] = []
        self.returned_ids: list[str] = []

    def visit(self, part: Message, depth: int, seen: set[str] | None) -> None:
        """`seen` is the set of body types already taken inside a multipart/alternative."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            self.notices.append(
                f"The message has more than {MAX_PARTS} parts; the rest were not read."
            )
            return
        if depth > MAX_DEPTH:
            self.notices.append(f"Parts nested deeper than {MAX_DEPTH} levels were not read.")
            return
        try:
            self._visit(part, depth, seen)
        except Exception as exc:  # one unreadable part must not lose the rest
            self.notices.append(f"A part of the message could not be read ({type(exc).__name__}).")

    def _visit(self, part: Message, depth: int, seen: set[str] | None) -> None:
        ctype = _content_type(part)
        if ctype in ("message/rfc822", "message/global"):
            self._forwarded(part)
        elif ctype == "message/delivery-status":
            self._delivery_status(part)
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            self.returned_ids.extend(_ids_in_headers(_decoded_text(part)))
        elif part.is_multipart():
            self._multipart(part, ctype, depth)
        elif ctype.startswith("multipart/"):
            self.notices.append("A MIME boundary was missing; that part is shown as raw text.")
            self.texts.append(_decoded_text(part))
        else:
            self._leaf(part, ctype, seen)

    def _multipart(self, part: Message, ctype: str, depth: int) -> None:
        if ctype == "multipart/report":
            report_type = str(part.get_param("report-type") or "").lower()
            self.report = self.report or report_type == "delivery-status"
        seen: set[str] | None = set() if ctype == "multipart/alternative" else None
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else []:
            if isinstance(child, Message):
                self.visit(child, depth + 1, seen)

    def _leaf(self, part: Message, ctype: str, seen: set[str] | None) -> None:
        filename = _filename(part)
        disposition = part.get_content_disposition() or ""
        if ctype in _TNEF_TYPES or filename.lower() == "winmail.dat":
            self._tnef(part, filename or "winmail.dat")
            return
        is_body = ctype in _BODY_TYPES and disposition != "attachment" and not filename
        if seen is not None and not filename and (ctype in seen or ctype in _SKIPPED_RENDITIONS):
            return  # a second rendition of a body already taken
        if is_body:
            if seen is not None:
                seen.add(ctype)
            target = self.texts if ctype == "text/plain" else self.htmls
            target.append(_decoded_text(part))
            return
        content = part.get_payload(decode=True)
        self._add_file(filename, ctype, content if isinstance(content, bytes) else b"", part)

    def _add_file(self, filename: str, ctype: str, content: bytes, part: Message | None) -> None:
        content_id = _content_id(part) if part is not None else ""
        disposition = (part.get_content_disposition() or "") if part is not None else ""
        name = filename or _generated_name(len(self.files) + 1, ctype)
        self.files.append(_File(name, ctype[:100], content, content_id, disposition))

    def _forwarded(self, part: Message) -> None:
        """A forwarded (or returned) message is kept whole, as an .eml attachment."""
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, Message):
            content = part.get_payload(decode=True)
            content = content if isinstance(content, bytes) else b""
            self._add_file(_filename(part), "message/rfc822", content, part)
            return
        inner_headers = _header_map(inner)
        if self.report:
            self.returned_ids.extend(_ids(inner_headers.get("message-id", [])))
        subject = _subject(inner_headers) or "forwarded message"
        name = _filename(part) or _safe_filename(f"{subject[:150]}.eml")
        self._add_file(name, "message/rfc822", _message_bytes(inner), part)

    def _delivery_status(self, part: Message) -> None:
        payload = part.get_payload()
        if isinstance(payload, list):
            for block in payload:
                if not isinstance(block, Message):
                    continue
                fields = _header_map(block)
                self.status_blocks.append({name: values[0] for name, values in fields.items()})
        else:
            self.status_blocks.extend(_field_blocks(_decoded_text(part)))

    def _tnef(self, part: Message, filename: str) -> None:
        """Outlook's winmail.dat: unpack the files and body inside, or keep it whole."""
        from tnefparse.tnef import TNEF

        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        try:
            tnef = TNEF(data, do_checksum=False)
            inner = [(_tnef_name(item), item.data) for item in tnef.attachments]
        except Exception:  # any malformed stream: keep the file as it came
            inner, tnef = [], None
        if tnef is None or not (inner or tnef.body or tnef.htmlbody):
            self.notices.append(
                f"{filename} (an Outlook TNEF file) could not be unpacked; it is kept as it is."
            )
            self._add_file(filename, "application/ms-tnef", data, part)
            return
        for index, (name, content) in enumerate(inner, start=1):
            name = _safe_filename(name) or f"attachment-{index}"
            guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self._add_file(name, guessed, bytes(content or b""), None)
        if tnef.body:
            self.tnef_texts.append(_text_of(tnef.body))
        if tnef.htmlbody:
            self.tnef_htmls.append(_text_of(tnef.htmlbody))

    # --- results --------------------------------------------------------------------

    def body(self) -> tuple[str, str]:
        """(text, raw html): text/plain preferred, else derived from the HTML."""
        html = "\n".join(item for item in self.htmls if item.strip())
        html = html or "\n".join(self.tnef_htmls)
        text = "\n".join(item for item in self.texts if item.strip()).strip("\n")
        text = text or "\n".join(self.tnef_texts).strip("\n")
        if not text.strip() and html:
            text = html_to_text(html)
        return text, html

    def attachments(self, raw_html: str) -> tuple[InboundAttachment, ...]:
        return _apply_limits(self.files, raw_html.lower(), self.notices)

    def bounce(self) -> Bounce | None:
        if not self.report or not self.status_blocks:
            return None
        return _bounce(self.status_blocks, self.returned_ids)


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload() or "").encode("utf-8", "surrogateescape")
    try:
        charset = part.get_content_charset()
    except Exception:  # a broken charset parameter: guess from the bytes
        charset = None
    return _clean_body(decode_bytes(payload, charset))


def _text_of(value: bytes | str) -> str:
    text = value if isinstance(value, str) else decode_bytes(value, None)
    return _clean_body(text.rstrip("\x00"))


def _tnef_name(item: object) -> str:
    name = getattr(item, "long_filename", lambda: "")()
    if isinstance(name, bytes):
        name = decode_bytes(name, None)
    return str(name or "").rstrip("\x00")


def _message_bytes(inner: Message) -> bytes:
    for policy in (email.policy.compat32, email.policy.default):
        try:
            return inner.as_bytes(policy=policy)
        except Exception:  # noqa: S112 - try the other generator
            continue
    return str(inner.get_payload()).encode("utf-8", "replace")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # a broken parameter: fall back to a generated name
        name = ""
    return _safe_filename(str(name))


def _safe_filename(name: str) -> str:
    """Decoded (RFC 2047 too, which clients use in parameters against the rules),
    without any path, control characters or surrounding space."""
    name = _to_text(name)
    if "=?" in name:
        name = _decode_words(name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _LINE_BREAKING.sub(" ", name).strip()[:200]


def _generated_name(index: int, ctype: str) -> str:
    extension = ".ics" if ctype == "text/calendar" else mimetypes.guess_extension(ctype)
    return f"attachment-{index}{extension or '.bin'}"


def _content_id(part: Message) -> str:
    values = [str(value) for name, value in part.raw_items() if name.lower() == "content-id"]
    if not values:
        return ""
    value = _LINE_BREAKING.sub("", _to_text(values[0])).strip("<>")
    return value[:MAX_ID_LENGTH]


# --- attachments and their limits ---------------------------------------------------


def _apply_limits(
    files: list[_File], raw_html: str, notices: list[str]
) -> tuple[InboundAttachment, ...]:
    """Drop files over the size limit, then keep at most the count limit.

    Inline images the HTML shows are kept first when the count limit bites: without
    them the message itself reads wrong, while a dropped file is named in a notice.
    """
    max_bytes = settings.HEEDFUL_MAX_ATTACHMENT_BYTES
    max_count = settings.HEEDFUL_MAX_ATTACHMENTS
    sized: list[InboundAttachment] = []
    for file in files:
        if len(file.content) > max_bytes:
            notices.append(
                f"{file.filename} ({_size(len(file.content))}) was not kept: "
                f"attachments over {_size(max_bytes)} are refused."
            )
            continue
        sized.append(_attachment(file, raw_html))
    order = sorted(range(len(sized)), key=lambda index: not sized[index].inline)
    chosen = set(order[:max_count])
    for index, item in enumerate(sized):
        if index not in chosen:
            notices.append(
                f"{item.filename} was not kept: at most {max_count} attachments are kept "
                "per message."
            )
    return tuple(item for index, item in enumerate(sized) if index in chosen)


def _attachment(item: _File, raw_html: str) -> InboundAttachment:
    cid = item.content_id
    referenced = bool(cid) and f"cid:{cid.lower()}" in raw_html
    return InboundAttachment(
        filename=item.filename,
        content_type=item.content_type,
        content=item.content,
        content_id=cid,
        inline=bool(cid) and (referenced or item.disposition == "inline"),
    )


def _size(count: int) -> str:
    if count >= MB:
        return f"{count / MB:.1f}".removesuffix(".0") + " MB"
    return f"{count / 1024:.1f}".removesuffix(".0") + " KB"


# --- text ---------------------------------------------------------------------------


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in the declared charset when it decodes cleanly; else UTF-8; else the
    detector's guess; else UTF-8 with replacement characters. Never raises."""
    if not data:
        return ""
    codec = _codec(charset)
    if codec:
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError):
            pass
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _detected(data)


def _codec(charset: str | None) -> str:
    name = (charset or "").strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name:
        return ""
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):
        return ""
    return "" if codec.replace("-", "_") in _NOT_CHARSETS else codec


def _detected(data: bytes) -> str:
    results = charset_normalizer.from_bytes(data[:DETECT_SAMPLE])
    best = results.best()
    if best is None:
        return data.decode("utf-8", errors="replace")
    # On short Western text the detector cannot tell Latin code pages apart; the one
    # mail clients really use (Windows-1252) wins when it reads about as cleanly and
    # fits the language as well.
    western = (
        match
        for match in results
        if match.encoding in _WESTERN
        and match.chaos <= best.chaos + 0.1
        and match.coherence >= best.coherence
    )
    chosen = next(western, best)
    try:
        return data.decode(chosen.encoding, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _clean_body(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: block ends become line breaks, tags go."""
    marked = _BLOCK_TAG.sub("\n", html.replace("\r", " ").replace("\n", " "))
    stripped = nh3.clean(marked, tags=set(), clean_content_tags={"script", "style", "title"})
    lines = (_SPACE_RUN.sub(" ", line).strip() for line in htmllib.unescape(stripped).split("\n"))
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


# --- headers ------------------------------------------------------------------------


def _header_map(message: Message) -> dict[str, list[str]]:
    """Lower-case name -> raw values as text, unfolded. Read raw so that a malformed
    header is just text here, never an exception from a header class."""
    found: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        key = _to_text(str(name)).strip().lower()[:100]
        # Cut before decoding: no real header needs more, and every later step
        # (RFC 2047 words, address parsing) is then bounded.
        text = _to_text(str(value)[:MAX_HEADER_VALUE])
        found.setdefault(key, []).append(_FOLD.sub(" ", text).strip())
    return found


def _to_text(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit header bytes become text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return value


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words, in any charset we can read."""
    if "=?" not in value:
        return value
    try:
        chunks = email.header.decode_header(value)
    except Exception:  # malformed encoded words stay as written
        return value
    decoded = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            decoded.append(chunk)
        elif charset is None:
            decoded.append(chunk.decode("raw-unicode-escape", errors="replace"))
        else:
            decoded.append(decode_bytes(chunk, charset))
    return "".join(decoded)


def _one_line(value: str) -> str:
    return _LINE_BREAKING.sub(" ", value).strip()


def _subject(headers: dict[str, list[str]]) -> str:
    values = headers.get("subject", [])
    return _one_line(_decode_words(values[0]))[:MAX_SUBJECT] if values else ""


def _date(headers: dict[str, list[str]]) -> datetime | None:
    values = headers.get("date", [])
    if not values:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(values[0])
    except Exception:  # an unreadable Date is simply unknown
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _display_headers(headers: dict[str, list[str]]) -> dict[str, str]:
    shown = {}
    for name in ("From", "To", "Cc", "Reply-To", "Date", "Subject", "Message-ID"):
        values = headers.get(name.lower())
        if values:
            shown[name] = _one_line(_decode_words(values[0]))[:1000]
    return shown


# --- message ids ----------------------------------------------------------------------


def _ids(values: list[str]) -> tuple[str, ...]:
    """ "<id@host>" values from a header, tolerating missing brackets, commas, comments
    and broken folding; ids without "@" or absurdly long ones are dropped."""
    found: list[str] = []
    for value in values:
        text = _COMMENT.sub(" ", value)
        candidates = _BRACKETED_ID.findall(text) or re.split(r"[\s,;<>]+", text)
        found.extend(f"<{item}>" for item in candidates if _usable_id(item))
    return tuple(dict.fromkeys(found))


def _usable_id(item: str) -> bool:
    return "@" in item and 2 < len(item) <= MAX_ID_LENGTH and not _LINE_BREAKING.search(item)


def _first_id(values: list[str]) -> str | None:
    found = _ids(values[:1])
    return found[0] if found else None


def _references(values: list[str]) -> tuple[str, ...]:
    found = _ids(values)
    if len(found) <= MAX_REFERENCES:
        return found
    # The root and the most recent ids are what threading needs.
    return (found[0], *found[-(MAX_REFERENCES - 1) :])


def _ids_in_headers(text: str) -> list[str]:
    blocks = _field_blocks(text)
    return list(_ids([blocks[0].get("message-id", "")])) if blocks else []


def _field_blocks(text: str) -> list[dict[str, str]]:
    """ "Name: value" blocks separated by blank lines (delivery-status, returned headers)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
        elif line[:1] in (" ", "\t") and last:
            current[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            current.setdefault(last, value.strip())
    if current:
        blocks.append(current)
    return blocks


# --- addresses ----------------------------------------------------------------------


def _addresses(values: list[str]) -> list[Address]:
    found = []
    for name, address in email.utils.getaddresses(values)[:MAX_ADDRESSES]:
        address = _one_line(address)
        if address:
            found.append(Address(address=address, name=_one_line(_decode_words(name))[:200]))
    return found


def _usable(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain) and len(address) <= 254 and " " not in address


def _sender(headers: dict[str, list[str]]) -> Address:
    """From's first usable address; else Sender; else Reply-To; else Address("")."""
    for name in ("from", "sender", "reply-to"):
        values = headers.get(name, [])
        for item in _addresses(values):
            if _usable(item.address):
                return item
        for value in values:  # a From getaddresses cannot split: find the address in it
            match = _LOOSE_ADDRESS.search(value[:1000])
            if match:
                return Address(address=match.group(0))
    return Address(address="")


def _delivered_to(headers: dict[str, list[str]]) -> tuple[str, ...]:
    values = [*headers.get("delivered-to", []), *headers.get("x-original-to", [])]
    found = [item.address for item in _addresses(values) if _usable(item.address)]
    return tuple(dict.fromkeys(found))


# --- automatic mail (RFC 3834) ------------------------------------------------------


def _automatic(headers: dict[str, list[str]], content_type: str) -> str:
    """Why this message was sent by a machine, or "" for a person."""
    auto = _first_value(headers, "auto-submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"[:255]
    precedence = _first_value(headers, "precedence").lower()
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    for name, label in (
        ("list-id", "List-Id"),
        ("list-unsubscribe", "List-Unsubscribe"),
        ("x-auto-response-suppress", "X-Auto-Response-Suppress"),
        ("x-autoreply", "X-Autoreply"),
        ("x-autorespond", "X-Autorespond"),
    ):
        if name in headers:
            return label
    return _automatic_sender(headers, content_type)


def _automatic_sender(headers: dict[str, list[str]], content_type: str) -> str:
    return_path = headers.get("return-path", [])
    if any(_NULL_SENDER.match(value) for value in return_path):
        return "null sender"
    senders = _addresses([*headers.get("from", [])[:1], *return_path[:1]])
    if any(item.address.rpartition("@")[0].lower() in _DAEMONS for item in senders):
        return "mailer-daemon"
    if content_type == "multipart/report":
        return "delivery report"
    return ""


def _first_value(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name, [])
    return _one_line(values[0]) if values else ""


# --- delivery reports (RFC 3464) ----------------------------------------------------


def _bounce(blocks: list[dict[str, str]], returned_ids: list[str]) -> Bounce:
    """The recipients the report failed for good (5.x.x), else those it failed or
    delayed for now. A recipient it reports delivered, relayed or expanded is no
    failure and is never named."""
    recipients = [block for block in blocks if "final-recipient" in block or "action" in block]
    failed = _with_action(recipients, "failed")
    hard = [block for block in failed if _status(block).startswith("5")]
    named = hard or failed or _with_action(recipients, "delayed")
    chosen = (named or recipients or [{}])[0]
    addresses = [
        _after_type(block.get("final-recipient") or block.get("original-recipient", ""))
        for block in named
    ]
    return Bounce(
        original_message_ids=tuple(dict.fromkeys(returned_ids)),
        recipients=tuple(item for item in dict.fromkeys(addresses) if item),
        status=_status(chosen),
        diagnostic=_after_type(chosen.get("diagnostic-code", ""))[:1000],
        permanent=bool(hard),
    )


def _status(block: dict[str, str]) -> str:
    return _one_line(block.get("status", "")).split(" ")[0]


def _with_action(blocks: list[dict[str, str]], action: str) -> list[dict[str, str]]:
    return [block for block in blocks if _one_line(block.get("action", "")).lower() == action]


def _after_type(value: str) -> str:
    """ "rfc822; user@example.com" -> "user@example.com" (the type prefix goes)."""
    _, semicolon, rest = value.partition(";")
    return _one_line(rest if semicolon else value)
