"""An email inbox's settings, read from Inbox.settings (JSON) with defaults.

Secrets never live here: they are in Inbox.secrets_encrypted (inboxes.secrets),
under the names in SECRET_NAMES.
"""

from dataclasses import dataclass, field
from typing import Any

from heedful.inboxes.models import Inbox

SECRET_NAMES = (
    "imap_password",
    "imap_oauth_token",  # OAuth2 bearer token (Microsoft 365, Google): XOAUTH2
    "smtp_password",
    "webhook_secret",  # basic-auth password on the inbound webhook URL
    "webhook_signing_key",  # Mailgun's HTTP webhook signing key
    "provider_api_key",  # the outbound provider's API key (anymail)
)


@dataclass(frozen=True)
class ImapSettings:
    host: str = ""
    port: int = 993
    security: str = "ssl"  # ssl | starttls | none
    username: str = ""
    auth: str = "password"  # password | oauth2
    folder: str = "INBOX"
    after: str = "seen"  # seen | move | leave
    move_to: str = "Processed"
    idle: bool = True  # use IDLE where the server offers it
    # Off only for a self-signed server on a network you trust (a test server).
    verify_tls: bool = True
    poll_seconds: int = 60

    @property
    def configured(self) -> bool:
        return bool(self.host and self.username)


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    username: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class EmailSettings:
    imap: ImapSettings = field(default_factory=ImapSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    # How replies leave: "default" (the site's EMAIL_URL), "smtp" (this inbox's
    # server above) or "provider" (django-anymail, `provider`).
    outbound: str = "default"
    # The anymail ESP for outbound and/or inbound webhooks:
    # mailgun | postmark | sendgrid | amazon_ses ("" for none).
    provider: str = ""
    # Other addresses this inbox receives on (sales@, billing@).
    aliases: tuple[str, ...] = ()
    reply_to: str = ""  # a Reply-To for outbound mail, if not the inbox address
    auto_ack: bool = False
    auto_ack_subject: str = "We received your message"
    auto_ack_text: str = (
        "Hello,\n\nThanks for writing to us. We have your message and will answer "
        "as soon as we can. Your reference is #{number}.\n"
    )
    quote_history: bool = True  # include the customer's last message, quoted, in replies

    @classmethod
    def of(cls, inbox: Inbox) -> "EmailSettings":
        raw: dict[str, Any] = inbox.settings if isinstance(inbox.settings, dict) else {}
        imap = _pick(ImapSettings, raw.get("imap"))
        smtp = _pick(SmtpSettings, raw.get("smtp"))
        rest = {k: v for k, v in raw.items() if k not in ("imap", "smtp")}
        values = _filter(cls, rest)
        if "aliases" in values:
            values["aliases"] = tuple(str(a).strip() for a in values["aliases"] if str(a).strip())
        return cls(imap=imap, smtp=smtp, **values)

    def addresses(self, inbox: Inbox) -> tuple[str, ...]:
        """Every address this inbox receives on, lower case."""
        # The Reply-To too: a customer's "reply all" must not make it a participant.
        found = [inbox.address, *self.aliases, self.reply_to]
        return tuple(dict.fromkeys(a.strip().lower() for a in found if a and a.strip()))


def _filter(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    names = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    return {k: v for k, v in values.items() if k in names and k not in ("imap", "smtp")}


def _pick(cls: type, values: object) -> Any:
    if not isinstance(values, dict):
        return cls()
    kept = _filter(cls, values)
    for name in ("port", "poll_seconds"):
        if name in kept:
            try:
                kept[name] = int(kept[name])
            except (TypeError, ValueError):
                kept.pop(name)
    for name in ("idle", "verify_tls"):
        # JSON typed in the admin may say "false": a non-empty string is not true.
        if isinstance(kept.get(name), str):
            kept[name] = kept[name].strip().lower() not in {"0", "false", "no", "off", ""}
    return cls(**kept)
