"""The admin's setup form for an email inbox, instead of raw settings JSON.

Settings land in Inbox.settings under the keys EmailSettings.of reads (config.py);
passwords, tokens and webhook secrets go through inboxes.secrets (encrypted with a
key of their own) and are write-only here: a blank field leaves the stored value.
"""

import re
import unicodedata
from typing import Any

from django import forms
from django.core.validators import validate_email

from heedful.inboxes import secrets
from heedful.inboxes.email.config import SECRET_NAMES, EmailSettings, ImapSettings
from heedful.inboxes.models import Inbox

PROVIDER_CHOICES = [
    ("", "None"),
    ("mailgun", "Mailgun"),
    ("postmark", "Postmark"),
    ("sendgrid", "SendGrid"),
    ("amazon_ses", "Amazon SES"),
]
SECURITY_CHOICES = [
    ("ssl", "TLS from the start (SSL)"),
    ("starttls", "STARTTLS"),
    ("none", "None (unencrypted; loopback only)"),
]
SECRET_LABELS = {
    "imap_password": "IMAP password",
    "imap_oauth_token": "IMAP OAuth2 access token",
    "smtp_password": "SMTP password",
    "webhook_secret": "Webhook secret (basic auth)",
    "webhook_signing_key": "Mailgun webhook signing key",
    "provider_api_key": "Provider API key",
}
# The acknowledgment's subject is one header line; its text, a short note.
MAX_SUBJECT = 200
MAX_ACK_TEXT = 5000
PLACEHOLDER_HELP = "{number} becomes the conversation's reference number; nothing else is replaced."
# What reads like a template placeholder ("{ticket}", "{number.x}", "{number[0]}",
# "{ number }", "{number:>5}") is refused: only "{number}" is replaced. Other braces
# ("{Mon-Fri}", "{}") are plain text and stay.
_PLACEHOLDER = re.compile(r"\{\s*[A-Za-z_]\w*(?:\.\w+|\[[^\]{}]*\])*\s*(?:[!:][^{}]*)?\}")
# A marker the setup form always posts, so the admin knows which form a POST came from.
SETUP_MARKER = "email_setup"


