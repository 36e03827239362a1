"""Agent workspace views: they parse input, call one service, render."""

import logging

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.urls import path

from heedful.conversations.access import get_attachment_for

log = logging.getLogger(__name__)


@login_required
def download_attachment(request: HttpRequest, pk: int) -> FileResponse:
    attachment = get_attachment_for(request.user, pk)
    try:
        handle = attachment.file.open("rb")
    except OSError:
        log.error("attachment %s is missing from storage (%s)", pk, attachment.file.name)
        raise Http404("This attachment's file is missing.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


urlpatterns = [path("attachments/<int:pk>/", download_attachment, name="attachment")]
