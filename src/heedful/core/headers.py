"""Content-Security-Policies for the agent workspace.

Customer HTML is sanitized (nh3) but may still carry <img src="https://...">: a
tracking pixel would tell its sender which agent read the message, from where and
when. The workspace pages only ever show their own images and inline data, so the
browser refuses remote images there. An email's HTML is shown in a sandboxed frame
served with a policy of its own (`formatted_message_policy`), which lets remote
images through only when the agent pressed "Load remote images". Scripts are not
restricted on the workspace pages: they use inline handlers.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

WORKSPACE_POLICY = "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'"

# Nothing runs and nothing is fetched but inline data (cid: images are embedded as
# data: URLs) and our own files; only the workspace may frame it. The sandbox
# directive keeps the document sandboxed even when opened outside its frame.
_FORMATTED_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:{remote}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)


def formatted_message_policy(*, remote_images: bool) -> str:
    return _FORMATTED_POLICY.format(remote=" http: https:" if remote_images else "")


class WorkspaceContentPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/app/") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = WORKSPACE_POLICY
        return response
