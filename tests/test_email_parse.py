"""Focused tests of the email parser: one behaviour each."""

import base64
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from heedful.core.html import sanitize_html
from heedful.inboxes.email.authresults import auth_failed
from heedful.inboxes.email.parse import MAX_DEPTH, MAX_PARTS, html_to_text, parse_email
from heedful.inboxes.email.parsed import Address, EmailParseError
from heedful.inboxes.email.quoting import split_quoted

HEAD = "From: Jane <jane@customer.test>\r\nTo: help@support.test\r\nSubject: Hi\r\n"


def email(body: str | bytes = "Hello", headers: str = "", ctype: str = "text/plain") -> bytes:
    head = f"{HEAD}{headers}Content-Type: {ctype}\r\n\r\n".encode()
    return head + (body if isinstance(body, bytes) else body.encode())


def mixed(*parts: str | bytes, headers: str = "", subtype: str = "mixed") -> bytes:
    body = b""
    for part in parts:
        body += b"--B\r\n" + (part if isinstance(part, bytes) else part.encode()) + b"\r\n"
    return email(body + b"--B--\r\n", headers, f'multipart/{subtype}; boundary="B"')


def file_part(name: str, content: bytes, extra: str = "", ctype: str = "text/plain") -> str:
    encoded = base64.b64encode(content).decode()
    return (
        f"Content-Type: {ctype}\r\nContent-Disposition: attachment; filename={name}\r\n"
        f"Content-Transfer-Encoding: base64\r\n{extra}\r\n{encoded}"
    )


def tnef_object(level: int, name: int, kind: int, data: bytes) -> bytes:
    checksum = struct.pack("<H", sum(data) & 0xFFFF)
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + checksum


