"""Survey link tokens: random, shown once in the link, stored only as a SHA-256.

The look-up is an equality match on the digest, so no comparison of secret
material happens in Python (nothing to time), and a copy of the database
holds nothing that answers a survey.
"""

import hashlib
import secrets

# secrets.token_urlsafe(32) gives 43 characters; anything far longer is not ours.
MAX_TOKEN_LENGTH = 64


def new_token() -> tuple[str, str]:
    """(token for the link, digest to store)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def plausible(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_LENGTH
