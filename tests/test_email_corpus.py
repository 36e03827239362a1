"""The hostile corpus: every message parsed directly, then end to end through ingest.

Expectations live in tests/email_corpus/expected.py (see its docstring for the keys).
"""

import html
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from heedful.conversations.models import Message
from heedful.inboxes.email import ingest
from heedful.inboxes.email.parse import parse_email
from heedful.inboxes.email.parsed import ParsedEmail
from heedful.inboxes.models import RawInbound

CORPUS = Path(__file__).parent / "email_corpus"


def _load_expected() -> Any:
    spec = importlib.util.spec_from_file_location("email_corpus_expected", CORPUS / "expected.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXPECTED_MODULE = _load_expected()
EXPECTED: dict[str, dict[str, Any]] = EXPECTED_MODULE.EXPECTED
END_TO_END = [name for name, want in EXPECTED.items() if want["outcome"] != "bounce"]
_EVENT_HANDLER = re.compile(r"on\w+$", re.IGNORECASE)
_PLAIN_TEXT_ATTRIBUTES = {"title", "alt"}
_BLANKS = re.compile(r"[\x00-\x20]+")


def _bytes(name: str) -> bytes:
    generator = EXPECTED[name].get("generator")
    if generator:
        return bytes(EXPECTED_MODULE.GENERATORS[generator]())
    return (CORPUS / name).read_bytes()


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class _Tags(HTMLParser):
    """Collects (tag, attributes) as a browser would read them: entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_no_active_content(markup: str) -> None:
    """No script element, no on...= event handler, no javascript: URL, read the way a
    browser reads the markup (entities decoded; blanks inside a URL scheme ignored).
    Escaped text such as "&lt;script&gt;" is text, shown and never run."""
    assert "<script" not in markup.lower()
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag != "script"
        for name, value in attrs:
            assert not _EVENT_HANDLER.match(name), (tag, name)
            if name in _PLAIN_TEXT_ATTRIBUTES:
                continue  # a title saying "javascript:" is words, not a link
            scheme = _BLANKS.sub("", html.unescape(value or "")).lower()
            assert "javascript:" not in scheme, (tag, name, value)


def test_corpus_is_complete() -> None:
    files = {path.name for path in CORPUS.glob("*.eml")}
    assert len(files) >= 45
    listed = {name for name, want in EXPECTED.items() if "generator" not in want}
    assert files == listed, "every corpus file needs an expected outcome, and the reverse"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse(name: str) -> None:
    want = EXPECTED[name]
    parsed = parse_email(_bytes(name))
    assert_no_active_content(parsed.html)
    for fragment in _as_list(want.get("no_html", [])):
        assert fragment.lower() not in parsed.html.lower()
    _check_body(parsed, want)
    _check_attachments(parsed, want)
    _check_headers(parsed, want)
    _check_flags(parsed, want)


def _check_body(parsed: ParsedEmail, want: dict[str, Any]) -> None:
    for fragment in _as_list(want.get("text_contains", [])):
        assert fragment in parsed.text
    for fragment in _as_list(want.get("text_not_contains", [])):
        assert fragment not in parsed.text
    if want.get("text_empty"):
        assert parsed.text == ""
    if "quoted" in want:
        assert bool(parsed.quoted_text) is want["quoted"]
    if "quoted_contains" in want:
        assert want["quoted_contains"] in parsed.quoted_text
    for fragment in _as_list(want.get("html_contains", [])):
        assert fragment in parsed.html
    if want.get("html_empty"):
        assert parsed.html == ""
    if "notice" in want:
        assert any(want["notice"] in notice for notice in parsed.notices), parsed.notices


def _check_attachments(parsed: ParsedEmail, want: dict[str, Any]) -> None:
    names = [item.filename for item in parsed.attachments]
    if "attachments" in want:
        assert len(parsed.attachments) == want["attachments"]
    if "attachment_names" in want:
        assert names == want["attachment_names"]
    inline = [item.content_id for item in parsed.attachments if item.inline]
    assert inline == want.get("inline", [])


def _check_headers(parsed: ParsedEmail, want: dict[str, Any]) -> None:
    if "message_id" in want:
        assert parsed.message_id == want["message_id"]
    if "in_reply_to" in want:
        assert parsed.in_reply_to == want["in_reply_to"]
    if "references" in want:
        assert len(parsed.references) == want["references"]
    if "subject" in want:
        assert parsed.subject == want["subject"]
    if "subject_contains" in want:
        assert want["subject_contains"] in parsed.subject
    assert len(parsed.subject) <= want.get("subject_max", 255)
    assert "\n" not in parsed.subject and "\r" not in parsed.subject
    if "sender" in want:
        assert parsed.sender.address == want["sender"]
    if "sender_name" in want:
        assert parsed.sender.name == want["sender_name"]
    if "to" in want:
        assert len(parsed.to) == want["to"]
    if "cc" in want:
        assert len(parsed.cc) == want["cc"]
    if want.get("date", True) and want["outcome"] != "quarantined":
        assert parsed.date is not None and parsed.date.tzinfo is not None
    elif "date" in want:
        assert parsed.date is None


def _check_flags(parsed: ParsedEmail, want: dict[str, Any]) -> None:
    auto = want.get("auto")
    if auto is False:
        assert parsed.auto_submitted == ""
    elif auto:
        assert auto in parsed.auto_submitted
    if "auth_failed" in want:
        assert parsed.auth_failed == want["auth_failed"]
    if want["outcome"] == "bounce":
        assert parsed.bounce is not None
        assert parsed.bounce.status == want["bounce_status"]
        assert parsed.bounce.permanent is want["bounce_permanent"]
        assert parsed.bounce.original_message_ids == want["bounce_ids"]
        assert parsed.auto_submitted, "a delivery report is automatic mail"
    else:
        assert parsed.bounce is None


@pytest.mark.parametrize("name", sorted(END_TO_END))
def test_end_to_end(name: str, cast: Any, django_capture_on_commit_callbacks: Any) -> None:
    want = EXPECTED[name]
    data = _bytes(name)
    raw = _accept(data, django_capture_on_commit_callbacks, cast)
    if want["outcome"] == "quarantined":
        assert raw.status == RawInbound.Status.QUARANTINED
        assert want["reason_contains"] in raw.reason
        assert not Message.objects.filter(inbox=cast.email).exists()
        return
    assert raw.status == RawInbound.Status.PROCESSED, raw.reason
    assert raw.message_id is not None
    message = Message.objects.get(pk=raw.message_id)
    assert_no_active_content(message.body_html)
    for fragment in _as_list(want.get("text_contains", [])):
        assert fragment in message.body_text
    if "attachment_names" in want:
        stored = sorted(message.attachments.values_list("filename", flat=True))
        assert stored == sorted(want["attachment_names"])
    if "notice" in want:
        assert want["notice"] in message.notice
    assert message.auto_submitted == _expected_auto(want, message)

    again = _accept(data, django_capture_on_commit_callbacks, cast)
    assert again.status == RawInbound.Status.DUPLICATE
    assert again.message_id == message.pk
    assert Message.objects.filter(inbox=cast.email).count() == 1


def _accept(data: bytes, capture: Any, cast: Any) -> RawInbound:
    with capture(execute=True):
        raw, created = ingest.accept(inbox=cast.email, payload=data)
    assert created
    raw.refresh_from_db()
    return raw


def _expected_auto(want: dict[str, Any], message: Message) -> str:
    auto = want.get("auto")
    if auto:
        assert auto in message.auto_submitted
        return message.auto_submitted
    return ""
