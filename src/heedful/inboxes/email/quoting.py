"""Fold quoted history and signatures away from the new part of a reply.

The folded text is kept (Message.quoted_text), so nothing is lost when a rule
guesses wrong; the agent can unfold it. One regular expression finds where history
starts, scanning the text once: replies can be long and this runs on every message.
"""

import re

_KEYWORDS = (
    r"On\b{prefix}\bwrote"  # English (Gmail, Apple Mail, Thunderbird)
    r"|Am\b{prefix}\bschrieb\b[^\n]{{0,200}}"  # German
    r"|Le\b{prefix}\ba\s+écrit"  # French
    r"|El\b{prefix}\bescribió"  # Spanish
    r"|Op\b{prefix}\bschreef\b[^\n]{{0,200}}"  # Dutch
    r"|Il\b{prefix}\bha\s+scritto"  # Italian
)
# A client may wrap the attribution ("On <date>, <name> wrote:") over two lines.
_PREFIX = r"[^\n]{0,400}(?:\n[^\n]{0,400})?"
_HISTORY = re.compile(
    r"^(?:"
    # "-- " signature delimiter (many clients drop the space), phone footers
    r"(?:--\x20?|Sent\x20from\x20my\x20[^\n]{1,60}|Get\x20Outlook\x20for\x20\w+)[ \t]*$"
    # "-----Original Message-----" and its translations
    r"|[ \t]*-{2,}[ \t]*(?:Original\x20Message|Ursprüngliche\x20Nachricht"
    r"|Message\x20d'origine|Mensaje\x20original|Forwarded\x20message)[ \t]*-{2,}[ \t]*$"
    # attributions
    r"|[ \t]*(?:" + _KEYWORDS.format(prefix=_PREFIX) + r")[ \t]*:[ \t]*$"
    # Outlook's header block: "From: ..." and, within the next lines, "Sent: ..."
    r"|[ \t]*\*?(?:From|Von|De)[ \t]*:\*?[ \t][^\n]*\n(?:[^\n]*\n){0,3}?"
    r"[ \t]*\*?(?:Sent|Date|Gesendet|Datum|Envoyé)[ \t]*:"
    r")",
    re.MULTILINE | re.IGNORECASE,
)
# Outlook puts a line of underscores above its header block.
_UNDERSCORES = re.compile(r"[ \t]*_{10,}[ \t]*")


def split_quoted(text: str) -> tuple[str, str]:
    """(new part, folded part). Folding never leaves the new part empty: a reply
    that is nothing but a quote stays whole."""
    cut = _history_start(text)
    if cut is None:
        return text, ""
    new = text[:cut].rstrip()
    if not new.strip():
        return text, ""
    return new, text[cut:].strip("\n")


def _history_start(text: str) -> int | None:
    match = _HISTORY.search(text)
    if match is None:
        return _trailing_quote(text)
    before = text[: match.start()].rstrip()
    line_start = before.rfind("\n") + 1
    if _UNDERSCORES.fullmatch(before[line_start:]):
        return line_start
    return match.start()


def _trailing_quote(text: str) -> int | None:
    """Offset of the block of ">" lines (and blank lines) that ends the message."""
    lines = text.split("\n")
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and (lines[start - 1].lstrip().startswith(">") or not lines[start - 1].strip()):
        start -= 1
    while start < end and not lines[start].strip():
        start += 1
    if start >= end:
        return None
    return sum(len(line) + 1 for line in lines[:start])
