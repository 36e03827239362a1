"""What must hold for each message of the hostile corpus (tests/test_email_corpus.py).

Keys, all optional except "outcome":
  outcome           "conversation", "quarantined" (end to end) or "bounce" (parse level only;
                    bounce handling is tested with its own module)
  text_contains     str or list of str in ParsedEmail.text; text_not_contains likewise
  text_empty        True when text must be ""
  quoted            True/False: whether anything was folded into quoted_text
  quoted_contains   str in quoted_text
  html_contains     str or list in the sanitized html; html_empty: True
  attachments       number of attachments kept; attachment_names: their file names
  inline            content ids of attachments that must be inline
  auto              False for a person's mail, or a substring of auto_submitted
  auth_failed       the expected auth_failed value
  bounce_status, bounce_permanent, bounce_ids   the Bounce's fields
  message_id        expected message_id (None for none); in_reply_to: tuple; references: count
  subject, subject_contains, subject_max
  sender, sender_name   the chosen sender address and decoded name
  to, cc            number of To and Cc addresses
  date              False when Date must be None
  notice            substring of one of the notices
  reason_contains   substring of the quarantine reason
  generator         a name in GENERATORS: the bytes are built by the test, not read from a file

Every message also must come out with no <script, no on...= attribute and no
javascript: URL in its html (checked for all, whatever the entry says).
"""

_MB = 1024 * 1024


def oversized_attachment() -> bytes:
    """A message with an 11 MB attachment (over the 10 MB default) and a small one."""
    import base64

    big = base64.encodebytes(b"\0" * (11 * _MB))
    return (
        b"From: Jane Customer <jane@customer.test>\r\n"
        b"To: help@support.test\r\n"
        b"Subject: Big file\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        b"Message-ID: <oversized@customer.test>\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe big file is attached.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="report.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + big + b"\r\n"
        b"--b\r\nContent-Type: text/plain\r\n"
        b'Content-Disposition: attachment; filename="small.txt"\r\n\r\n'
        b"small\r\n--b--\r\n"
    )


GENERATORS = {"oversized_attachment": oversized_attachment}

_NO_ACTIVE = ["<script", "javascript:", "onerror", "onload", "onclick"]