def _secret_field(name: str) -> forms.CharField:
    # Write-only: the stored value is never rendered back into the page.
    return forms.CharField(
        required=False,
        strip=False,
        label=SECRET_LABELS[name],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _clear_field(name: str) -> forms.BooleanField:
    return forms.BooleanField(required=False, label=f"Clear the {SECRET_LABELS[name].lower()}")


def _placeholders_checked(value: str) -> str:
    """Sending replaces the literal "{number}" and nothing else (autoreply, outbound):
    another {name} would reach the customer as typed, so it is refused here."""
    unknown = sorted({m for m in _PLACEHOLDER.findall(value) if m != "{number}"})
    if unknown:
        raise forms.ValidationError(
            f"Only {{number}} is replaced; {', '.join(unknown)} would be sent as it is."
        )
    return value


def _email(value: str) -> str:
    """Syntax only, domain lower-cased. Django's validator rather than email-validator:
    an inbox's own addresses may sit in private domains (corp.local, a .test lab) that
    email-validator refuses as special-use."""
    try:
        validate_email(value)
    except forms.ValidationError:
        raise forms.ValidationError(f"{value}: not a valid email address.") from None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class EmailInboxForm(forms.ModelForm):
    email_setup = forms.CharField(widget=forms.HiddenInput, initial="1")
    address = forms.CharField(
        max_length=255, help_text="The address customers write to (the From of replies)."
    )
    aliases = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Other addresses this inbox receives on, one per line.",
    )
    reply_to = forms.CharField(
        required=False, help_text="Reply-To on outbound mail, if not the inbox address."
    )

    imap_host = forms.CharField(required=False, label="IMAP host")
    imap_port = forms.IntegerField(
        required=False, min_value=1, max_value=65535, label="IMAP port", initial=993
    )
    imap_security = forms.ChoiceField(choices=SECURITY_CHOICES, label="IMAP security")
    imap_username = forms.CharField(required=False, label="IMAP username")
    imap_auth = forms.ChoiceField(
        choices=[("password", "Password"), ("oauth2", "OAuth2 access token (XOAUTH2)")],
        label="IMAP sign-in",
        help_text="Microsoft 365 and Google accounts need an OAuth2 token.",
    )
    imap_folder = forms.CharField(required=False, label="IMAP folder", initial="INBOX")
    imap_after = forms.ChoiceField(
        choices=[
            ("seen", "Mark it seen"),
            ("move", "Move it to a folder"),
            ("leave", "Leave it as it is"),
        ],
        label="After import",
        help_text="Done on the server only after the message is stored here.",
    )
    imap_move_to = forms.CharField(required=False, label="Move to folder", initial="Processed")
    imap_verify_tls = forms.BooleanField(
        required=False,
        initial=True,
        label="Verify the IMAP server's certificate",
        help_text="Turn off only for a test server with a self-signed certificate.",
    )
    imap_idle = forms.BooleanField(
        required=False, initial=True, label="Use IMAP IDLE where the server offers it"
    )
    imap_poll_seconds = forms.IntegerField(
        required=False, min_value=10, max_value=86400, initial=60, label="Poll every (seconds)"
    )

    outbound = forms.ChoiceField(
        choices=[
            ("default", "The site's default mail server"),
            ("smtp", "This inbox's SMTP server"),
            ("provider", "The provider below (API)"),
        ],
        label="Replies leave through",
    )
    smtp_host = forms.CharField(required=False, label="SMTP host")
    smtp_port = forms.IntegerField(
        required=False, min_value=1, max_value=65535, label="SMTP port", initial=587
    )
    smtp_security = forms.ChoiceField(choices=SECURITY_CHOICES, label="SMTP security")
    smtp_username = forms.CharField(required=False, label="SMTP username")

    provider = forms.ChoiceField(
        choices=PROVIDER_CHOICES,
        required=False,
        help_text="For inbound webhooks and/or outbound mail through the provider's API.",
    )

    auto_ack = forms.BooleanField(required=False, label="Send an automatic acknowledgment")
    auto_ack_subject = forms.CharField(
        required=False,
        max_length=MAX_SUBJECT,
        label="Acknowledgment subject",
        help_text=f"One line. {PLACEHOLDER_HELP} The reference [#number] is added when absent.",
    )
    auto_ack_text = forms.CharField(
        required=False,
        max_length=MAX_ACK_TEXT,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Acknowledgment text",
        help_text=PLACEHOLDER_HELP,
    )
    quote_history = forms.BooleanField(
        required=False, label="Quote the customer's last message in replies"
    )

    imap_password = _secret_field("imap_password")
    imap_password_clear = _clear_field("imap_password")
    imap_oauth_token = _secret_field("imap_oauth_token")
    imap_oauth_token_clear = _clear_field("imap_oauth_token")
    smtp_password = _secret_field("smtp_password")
    smtp_password_clear = _clear_field("smtp_password")
    webhook_secret = _secret_field("webhook_secret")
    webhook_secret_clear = _clear_field("webhook_secret")
    webhook_signing_key = _secret_field("webhook_signing_key")
    webhook_signing_key_clear = _clear_field("webhook_signing_key")
    provider_api_key = _secret_field("provider_api_key")
    provider_api_key_clear = _clear_field("provider_api_key")

    class Meta:
        model = Inbox
        fields = ["name", "address", "team", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._show_secret_status()
        if self.instance.pk:
            self._load_settings(EmailSettings.of(self.instance))
        else:
            self._load_settings(EmailSettings())

    # --- showing ------------------------------------------------------------------

    def _show_secret_status(self) -> None:
        status = self._secret_status()
        for name in SECRET_NAMES:
            if name in self.fields:
                self.fields[name].help_text = f"Currently {status[name]}. Leave blank to keep it."

    def _secret_status(self) -> dict[str, str]:
        try:
            stored = secrets.decrypt(self.instance.secrets_encrypted)
        except secrets.SecretsUnreadable:
            self.secrets_unreadable = True
            return dict.fromkeys(SECRET_NAMES, "unreadable (the secrets key is missing)")
        self.secrets_unreadable = False
        return {name: "set" if stored.get(name) else "not set" for name in SECRET_NAMES}

    def _load_settings(self, config: EmailSettings) -> None:
        imap, smtp = config.imap, config.smtp
        values: dict[str, Any] = {
            "aliases": "\n".join(config.aliases),
            "reply_to": config.reply_to,
            "imap_host": imap.host,
            "imap_port": imap.port,
            "imap_security": imap.security,
            "imap_username": imap.username,
            "imap_auth": imap.auth,
            "imap_folder": imap.folder,
            "imap_after": imap.after,
            "imap_move_to": imap.move_to,
            "imap_verify_tls": imap.verify_tls,
            "imap_idle": imap.idle,
            "imap_poll_seconds": imap.poll_seconds,
            "outbound": config.outbound,
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_security": smtp.security,
            "smtp_username": smtp.username,
            "provider": config.provider,
            "auto_ack": config.auto_ack,
            "auto_ack_subject": config.auto_ack_subject,
            "auto_ack_text": config.auto_ack_text,
            "quote_history": config.quote_history,
        }
        for name, value in values.items():
            self.initial.setdefault(name, value)

    # --- validating ---------------------------------------------------------------

    def clean_address(self) -> str:
        return _email(self.cleaned_data["address"].strip())

    def clean_reply_to(self) -> str:
        value = self.cleaned_data["reply_to"].strip()
        return _email(value) if value else ""

    def clean_aliases(self) -> list[str]:
        found: list[str] = []
        errors: list[forms.ValidationError] = []
        for line in self.cleaned_data["aliases"].splitlines():
            if not line.strip():
                continue
            try:
                found.append(_email(line.strip()))
            except forms.ValidationError as exc:
                errors.append(exc)
        if errors:
            raise forms.ValidationError(errors)
        return list(dict.fromkeys(found))

    def clean_auto_ack_subject(self) -> str:
        subject = self.cleaned_data["auto_ack_subject"]
        if any(unicodedata.category(c) == "Cc" for c in subject):
            raise forms.ValidationError("The subject must be one line, without control characters.")
        return _placeholders_checked(subject)

    def clean_auto_ack_text(self) -> str:
        return _placeholders_checked(self.cleaned_data["auto_ack_text"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        address = str(data.get("address", "")).lower()
        if address and address in [a.lower() for a in data.get("aliases", [])]:
            self.add_error("aliases", "The inbox address itself need not be an alias.")
        if data.get("imap_host") and not data.get("imap_username"):
            self.add_error("imap_username", "A mailbox needs a username.")
        if data.get("imap_after") == "move" and not data.get("imap_move_to"):
            self.add_error("imap_move_to", "Name the folder to move imported messages to.")
        if data.get("outbound") == "smtp" and not data.get("smtp_host"):
            self.add_error("smtp_host", "Replies through this inbox's SMTP server need a host.")
        for kind in ("imap", "smtp"):
            # A password in clear text may only cross this machine's loopback.
            host = str(data.get(f"{kind}_host") or "").strip().lower()
            if data.get(f"{kind}_security") == "none" and host and host not in LOOPBACK:
                self.add_error(
                    f"{kind}_security",
                    f"No encryption is allowed only for a server on this machine "
                    f"({', '.join(sorted(LOOPBACK))}); {host} needs TLS or STARTTLS.",
                )
        if data.get("outbound") == "provider" and not data.get("provider"):
            self.add_error("provider", "Replies through a provider need the provider chosen.")
        ack_complete = data.get("auto_ack_subject") and data.get("auto_ack_text")
        if data.get("auto_ack") and not ack_complete:
            self.add_error("auto_ack_text", "An acknowledgment needs a subject and a text.")
        for name in SECRET_NAMES:
            if data.get(name) and data.get(f"{name}_clear"):
                self.add_error(f"{name}_clear", "Either type a new value or clear it, not both.")
        return data

    # --- saving -------------------------------------------------------------------

    def settings_json(self) -> dict[str, Any]:
        data = self.cleaned_data
        defaults = ImapSettings()
        kept = dict(self.instance.settings) if isinstance(self.instance.settings, dict) else {}
        kept.update(
            {
                "imap": {
                    "host": data["imap_host"].strip(),
                    "port": data["imap_port"] or defaults.port,
                    "security": data["imap_security"],
                    "username": data["imap_username"].strip(),
                    "auth": data["imap_auth"],
                    "folder": data["imap_folder"].strip() or defaults.folder,
                    "after": data["imap_after"],
                    "move_to": data["imap_move_to"].strip() or defaults.move_to,
                    "verify_tls": data["imap_verify_tls"],
                    "idle": data["imap_idle"],
                    "poll_seconds": data["imap_poll_seconds"] or defaults.poll_seconds,
                },
                "smtp": {
                    "host": data["smtp_host"].strip(),
                    "port": data["smtp_port"] or 587,
                    "security": data["smtp_security"],
                    "username": data["smtp_username"].strip(),
                },
                "outbound": data["outbound"],
                "provider": data["provider"],
                "aliases": data["aliases"],
                "reply_to": data["reply_to"],
                "auto_ack": data["auto_ack"],
                "auto_ack_subject": data["auto_ack_subject"].strip(),
                "auto_ack_text": data["auto_ack_text"],
                "quote_history": data["quote_history"],
            }
        )
        return kept

    def secret_changes(self) -> dict[str, str | None]:
        """Only what the admin typed or cleared: blank fields keep the stored value."""
        changes: dict[str, str | None] = {}
        for name in SECRET_NAMES:
            if self.cleaned_data.get(f"{name}_clear"):
                changes[name] = None
            elif self.cleaned_data.get(name):
                changes[name] = self.cleaned_data[name]
        return changes

    def save(self, commit: bool = True) -> Inbox:
        inbox = super().save(commit=False)
        inbox.kind = "email"
        inbox.settings = self.settings_json()
        changes = self.secret_changes()
        if changes:
            if self.secrets_unreadable:
                # The old values cannot be read back with this key; what the admin types
                # now replaces them all rather than failing on every save.
                inbox.secrets_encrypted = ""
            secrets.set_secrets(inbox, **changes)
        if commit:
            inbox.save()
        return inbox
