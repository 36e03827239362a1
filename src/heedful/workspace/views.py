"""Agent workspace views: they parse input, call one service, render."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest

from heedful.conversations.access import get_attachment_for


@login_required
def download_attachment(request: HttpRequest, pk: int) -> FileResponse:
    attachment = get_attachment_for(request.user, pk)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