def build_tnef(body: bytes, filename: bytes, content: bytes) -> bytes:
    """A minimal TNEF stream as Outlook writes it: version, code page, the message
    body, and one attachment (rendering data, title, data), per MS-OXTNEF."""
    return (
        struct.pack("<IH", 0x223E9F78, 1)
        + tnef_object(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
        + tnef_object(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
        + tnef_object(1, 0x800C, 0x0002, body)  # attBody
        + tnef_object(2, 0x9002, 0x0006, bytes(14))  # attAttachRendData
        + tnef_object(2, 0x8010, 0x0001, filename + b"\0")  # attAttachTitle
        + tnef_object(2, 0x800F, 0x0006, content)  # attAttachData
    )


# --- hopeless input ---------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"  \r\n\r\n  "])
def test_empty_input_is_not_an_email(raw: bytes) -> None:
    with pytest.raises(EmailParseError, match="empty"):
        parse_email(raw)


def test_bytes_without_any_header_are_not_an_email() -> None:
    with pytest.raises(EmailParseError, match="no header"):
        parse_email(b"just some words, no header lines at all")


def test_header_block_without_sender_parses_with_empty_sender() -> None:
    parsed = parse_email(b"X-Thing: y\r\n\r\nhello")
    assert parsed.sender == Address("")
    assert parsed.text == "hello"


# --- bodies -------------------------------------------------------------------------


def test_text_part_is_preferred_over_html() -> None:
    raw = mixed(
        "Content-Type: text/plain\r\n\r\nplain words",
        "Content-Type: text/html\r\n\r\n<p>html words</p>",
        subtype="alternative",
    )
    parsed = parse_email(raw)
    assert parsed.text == "plain words"
    assert parsed.html == "<p>html words</p>"


def test_text_is_derived_from_html_when_there_is_no_text_part() -> None:
    parsed = parse_email(email("<div>one &amp; two</div><p>three<br>four</p>", ctype="text/html"))
    assert parsed.text == "one & two\nthree\nfour"


def test_html_to_text_drops_script_and_style_content() -> None:
    assert html_to_text("<style>p{}</style><p>kept</p><script>gone()</script>") == "kept"


def test_html_goes_through_the_one_sanitizer() -> None:
    markup = '<p onclick="x()">hi</p><a href="javascript:x()">l</a><img src="cid:a@b">'
    parsed = parse_email(email(markup, ctype="text/html"))
    assert parsed.html == sanitize_html(markup)
    assert "onclick" not in parsed.html and "javascript" not in parsed.html


def test_control_characters_and_nul_are_removed_from_text() -> None:
    parsed = parse_email(email(b"a\x00b\x07c\r\nd", ctype="text/plain"))
    assert parsed.text == "abc\nd"


# --- charsets -----------------------------------------------------------------------


def test_declared_charset_that_does_not_fit_falls_back_to_detection() -> None:
    body = "Très déçu, le café était froid et la crème aussi.".encode("latin-1")
    parsed = parse_email(email(body, ctype="text/plain; charset=utf-8"))
    assert "déçu" in parsed.text and "café" in parsed.text


def test_unknown_charset_name_reads_utf8() -> None:
    parsed = parse_email(email("Grüße".encode(), ctype="text/plain; charset=x-nonsense"))
    assert parsed.text == "Grüße"


def test_legacy_charset_label_uses_its_superset() -> None:
    # "鍖" is in GBK but not in GB2312: mail clients label GBK text "gb2312".
    body = "你好鍖".encode("gbk")
    parsed = parse_email(email(body, ctype="text/plain; charset=gb2312"))
    assert parsed.text == "你好鍖"


def test_undecodable_bytes_never_raise() -> None:
    parsed = parse_email(email(bytes(range(128, 256)) * 4, ctype="text/plain; charset=us-ascii"))
    assert parsed.text


# --- attachments --------------------------------------------------------------------


def test_rfc2231_continued_file_name_is_joined_and_decoded() -> None:
    part = (
        "Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
        " filename*0*=utf-8''%C3%A9l%C3%A8ve;\r\n filename*1=\"-notes.pdf\"\r\n\r\nx"
    )
    parsed = parse_email(mixed("Content-Type: text/plain\r\n\r\nbody", part))
    assert [item.filename for item in parsed.attachments] == ["élève-notes.pdf"]


def test_rfc2047_encoded_file_name_is_decoded() -> None:
    part = file_part('"=?utf-8?Q?M=C3=A4rz.pdf?="', b"%PDF")
    assert parse_email(mixed(part)).attachments[0].filename == "März.pdf"


def test_file_name_loses_any_path() -> None:
    part = file_part('"..\\\\..\\\\windows/../../etc/passwd"', b"x")
    assert parse_email(mixed(part)).attachments[0].filename == "passwd"


def test_attachment_without_name_gets_one() -> None:
    part = "Content-Type: application/pdf\r\nContent-Disposition: attachment\r\n\r\n%PDF"
    assert parse_email(mixed(part)).attachments[0].filename == "attachment-1.pdf"


def test_image_referenced_by_cid_is_inline_without_brackets() -> None:
    html = 'Content-Type: text/html\r\n\r\n<img src="cid:logo@x">'
    image = file_part("logo.png", b"png", "Content-ID: < logo@x >\r\n", "image/png")
    item = parse_email(mixed(html, image, subtype="related")).attachments[0]
    assert (item.content_id, item.inline) == ("logo@x", True)


def test_inline_disposition_with_an_id_is_inline() -> None:
    image = (
        "Content-Type: image/png\r\nContent-Disposition: inline\r\nContent-ID: <pic@x>\r\n\r\npng"
    )
    item = parse_email(mixed("Content-Type: text/plain\r\n\r\nhi", image)).attachments[0]
    assert item.inline is True


def test_attachment_with_an_id_nobody_references_is_not_inline() -> None:
    image = file_part("a.png", b"png", "Content-ID: <unused@x>\r\n", "image/png")
    item = parse_email(mixed("Content-Type: text/html\r\n\r\n<p>no image</p>", image))
    assert item.attachments[0].inline is False


def test_file_over_the_size_limit_is_dropped_with_a_notice(settings: Any) -> None:
    settings.HEEDFUL_MAX_ATTACHMENT_BYTES = 2048
    raw = mixed(file_part("big.bin", b"x" * 3072), file_part("ok.txt", b"fine"))
    parsed = parse_email(raw)
    assert [item.filename for item in parsed.attachments] == ["ok.txt"]
    assert "big.bin (3 KB) was not kept: attachments over 2 KB are refused." in parsed.notices


def test_count_limit_keeps_inline_images_first(settings: Any) -> None:
    settings.HEEDFUL_MAX_ATTACHMENTS = 2
    html = 'Content-Type: text/html\r\n\r\n<img src="cid:pic@x">'
    files = [file_part(f"f{index}.txt", b"x") for index in range(3)]
    image = file_part("pic.png", b"png", "Content-ID: <pic@x>\r\n", "image/png")
    parsed = parse_email(mixed(html, *files, image))
    assert [item.filename for item in parsed.attachments] == ["f0.txt", "pic.png"]
    assert "f1.txt was not kept: at most 2 attachments are kept per message." in parsed.notices


def test_tnef_winmail_is_unpacked_into_files_and_body() -> None:
    tnef = build_tnef(b"Body inside.", b"minutes.txt", b"all good")
    part = file_part('"winmail.dat"', tnef, ctype="application/ms-tnef")
    parsed = parse_email(mixed(part))
    assert parsed.text == "Body inside."
    assert [(item.filename, item.content) for item in parsed.attachments] == [
        ("minutes.txt", b"all good")
    ]


def test_unreadable_tnef_is_kept_as_it_is_with_a_notice() -> None:
    parsed = parse_email(mixed(file_part("winmail.dat", b"not tnef", ctype="application/ms-tnef")))
    assert [item.filename for item in parsed.attachments] == ["winmail.dat"]
    assert any("could not be unpacked" in notice for notice in parsed.notices)


def test_forwarded_message_is_kept_whole_as_an_eml_attachment() -> None:
    inner = "From: x@y.test\r\nSubject: Original\r\n\r\nold text"
    parsed = parse_email(
        mixed("Content-Type: text/plain\r\n\r\nFYI", f"Content-Type: message/rfc822\r\n\r\n{inner}")
    )
    item = parsed.attachments[0]
    assert (item.filename, item.content_type) == ("Original.eml", "message/rfc822")
    assert b"old text" in item.content
    assert parsed.text == "FYI"


def test_calendar_invite_is_an_attachment_not_the_text() -> None:
    raw = mixed(
        "Content-Type: text/plain\r\n\r\nInvitation",
        "Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR",
        subtype="alternative",
    )
    parsed = parse_email(raw)
    assert parsed.text == "Invitation"
    assert [item.content_type for item in parsed.attachments] == ["text/calendar"]


# --- structure limits -----------------------------------------------------------------


def _nested(levels: int) -> bytes:
    part = b"Content-Type: text/plain\r\n\r\ndeep"
    for level in range(levels):
        boundary = f"n{level}".encode()
        part = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\r\n\r\n--'
            + boundary
            + b"\r\n"
            + part
            + b"\r\n--"
            + boundary
            + b"--"
        )
    return HEAD.encode() + part


def test_parts_nested_deeper_than_the_cap_are_skipped_with_a_notice() -> None:
    parsed = parse_email(_nested(MAX_DEPTH + 5))
    assert parsed.text == ""
    assert any("nested deeper" in notice for notice in parsed.notices)


def test_more_parts_than_the_cap_are_not_read() -> None:
    parts = [f"Content-Type: text/plain\r\n\r\np{index}" for index in range(MAX_PARTS + 10)]
    parsed = parse_email(mixed(*parts))
    assert "p0" in parsed.text and f"p{MAX_PARTS + 5}" not in parsed.text
    assert any(f"more than {MAX_PARTS} parts" in notice for notice in parsed.notices)


def test_missing_boundary_shows_the_body_as_raw_text() -> None:
    parsed = parse_email(email("--x\r\n\r\nstill here\r\n--x--", ctype="multipart/mixed"))
    assert "still here" in parsed.text
    assert any("boundary was missing" in notice for notice in parsed.notices)


# --- threading headers ----------------------------------------------------------------


def test_message_id_is_normalized() -> None:
    parsed = parse_email(email(headers="Message-ID:  (comment) <abc@host.test>  \r\n"))
    assert parsed.message_id == "<abc@host.test>"


def test_message_id_without_brackets_gets_them() -> None:
    assert (
        parse_email(email(headers="Message-ID: abc@host.test\r\n")).message_id == "<abc@host.test>"
    )


@pytest.mark.parametrize("value", ["no-at-sign", "<" + "a" * 260 + "@x>", ""])
def test_unusable_message_id_is_none(value: str) -> None:
    assert parse_email(email(headers=f"Message-ID: {value}\r\n")).message_id is None


def test_references_tolerate_commas_missing_brackets_and_folding() -> None:
    headers = "References: <a@x>,<b@x>\r\n\t<c@x>\r\nIn-Reply-To: c@x (the last)\r\n"
    parsed = parse_email(email(headers=headers))
    assert parsed.references == ("<a@x>", "<b@x>", "<c@x>")
    assert parsed.in_reply_to == ("<c@x>",)


def test_subject_is_decoded_and_one_line() -> None:
    headers = "Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe=0D=0ABcc:_x@y?=\r\n\tmore\r\n"
    raw = email(headers=headers).replace(b"Subject: Hi\r\n", b"")
    assert parse_email(raw).subject == "Grüße Bcc: x@y more"


# --- senders --------------------------------------------------------------------------


def test_sender_name_is_decoded() -> None:
    raw = email().replace(b"From: Jane", b"From: =?iso-8859-1?Q?J=F6rg?=")
    assert parse_email(raw).sender == Address("jane@customer.test", "Jörg")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("From: nonsense\r\nSender: s@x.test\r\nReply-To: r@x.test\r\n", "s@x.test"),
        ("From: nonsense\r\nReply-To: r@x.test\r\n", "r@x.test"),
        ("From: <>\r\n", ""),
    ],
)
def test_sender_falls_back_to_sender_then_reply_to(headers: str, expected: str) -> None:
    raw = f"{headers}Subject: s\r\n\r\nbody".encode()
    assert parse_email(raw).sender.address == expected


