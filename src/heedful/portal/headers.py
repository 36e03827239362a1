"""The headers every public page (help center, contact form, portal) carries."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

# Public pages load only our own scripts and styles (the theme's colours are one inline
# <style>); article images may be remote (writers link them); nothing may frame the
# pages; forms post only to us.
PUBLIC_POLICY = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Files are shown, never run: no script, no styles, no frames, even if opened directly.
FILE_POLICY = "default-src 'none'; img-src 'self'; sandbox"

View = Callable[..., HttpResponse]


def public_page(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", PUBLIC_POLICY)
        response["X-Frame-Options"] = "DENY"
        return response

    return wrapped
