"""A defined corpus of realistic RFC 822 messages, the same bytes for the same inputs.

Message `i` depends only on the seed, `i` and (for a reply) the reply target it is
given, never on the messages before it, so a corpus of 1,000 is the first 1,000 of a
corpus of 10,000. Even positions open new conversations from new people; odd
positions reply to a message already in the database (In-Reply-To and References
name its Message-ID, From is its sender), so half the corpus threads.

Sizes run from 2 KB to 200 KB, most of them small (log-normal, median about 6 KB);
every tenth message carries a PDF or PNG attachment (random bytes behind a real
signature) that makes up most of its size; about a third have an HTML part, and a
reply quotes the history it answers ("> " lines, or a <blockquote> in the HTML).
"""

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from html import escape

from heedful.demo import texts

MIN_BYTES = 2 * 1024
MAX_BYTES = 200 * 1024
MEDIAN_BYTES = 6 * 1024
SIGMA = 1.0  # log-normal spread: about 1 in 10 over 20 KB, 1 in 100 over 60 KB
ATTACHMENT_EVERY = 10
HTML_SHARE = 0.33
BASE_DATE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SENDER_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"


@dataclass(frozen=True)
class ReplyTarget:
    """A message in the database that a corpus reply answers."""

    message_id: str  # its external_id, "<...>"
    address: str  # its sender, who replies
    name: str
    subject: str


@dataclass(frozen=True)
class Shape:
    """What message `i` is, decided before any text is written."""

    reply: bool
    size: int  # bytes wanted, within MIN_BYTES..MAX_BYTES
    attachment: str  # "", "pdf" or "png"
    html: bool


def shape(seed: int, index: int) -> Shape:
    rng = random.Random(f"email-corpus-shape:{seed}:{index}")
    size = int(math.exp(rng.gauss(math.log(MEDIAN_BYTES), SIGMA)))
    attachment = ""
    if index % ATTACHMENT_EVERY == ATTACHMENT_EVERY - 1:
        attachment = rng.choice(("pdf", "png"))
        # Attachments are what makes mail big: at least 20 KB of it.
        size = max(size, rng.randint(20 * 1024, MAX_BYTES))
    return Shape(
        reply=index % 2 == 1,
        size=min(MAX_BYTES, max(MIN_BYTES, size)),
        attachment=attachment,
        html=rng.random() < HTML_SHARE,
    )


def message(seed: int, index: int, inbox_address: str, target: ReplyTarget | None = None) -> bytes:
    """Message `index` of the corpus as RFC 822 bytes (CRLF line ends)."""
    form = shape(seed, index)
    if form.reply and target is None:
        raise ValueError(f"message {index} is a reply and needs a reply target")
    rng = random.Random(f"email-corpus:{seed}:{index}")
    values = _values(rng)
    topic = rng.choice(texts.TOPICS)
    mail = EmailMessage(policy=SMTP)
    sent = BASE_DATE + timedelta(minutes=index)
    if form.reply and target is not None:
        name, address = target.name or target.address.split("@")[0], target.address
        values["first"] = name.split()[0]
        subject = (
            target.subject
            if target.subject.lower().startswith("re:")
            else (f"Re: {target.subject}")
        )
        mail["In-Reply-To"] = target.message_id
        mail["References"] = target.message_id
        new_text = _fill(rng.choice(topic.followups), values)
    else:
        first, last = values["first"], rng.choice(texts.LAST_NAMES)
        name = f"{first} {last}"
        domain = rng.choice(SENDER_DOMAINS)
        address = f"{first}.{last}.s{seed}m{index}@{domain}".lower()
        subject = _fill(rng.choice(topic.subjects), values)
        new_text = " ".join(_fill(rng.choice(topic.openings), values) for _ in range(2))
    body = f"Hello,\n\n{new_text}\n\nThanks,\n{name.split()[0]}\n"
    mail["Return-Path"] = f"<{address}>"
    host = "mail." + address.split("@")[1]
    mail["Received"] = (
        f"from {host} ({host} [192.0.2.{index % 250 + 1}])"
        f" by mx.support.test with ESMTPS id {rng.getrandbits(48):012x}; {format_datetime(sent)}"
    )
    mail["Authentication-Results"] = "mx.support.test; spf=pass; dkim=pass; dmarc=pass"
    mail["From"] = formataddr((name, address))
    mail["To"] = inbox_address
    mail["Subject"] = subject
    mail["Date"] = format_datetime(sent)
    mail["Message-ID"] = f"<bench.{seed}.{index}.{rng.getrandbits(40):010x}@mail.example.com>"
    mail["X-Mailer"] = rng.choice(("Apple Mail (2.3774)", "Microsoft Outlook 16.0", "Thunderbird"))
    history = _history(rng, topic, values, target, sent)
    attachment = _attachment(rng, form, index) if form.attachment else None
    room = form.size - len(mail.as_bytes()) - len(body)
    if attachment is not None:
        room -= len(attachment[0]) * 78 // 57
    tag = f"{seed}.{index}"

    def build(room: int) -> bytes:
        return _build(_headers_only(mail), body, history, room, form.html, attachment, tag)

    built = build(room)
    # Quoting, HTML markup and transfer encodings grow the bytes unevenly: measure how
    # much a byte of room costs and aim again, then nudge into MIN_BYTES..MAX_BYTES.
    if abs(len(built) - form.size) > form.size // 20 and room > 0:
        bare = len(build(0))
        slope = max(0.5, (len(built) - bare) / room)
        room = int((form.size - bare) / slope)
        built = build(room)
    for _ in range(8):
        if len(built) < MIN_BYTES:
            room += MIN_BYTES - len(built) + 64
        elif len(built) > MAX_BYTES:
            room -= len(built) - MAX_BYTES + 64
        else:
            break
        built = build(room)
    return built