def test_recipients_and_envelope_addresses() -> None:
    headers = (
        "Cc: a@x.test, B <b@x.test>\r\nDelivered-To: help+c1@support.test\r\n"
        "X-Original-To: help@support.test\r\nReply-To: r@x.test\r\n"
    )
    parsed = parse_email(email(headers=headers))
    assert [item.address for item in parsed.cc] == ["a@x.test", "b@x.test"]
    assert parsed.delivered_to == ("help+c1@support.test", "help@support.test")
    assert parsed.reply_to == (Address("r@x.test"),)


# --- automatic mail -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-replied\r\n", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated; owner=x\r\n", "Auto-Submitted: auto-generated"),
        ("Precedence: junk\r\n", "Precedence: junk"),
        ("Precedence: list\r\n", "Precedence: list"),
        ("List-Id: <x.lists.test>\r\n", "List-Id"),
        ("List-Unsubscribe: <mailto:x@y>\r\n", "List-Unsubscribe"),
        ("X-Auto-Response-Suppress: OOF\r\n", "X-Auto-Response-Suppress"),
        ("X-Autoreply: yes\r\n", "X-Autoreply"),
        ("X-Autorespond: yes\r\n", "X-Autorespond"),
        ("Return-Path: < >\r\n", "null sender"),
        ("Return-Path: <postmaster@x.test>\r\n", "mailer-daemon"),
    ],
)
def test_automatic_mail_is_recognized(headers: str, reason: str) -> None:
    assert parse_email(email(headers=headers)).auto_submitted.startswith(reason)


