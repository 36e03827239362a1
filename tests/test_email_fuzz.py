"""Hypothesis fuzz of the email parser.

Whatever arrives, parse_email returns a ParsedEmail or raises EmailParseError (the
quarantine path), and no script, event handler or javascript: URL survives in the
html it hands on.
"""

import base64
import quopri

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heedful.inboxes.email.parse import parse_email
from heedful.inboxes.email.parsed import EmailParseError, ParsedEmail
from tests.test_email_corpus import assert_no_active_content

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_TAGS = ["a", "img", "div", "p", "svg", "iframe", "body", "math", "form", "object", "script"]
_ATTRIBUTES = ["href", "src", "onerror", "onload", "OnClick", "onmouseover", "style", "action"]
_ATTRIBUTES += ["xlink:href", "formaction", "background", "title"]
_VALUES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "&#106;avascript:alert(1)",
    " javascript:alert(1)",
    "java\nscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "expression(alert(1))",
    "alert(1)",
    "https://example.test/x.png",
    "cid:part1@example.test",
]
_CHARSETS = ["utf-8", "iso-8859-1", "gb2312", "shift_jis", "koi8-r", "x-bogus", "", "utf-7"]
_ENCODINGS = ["", "7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary"]
_HEADER_NAMES = ["From", "To", "Cc", "Reply-To", "Sender", "Subject", "Message-ID"]
_HEADER_NAMES += ["In-Reply-To", "References", "Date", "Auto-Submitted", "Precedence"]
_HEADER_NAMES += ["List-Id", "Return-Path", "Authentication-Results", "Content-Type"]
_HEADER_NAMES += ["Delivered-To", "X-Random"]
_HEADER_VALUES = [
    "Jane <jane@customer.test>",
    "=?utf-8?B?SsO2cmc=?= <j@x.test>",
    "=?x-bogus?Q?=FF=FE?= <a@b.test>",
    '"broken <<< <',
    "<>",
    "<id@host.test> bare@id.test, <x@y>",
    "mx.test; spf=pass; dkim=fail; dmarc=fail",
    "multipart/mixed; boundary=b1",
    "Mon, 99 Foo 2026 99:99:99 +9999",
    "=?utf-8?Q?line=0D=0ABcc:_x@y?=",
]


def _attribute(name: str, value: str) -> str:
    return f'{name}="{value}"'


_attribute_strategy = st.builds(_attribute, st.sampled_from(_ATTRIBUTES), st.sampled_from(_VALUES))
_element = st.builds(
    lambda tag, attributes, inner: f"<{tag} {' '.join(attributes)}>{inner}</{tag}>",
    st.sampled_from(_TAGS),
    st.lists(_attribute_strategy, max_size=3),
    st.text(max_size=20),
)
_html = st.lists(st.one_of(_element, st.text(max_size=30)), max_size=8).map("".join)


def _encode(text: str, charset: str, encoding: str) -> bytes:
    try:
        data = text.encode(charset or "utf-8", errors="replace")
    except LookupError:  # a bogus charset name: the bytes are UTF-8, the label lies
        data = text.encode("utf-8")
    if encoding == "base64":
        return base64.encodebytes(data)
    if encoding == "quoted-printable":
        return quopri.encodestring(data)
    return data


@st.composite
def _leaf(draw: st.DrawFn) -> bytes:
    ctype = draw(st.sampled_from(["text/plain", "text/html", "image/png", "application/pdf"]))
    charset = draw(st.sampled_from(_CHARSETS))
    encoding = draw(st.sampled_from(_ENCODINGS))
    text = draw(_html) if ctype == "text/html" else draw(st.text(max_size=60))
    headers = f"Content-Type: {ctype}" + (f"; charset={charset}" if charset else "")
    if encoding:
        headers += f"\r\nContent-Transfer-Encoding: {encoding}"
    if draw(st.booleans()):
        headers += '\r\nContent-Disposition: inline; filename="=?utf-8?Q?f=C3=BC.png?="'
        headers += "\r\nContent-ID: <part1@example.test>"
    return headers.encode() + b"\r\n\r\n" + _encode(text, charset, encoding)


def _multipart(children: list[bytes], subtype: str, boundary: str, closed: bool) -> bytes:
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + child + b"\r\n" for child in children)
    return head + body + (b"--" + boundary.encode() + b"--\r\n" if closed else b"")


_tree = st.recursive(
    _leaf(),
    lambda children: st.builds(
        _multipart,
        st.lists(children, min_size=1, max_size=4),
        st.sampled_from(["mixed", "alternative", "related", "report"]),
        st.text("abcdefghij0123456789=_", min_size=1, max_size=12),
        st.booleans(),
    ),
    max_leaves=8,
)


@st.composite
def _emails(draw: st.DrawFn) -> bytes:
    names = draw(st.lists(st.sampled_from(_HEADER_NAMES), max_size=12))
    lines = []
    for name in names:
        value = draw(st.one_of(st.sampled_from(_HEADER_VALUES), st.text(max_size=40)))
        lines.append(f"{name}: {value}".encode("utf-8", "surrogatepass"))
    separator = draw(st.sampled_from([b"\r\n", b"\n"]))
    return separator.join(lines) + separator + draw(_tree)


def _check(raw: bytes) -> None:
    try:
        parsed = parse_email(raw)
    except EmailParseError:
        return
    assert isinstance(parsed, ParsedEmail)
    assert_no_active_content(parsed.html)
    for value in (parsed.text, parsed.quoted_text, parsed.subject, parsed.sender.address):
        value.encode("utf-8")  # storable: no lone surrogates
        assert "\x00" not in value
    assert "\n" not in parsed.subject


@FUZZ
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(raw: bytes) -> None:
    _check(raw)


@FUZZ
@given(_emails())
def test_structured_emails(raw: bytes) -> None:
    _check(raw)


@FUZZ
@given(_html)
def test_hostile_html_body(markup: str) -> None:
    raw = b"From: a@b.test\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + markup.encode(
        "utf-8", "surrogatepass"
    )
    _check(raw)