def _headers_only(mail: EmailMessage) -> EmailMessage:
    fresh = EmailMessage(policy=SMTP)
    for name, value in mail.items():
        if name.lower() not in ("mime-version", "content-type", "content-transfer-encoding"):
            fresh[name] = value
    return fresh


def _build(
    mail: EmailMessage,
    body: str,
    history: list[tuple[str, str]],
    room: int,
    with_html: bool,
    attachment: tuple[bytes, str, str, str] | None,
    tag: str,
) -> bytes:
    text, html = _bodies(body, history, max(0, room), with_html)
    mail.set_content(text)
    if html:
        mail.add_alternative(html, subtype="html")
    if attachment is not None:
        data, maintype, subtype, filename = attachment
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    # The email package draws boundaries at random; fixed ones keep the bytes defined.
    for number, part in enumerate(mail.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_bench_{tag}_{number}")
    return mail.as_bytes()


def _values(rng: random.Random) -> dict[str, str]:
    return {
        "first": rng.choice(texts.FIRST_NAMES),
        "agent": rng.choice(texts.AGENT_NAMES),
        "order": f"A-{rng.randint(100000, 999999)}",
        "product": rng.choice(texts.PRODUCTS),
        "amount": f"${rng.randint(9, 400)}.00",
        "invoice": f"INV-{rng.randint(10000, 99999)}",
        "carrier": rng.choice(texts.CARRIERS),
        "days": str(rng.randint(3, 14)),
        "weekday": rng.choice(texts.WEEKDAYS),
        "code": str(rng.randint(1000, 9999)),
        "plan": rng.choice(texts.PLANS),
    }


def _fill(template: str, values: dict[str, str]) -> str:
    return template.format_map(values)


def _history(
    rng: random.Random,
    topic: texts.Topic,
    values: dict[str, str],
    target: ReplyTarget | None,
    sent: datetime,
) -> list[tuple[str, str]]:
    """Earlier messages of the thread, newest first: (attribution, text) pairs to quote."""
    found = []
    when = sent
    who = ("Support", "support@support.test") if target is not None else None
    for turn in range(40):
        when -= timedelta(hours=rng.randint(1, 30))
        if who is not None and turn % 2 == 0:
            text = _fill(rng.choice(topic.replies), values)
            author = who[0]
        else:
            text = " ".join(_fill(rng.choice(topic.followups), values) for _ in range(3))
            author = values["first"]
        found.append((f"On {format_datetime(when)}, {author} wrote:", text))
    return found


def _bodies(
    body: str, history: list[tuple[str, str]], room: int, with_html: bool
) -> tuple[str, str]:
    """The plain text (and HTML) of a message, padded to `room` bytes with quoted history:
    what makes most real mail longer than what the sender typed."""
    share = room // 2 if with_html else room
    blocks: list[tuple[int, str, list[str]]] = []
    used = 0
    depth = 1
    while used < share and history:
        for attribution, text in history:
            if used >= share:
                break
            lines = _wrap(text)
            blocks.append((depth, attribution, lines))
            used += sum(len(line) + depth + 3 for line in lines) + len(attribution) + 8
        depth = min(depth + 1, 6)
    quoted = [
        "\n".join(">" * d + " " + line for line in [attribution, "", *lines])
        for d, attribution, lines in blocks
    ]
    text = body + ("\n" + "\n\n".join(quoted) + "\n" if quoted else "")
    if not with_html:
        return text, ""
    html_quoted = "\n".join(
        f'<div>{escape(attribution)}</div>\n<blockquote type="cite">'
        + "<br>\n".join(escape(line) for line in lines)
        + "</blockquote>"
        for _d, attribution, lines in blocks
    )
    paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in body.split("\n\n") if p.strip())
    html = (
        '<html><head><meta charset="utf-8"></head><body>\n'
        f'<div dir="ltr">{paragraphs}</div>\n{html_quoted}\n</body></html>\n'
    )
    return text, html


def _wrap(text: str, width: int = 72) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def _attachment(rng: random.Random, form: Shape, index: int) -> tuple[bytes, str, str, str]:
    # The attachment takes most of the message; base64 turns 57 bytes into a line of
    # 76 characters and CRLF, and the text around it needs a few KB.
    size = max(1024, (form.size - 5 * 1024) * 57 // 78)
    if form.attachment == "pdf":
        data = PDF_HEAD + rng.randbytes(size - len(PDF_HEAD) - 6) + b"%%EOF\n"
        return data, "application", "pdf", f"invoice-{index}.pdf"
    data = PNG_SIGNATURE + rng.randbytes(size - len(PNG_SIGNATURE))
    return data, "image", "png", f"screenshot-{index}.png"
