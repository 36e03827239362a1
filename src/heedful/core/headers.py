"""A Content-Security-Policy for the agent workspace.

Customer HTML is sanitized (nh3) but may still carry <img src="https://...">: a
tracking pixel would tell its sender which agent read the message, from where and
when. The workspace only ever shows its own images and inline data, so remote
images are refused by the browser until a "load images" action exists (the email
channel brings it). Scripts are not restricted here: the pages use inline handlers.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

WORKSPACE_POLICY = "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'"


class WorkspaceContentPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/app/") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = WORKSPACE_POLICY
        return response
