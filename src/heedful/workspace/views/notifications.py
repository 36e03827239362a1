"""The signed-in agent's notifications: mentions and hand-overs, newest first.

Every query here is filtered on the signed-in agent, so nobody reads another's.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from heedful.accounts.models import Notification, User
from heedful.accounts.notifications import mark_read
from heedful.core.parsing import parse_id

PAGE_SIZE = 50


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    rows = (
        Notification.objects.filter(user=user)
        .select_related("actor")
        .only(
            "kind",
            "text",
            "created_at",
            "read_at",
            "conversation_id",
            "actor__name",
            "actor__email",
        )
        .order_by("-created_at", "-pk")
    )
    before = parse_id(request.GET.get("before", ""))
    if before is not None:
        # Keyset: the cursor row's time comes from a subquery, so a page stays one query.
        cursor = Notification.objects.filter(user=user, pk=before).values("created_at")[:1]
        rows = rows.filter(
            Q(created_at__lt=Subquery(cursor)) | Q(created_at=Subquery(cursor), pk__lt=before)
        )
    page = list(rows[: PAGE_SIZE + 1])
    older = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    page = page[:PAGE_SIZE]
    context = {
        "section": "notifications",
        "notifications": page,
        "older": older,
        "paged": bool(before),
        "zone": user.zone,
        "any_unread": any(n.read_at is None for n in page),
    }
    return render(request, "workspace/notifications.html", context)


@login_required
@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go to its conversation (whose page checks access)."""
    user: User = request.user  # type: ignore[assignment]
    found = list(Notification.objects.filter(user=user, pk=pk).values_list("conversation_id"))
    if not found:
        raise Http404("No such notification.")
    mark_read(user=user, ids=[pk])
    ((conversation_id,),) = found
    if conversation_id is None:
        return redirect("workspace:notifications")
    return redirect("workspace:conversation", pk=conversation_id)


@login_required
@require_POST
def notifications_mark_all_read(request: HttpRequest) -> HttpResponse:
    changed = mark_read(user=request.user)  # type: ignore[arg-type]
    if changed:
        noun = "notification" if changed == 1 else "notifications"
        messages.success(request, f"Marked {changed} {noun} read.")
    return redirect("workspace:notifications")


urlpatterns = [
    path("notifications/", notification_list, name="notifications"),
    path("notifications/read/", notifications_mark_all_read, name="notifications_read"),
    path("notifications/<int:pk>/", notification_open, name="notification_open"),
]