@pytest.mark.parametrize("headers", ["", "Auto-Submitted: no\r\n", "Precedence: first-class\r\n"])
def test_mail_from_a_person_is_not_automatic(headers: str) -> None:
    assert parse_email(email(headers=headers)).auto_submitted == ""


def test_mailer_daemon_sender_is_automatic() -> None:
    raw = email().replace(b"jane@customer.test", b"MAILER-DAEMON@mx.test")
    assert parse_email(raw).auto_submitted == "mailer-daemon"


# --- sender authentication ------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ""),
        (["mx; dmarc=pass; spf=fail"], ""),
        (["mx; spf=pass smtp.mailfrom=x"], ""),
        (["mx; spf=fail; dkim=pass header.d=x"], ""),
        (["mx; spf=fail; dkim=none"], "spf=fail dkim=none"),
        (["mx; dmarc=fail (p=reject) header.from=x; spf=pass"], "dmarc=fail"),
        (["mx; dmarc=none; spf=softfail"], "spf=softfail"),
        (["mx (comment; dmarc=pass); dmarc=fail"], "dmarc=fail"),
        (["mx; none"], ""),
        (["mx; dmarc=fail", "mx; dmarc=pass"], "dmarc=fail"),
        (["mx; dmarc=pass", "mx; dmarc=fail"], ""),
    ],
)
def test_authentication_results(values: list[str], expected: str) -> None:
    assert auth_failed(values) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mx; spf=pass smtp.mailfrom=bounce@mail.customer.test", ""),
        ("mx; dkim=pass header.d=customer.test", ""),
        ("mx; dkim=pass header.d=evil.test", "dkim=pass for another domain than customer.test"),
        (
            "mx; spf=pass smtp.mailfrom=x@evil.test; dkim=pass header.d=evil.test",
            "spf=pass for another domain than customer.test",
        ),
        ("mx; dmarc=pass header.from=customer.test; dkim=pass header.d=evil.test", ""),
    ],
)
def test_without_dmarc_a_pass_counts_only_for_the_from_domain(value: str, expected: str) -> None:
    assert auth_failed([value], from_domain="customer.test") == expected


