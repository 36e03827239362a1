"""Read the receiving server's Authentication-Results header (RFC 8601)."""

import re

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
_PASS = {"pass", "bestguesspass"}


_PROPERTY = re.compile(r"\b(header\.d|header\.i|smtp\.mailfrom)\s*=\s*([^\s;]+)", re.IGNORECASE)


def auth_failed(values: list[str], from_domain: str = "") -> str:
    """ "" when the sender passed (or nothing can be said); else what failed.

    Without a DMARC verdict, an SPF or DKIM pass counts only for the From domain
    (or a parent or child of it): a forger passes SPF and DKIM easily for a domain
    of their own. With no `from_domain` given, any pass counts.

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
    passed = [d for method in ("spf", "dkim") for d in _passed_domains(values[0], method)]
    if passed and (not from_domain or any(_aligned(d, from_domain) for d in passed)):
        return ""
    if passed:
        return f"{'spf' if spf else 'dkim'}=pass for another domain than {from_domain}"
    failed = [f"{method}={found[0]}" for method, found in (("spf", spf), ("dkim", dkim)) if found]
    return " ".join(failed)


def _passed_domains(value: str, method: str) -> list[str]:
    """The domains a method passed for ("" when the result names none)."""
    text = _COMMENT.sub(" ", value).partition(";")[2]
    domains = []
    for item in text.split(";"):
        match = _RESULT.search(item)
        if not match or match.group(1).lower() != method or match.group(2).lower() not in _PASS:
            continue
        found = _PROPERTY.findall(item)
        domains.append(found[0][1].rpartition("@")[2].lower().strip(".") if found else "")
    return domains


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment, roughly: the same domain, or one inside the other. A pass
    that names no domain cannot be checked and counts."""
    a, b = domain.lower(), from_domain.lower()
    return not a or a == b or a.endswith("." + b) or b.endswith("." + a)


def _results(value: str) -> dict[str, list[str]]:
    """{"spf": ["pass"], "dkim": ["fail", "pass"], ...} from one header value."""
    text = _COMMENT.sub(" ", value)
    # The first ";"-separated item is the server's id (authserv-id), not a result.
    _, _, rest = text.partition(";")
    found: dict[str, list[str]] = {}
    for method, result in _RESULT.findall(rest):
        found.setdefault(method.lower(), []).append(result.lower())
    return found
