"""Read the receiving server's Authentication-Results header (RFC 8601)."""

import re

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
_PASS = {"pass", "bestguesspass"}


def auth_failed(values: list[str]) -> str:
    """ "" when the sender passed (or nothing can be said); else what failed.

    Only the first (top-most) header is read. Each server prepends its own, so the
    first one was written by the server that received the message for us; every
    header below it arrived inside the message and anyone can write those. A
    sender who adds "dmarc=pass" to a forged message must not be believed.
    """
    if not values:
        return ""
    results = _results(values[0])
    dmarc = results.get("dmarc", [])
    # dmarc=none means the domain publishes no policy: fall back to SPF and DKIM.
    dmarc = [value for value in dmarc if value != "none"]
    if dmarc:
        return "" if any(value in _PASS for value in dmarc) else f"dmarc={dmarc[0]}"
    spf, dkim = results.get("spf", []), results.get("dkim", [])
    if any(value in _PASS for value in (*spf, *dkim)):
        return ""
    failed = [f"{method}={found[0]}" for method, found in (("spf", spf), ("dkim", dkim)) if found]
    return " ".join(failed)


def _results(value: str) -> dict[str, list[str]]:
    """{"spf": ["pass"], "dkim": ["fail", "pass"], ...} from one header value."""
    text = _COMMENT.sub(" ", value)
    # The first ";"-separated item is the server's id (authserv-id), not a result.
    _, _, rest = text.partition(";")
    found: dict[str, list[str]] = {}
    for method, result in _RESULT.findall(rest):
        found.setdefault(method.lower(), []).append(result.lower())
    return found