def test_only_the_top_authentication_results_header_is_trusted() -> None:
    headers = (
        "Authentication-Results: mx.support.test; dmarc=fail\r\n"
        "Authentication-Results: forged; dmarc=pass\r\n"
    )
    assert parse_email(email(headers=headers)).auth_failed == "dmarc=fail"


# --- delivery reports -----------------------------------------------------------------


def _report(action: str, status: str, returned: str, report_type: str = "delivery-status") -> bytes:
    fields = (
        "Reporting-MTA: dns; mx.test\r\n\r\n"
        f"Final-Recipient: rfc822; gone@x.test\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} no such user\r\n"
    )
    body = (
        f"--R\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        f"--R\r\nContent-Type: message/delivery-status\r\n\r\n{fields}\r\n"
        f"--R\r\n{returned}\r\n--R--\r\n"
    )
    ctype = f'multipart/report; report-type={report_type}; boundary="R"'
    return email(body, ctype=ctype)


def test_permanent_bounce_is_parsed() -> None:
    returned = "Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ours-1@support.test>\r\n"
    bounce = parse_email(_report("failed", "5.1.1", returned)).bounce
    assert bounce is not None
    assert bounce.original_message_ids == ("<ours-1@support.test>",)
    assert bounce.recipients == ("gone@x.test",)
    assert (bounce.status, bounce.permanent) == ("5.1.1", True)
    assert bounce.diagnostic == "550 5.1.1 no such user"


def test_delay_report_is_not_permanent() -> None:
    returned = "Content-Type: message/rfc822\r\n\r\nMessage-ID: <ours-2@support.test>\r\n\r\nhi"
    bounce = parse_email(_report("delayed", "4.4.7", returned)).bounce
    assert bounce is not None
    assert bounce.original_message_ids == ("<ours-2@support.test>",)
    assert bounce.permanent is False


def test_other_reports_are_not_bounces() -> None:
    raw = _report(
        "failed", "5.0.0", "Content-Type: text/plain\r\n\r\nx", "disposition-notification"
    )
    assert parse_email(raw).bounce is None


# --- dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 23 Nov 2026 09:15:00 +0100", datetime(2026, 11, 23, 8, 15, tzinfo=UTC)),
        ("23 Nov 2026 09:15:00 -0000", datetime(2026, 11, 23, 9, 15, tzinfo=UTC)),
        ("yesterday-ish", None),
    ],
)
def test_date(value: str, expected: datetime | None) -> None:
    parsed = parse_email(email(headers=f"Date: {value}\r\n"))
    assert parsed.date == expected
    if parsed.date is not None:
        assert parsed.date.utcoffset() is not None