EXPECTED: dict[str, dict[str, object]] = {
    # --- bodies and charsets ---
    "plain_text.eml": {
        "outcome": "conversation",
        "text_contains": "my order #4711 has not arrived",
        "html_empty": True,
        "quoted": False,
        "auto": False,
        "auth_failed": "",
        "sender": "jane@customer.test",
        "sender_name": "Jane Customer",
        "message_id": "<plain-text@customer.test>",
    },
    "html_only.eml": {
        "outcome": "conversation",
        "text_contains": ["Hello from HTML only & nothing else.", "Second paragraph"],
        "text_not_contains": ["<b>", "p{color"],
        "html_contains": "<b>HTML</b>",
    },
    "multipart_alternative.eml": {
        "outcome": "conversation",
        "text_contains": "Plain version of the question.",
        "text_not_contains": "enriched",
        "html_contains": "HTML version",
        "attachments": 0,
    },
    "latin1_declared_utf8.eml": {
        "outcome": "conversation",
        "text_contains": ["café crème", "très déçu", "qualité"],
    },
    "unknown_charset.eml": {"outcome": "conversation", "text_contains": "Grüße aus München"},
    "no_charset_8bit.eml": {"outcome": "conversation", "text_contains": "Grüße aus Köln"},
    "gb2312_body.eml": {"outcome": "conversation", "text_contains": "我的订单还没有到"},
    "shift_jis_body.eml": {"outcome": "conversation", "text_contains": "注文した商品"},
    "koi8r_body.eml": {"outcome": "conversation", "text_contains": "Мой заказ"},
    "utf8_headers_8bit.eml": {
        "outcome": "conversation",
        "sender_name": "Zoë Ångström",
        "subject": "Frage zur Rücksendung",
    },
    "bare_lf_line_endings.eml": {"outcome": "conversation", "text_contains": "Unix line endings"},
    "empty_body.eml": {"outcome": "conversation", "text_empty": True, "attachments": 0},
    # --- broken MIME ---
    "missing_boundary.eml": {
        "outcome": "conversation",
        "text_contains": "The body text survives without a boundary.",
        "notice": "boundary was missing",
    },
    "boundary_never_closed.eml": {
        "outcome": "conversation",
        "text_contains": "The closing boundary never comes.",
        "attachment_names": ["invoice.pdf"],
    },
    "nested_10_levels.eml": {"outcome": "conversation", "text_contains": "Deep inside ten levels."},
    "mime_bomb_nesting.eml": {
        "outcome": "conversation",
        "text_contains": "Deep.",
        "notice": "too many MIME sections",
    },
    "base64_garbage.eml": {
        "outcome": "conversation",
        "text_contains": "Hello garbage",
        "attachment_names": ["broken.png"],
    },
    "qp_broken.eml": {"outcome": "conversation", "text_contains": ["Café", "soft break"]},
    "huge_header_count.eml": {"outcome": "conversation", "text_contains": "Many headers above."},
    # --- attachments ---
    "rfc2231_filename.eml": {
        "outcome": "conversation",
        "attachment_names": ["Rapport élève-final.pdf"],
    },
    "rfc2047_filename.eml": {"outcome": "conversation", "attachment_names": ["Rechnung März.pdf"]},
    "tnef_winmail.eml": {
        "outcome": "conversation",
        "text_contains": "Body from inside the TNEF stream.",
        "attachment_names": ["minutes.txt"],
    },
    "tnef_broken.eml": {
        "outcome": "conversation",
        "text_contains": "Outlook sent this.",
        "attachment_names": ["winmail.dat"],
        "notice": "could not be unpacked",
    },
    "inline_cid_image.eml": {
        "outcome": "conversation",
        "text_contains": "Here is the damage",
        "html_contains": 'src="cid:photo1@customer.test"',
        "attachment_names": ["damage.png"],
        "inline": ["photo1@customer.test"],
    },
    "six_attachments.eml": {
        "outcome": "conversation",
        "attachments": 5,
        "attachment_names": ["file1.csv", "file2.csv", "file3.csv", "file4.csv", "file5.csv"],
        "notice": "file6.csv was not kept: at most 5 attachments",
    },
    "oversized_attachment (generated)": {
        "generator": "oversized_attachment",
        "outcome": "conversation",
        "text_contains": "The big file is attached.",
        "attachment_names": ["small.txt"],
        "notice": "report.pdf (11 MB) was not kept: attachments over 10 MB are refused",
    },
    "forwarded_rfc822.eml": {
        "outcome": "conversation",
        "text_contains": "Forwarding the message",
        "attachment_names": ["Your parcel is delayed.eml"],
    },
    "only_attachment.eml": {
        "outcome": "conversation",
        "text_empty": True,
        "attachment_names": ["scan.pdf"],
    },
    "calendar_invite.eml": {
        "outcome": "conversation",
        "text_contains": "You are invited",
        "attachments": 1,
        "attachment_names": ["attachment-1.ics"],
    },
    # --- hostile HTML ---
    "remote_image.eml": {
        "outcome": "conversation",
        "html_contains": 'src="https://tracker.example/pixel.gif',
    },
    "script_tag.eml": {
        "outcome": "conversation",
        "text_contains": ["Hi there", "Bye"],
        "text_not_contains": "alert",
        "html_contains": "<p>Bye</p>",
    },
    "onerror_attr.eml": {"outcome": "conversation", "text_contains": "Click"},
    "javascript_links.eml": {
        "outcome": "conversation",
        "text_contains": "one two three four five",
        "no_html": [*_NO_ACTIVE, "data:text/html"],
    },
    "iframe_form.eml": {
        "outcome": "conversation",
        "text_contains": "Verify your account",
        "no_html": ["<iframe", "<form", "<input", "<object", "<embed", "evil.example"],
    },
    "css_expression.eml": {
        "outcome": "conversation",
        "text_contains": "Styled",
        "no_html": ["expression(", "style=", "behavior", "-moz-binding"],
    },
    "html_entities_xss.eml": {
        "outcome": "conversation",
        "text_contains": "<script>alert(1)</script> is text",  # shown as text, never run
        "no_html": [*_NO_ACTIVE, "xlink:href", "<svg", "<math"],
    },
    # --- headers ---
    "header_injection_subject.eml": {
        "outcome": "conversation",
        "subject": "Hello Bcc: victim@evil.test body",
    },
    "many_recipients.eml": {"outcome": "conversation", "to": 500, "cc": 0},
    "huge_subject.eml": {
        "outcome": "conversation",
        "subject_contains": "Please help very",
        "subject_max": 255,
    },
    "no_message_id.eml": {"outcome": "conversation", "message_id": None},
    "message_id_no_brackets.eml": {
        "outcome": "conversation",
        "message_id": "<bare-id-123@customer.test>",
    },
    "references_50.eml": {
        "outcome": "conversation",
        "references": 50,
        "in_reply_to": ("<ref49@thread.test>",),
    },
    "bad_date.eml": {"outcome": "conversation", "date": False},
    "from_rfc2047_name.eml": {
        "outcome": "conversation",
        "sender": "joerg@customer.test",
        "sender_name": "Jörg Müller",
    },
    "from_missing.eml": {"outcome": "quarantined", "reason_contains": "no sender"},
    "junk_from_uses_sender.eml": {
        "outcome": "conversation",
        "sender": "real@customer.test",
        "date": False,
    },
    # --- automatic mail ---
    "null_sender.eml": {"outcome": "conversation", "auto": "null sender"},
    "mailer_daemon.eml": {"outcome": "conversation", "auto": "mailer-daemon"},
    "auto_replied.eml": {"outcome": "conversation", "auto": "Auto-Submitted: auto-replied"},
    "precedence_bulk.eml": {"outcome": "conversation", "auto": "Precedence: bulk"},
    "list_id.eml": {"outcome": "conversation", "auto": "List-Id"},
    "x_auto_response_suppress.eml": {"outcome": "conversation", "auto": "X-Auto-Response-Suppress"},
    # --- delivery reports ---
    "dsn_511.eml": {
        "outcome": "bounce",
        "auto": "Auto-Submitted",
        "bounce_status": "5.1.1",
        "bounce_permanent": True,
        "bounce_ids": ("<reply-42@support.test>",),
    },
    "dsn_delay.eml": {
        "outcome": "bounce",
        "bounce_status": "4.4.7",
        "bounce_permanent": False,
        "bounce_ids": ("<reply-43@support.test>",),
    },
    # --- sender authentication ---
    "auth_dmarc_fail.eml": {"outcome": "conversation", "auth_failed": "dmarc=fail"},
    "auth_spf_dkim_pass.eml": {"outcome": "conversation", "auth_failed": ""},
    "auth_two_headers_lower_lies.eml": {"outcome": "conversation", "auth_failed": "dmarc=fail"},
    # --- quoted history and signatures ---
    "outlook_quoted.eml": {
        "outcome": "conversation",
        "text_contains": "Thanks, that solved it.",
        "text_not_contains": "restart the router",
        "quoted_contains": "Please restart the router.",
    },
    "gmail_quoted.eml": {
        "outcome": "conversation",
        "text_contains": "Yes, please send a replacement.",
        "text_not_contains": "Shall we",
        "quoted_contains": "> Shall we send a replacement?",
        "in_reply_to": ("<reply-2@support.test>",),
        "references": 2,
    },
    "german_quoted.eml": {
        "outcome": "conversation",
        "text_contains": "Vielen Dank",
        "text_not_contains": "Router",
        "quoted_contains": "schrieb Support",
    },
    "french_quoted.eml": {
        "outcome": "conversation",
        "text_contains": "Merci, c'est réglé.",
        "quoted_contains": "a écrit",
    },
    "signature.eml": {
        "outcome": "conversation",
        "text_contains": "The parcel arrived today",
        "text_not_contains": "ACME Corp",
        "quoted_contains": "ACME Corp",
    },
    "sent_from_iphone.eml": {
        "outcome": "conversation",
        "text_contains": "Works now.",
        "text_not_contains": "iPhone",
        "quoted_contains": "Try again.",
    },
    "only_quote.eml": {
        "outcome": "conversation",
        "text_contains": "> Did this help?",
        "quoted": False,
    },
}