def test_date_keeps_its_offset() -> None:
    parsed = parse_email(email(headers="Date: Mon, 23 Nov 2026 09:15:00 +0530\r\n"))
    assert parsed.date is not None
    assert parsed.date.tzinfo == timezone(timedelta(hours=5, minutes=30))


# --- quoted history and signatures ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Yes.\n\nOn Mon, 1 Jan 2026, Ann <a@x> wrote:\n> q", "Yes."),
        ("Yes.\n\nOn Mon, 1 Jan 2026 at 10:00 Ann <a@x>\nwrote:\n> q", "Yes."),
        ("Ja.\n\nAm 01.01.2026 um 10:00 schrieb Ann <a@x>:\n> q", "Ja."),
        ("Oui.\n\nLe lun. 1 janv. 2026 à 10:00, Ann <a@x> a écrit :\n> q", "Oui."),
        ("Sí.\n\nEl lun, 1 ene 2026 a las 10:00, Ann (<a@x>) escribió:\n> q", "Sí."),
        ("Ok.\n\n-----Original Message-----\nFrom: Ann\nSent: today\n\nq", "Ok."),
        (
            "Ok.\n\n________________________________\nFrom: Ann <a@x>\nSent: Monday\nTo: b\n\nq",
            "Ok.",
        ),
        ("Ok.\n\nFrom: Ann <a@x>\nDate: Monday\nSubject: s\n\nq", "Ok."),
        ("Thanks!\n-- \nAnn\nACME", "Thanks!"),
        ("Done.\n\nSent from my iPhone", "Done."),
        ("Fine.\n\n> earlier\n> text\n", "Fine."),
    ],
)
def test_quoted_history_is_folded(text: str, new: str) -> None:
    folded_new, quoted = split_quoted(text)
    assert folded_new == new
    assert quoted and quoted in text


def test_inline_replies_between_quotes_are_not_folded() -> None:
    text = "> Which size?\nLarge.\n> Which colour?\nBlue."
    assert split_quoted(text) == (text, "")


def test_a_reply_that_is_only_a_quote_stays_whole() -> None:
    text = "On Mon, Ann <a@x> wrote:\n> did it work?"
    assert split_quoted(text) == (text, "")


def test_a_sentence_that_mentions_someone_wrote_is_not_history() -> None:
    text = "On Monday my colleague wrote to you about it.\nPlease check."
    assert split_quoted(text) == (text, "")


def test_parse_email_folds_the_quote_into_quoted_text() -> None:
    parsed = parse_email(email("New.\r\n\r\nOn Mon, Ann <a@x> wrote:\r\n> Old."))
    assert (parsed.text, parsed.quoted_text) == ("New.", "On Mon, Ann <a@x> wrote:\n> Old.")


def test_a_message_that_talks_about_multipart_is_not_a_bomb() -> None:
    parsed = parse_email(email("multipart/mixed and message/rfc822 " * 300))
    assert parsed.notices == ()
    assert parsed.text.startswith("multipart/mixed")


def test_hundreds_of_nested_sections_keep_the_headers_and_raw_body() -> None:
    parsed = parse_email(_nested(400))
    assert parsed.sender.address == "jane@customer.test"
    assert "deep" in parsed.text
    assert any("too many MIME sections" in notice for notice in parsed.notices)


# Inputs that were quadratic before the patterns were bounded: the timeout guards a
# hang (minutes), not a speed target (benchmarks hold those).
@pytest.mark.timeout(30)
def test_a_megabyte_from_without_an_at_sign_is_read_in_linear_time():
    raw = b"From: " + b"a" * 1_000_000 + b"\r\nSubject: s\r\n\r\nbody\r\n"
    assert parse_email(raw).sender.address == ""


@pytest.mark.timeout(30)
def test_megabytes_of_unclosed_tags_are_read_in_linear_time():
    raw = b"From: a@b.test\r\nContent-Type: text/html\r\n\r\n" + b"<br" * 1_000_000
    parse_email(raw)


def test_a_header_block_over_a_megabyte_is_refused():
    raw = b"From: a@b.test\r\n" + b"X-Filler: 0123456789\r\n" * 60_000 + b"\r\nbody\r\n"
    with pytest.raises(EmailParseError, match="header block"):
        parse_email(raw)
