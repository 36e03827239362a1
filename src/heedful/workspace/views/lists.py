"""The conversation lists and their bulk actions.

The list page reads everything through `heedful.conversations.lists` (the access
rule, the list definitions, keyset pages, capped counts); the bulk endpoint
loads each conversation through the access rule and calls one service on it.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from heedful.accounts.models import Team, User
from heedful.conversations.lists import (
    SORTS,
    VIEWS,
    ListRequest,
    Page,
    Viewer,
    cached_list_counts,
    fetch_page,
    has_open_assigned,
    parse_request,
    waiting_for,
)
from heedful.conversations.models import Priority, Status, Tag
from heedful.conversations.services import bulk
from heedful.core.errors import ServiceError
from heedful.core.parsing import parse_id
from heedful.customers.models import Customer
from heedful.inboxes.models import Inbox
from heedful.inboxes.registry import get_adapter, kinds

# One glyph per channel kind; kinds come from the registry, an unknown one gets "•".
_FILTER_OPTION_LIMIT = 300


# Shown only when it is not the usual: (label, css class) per priority.
_PRIORITY_BADGES = {
    Priority.URGENT: ("Urgent", "prio-urgent"),
    Priority.HIGH: ("High", "prio-high"),
    Priority.LOW: ("Low", "prio-low"),
}
_URL_MARK = 987654321


@dataclass
class Row:
    """One conversation as the list shows it, every value ready to print: the list is
    the hottest page, and plain attributes render several times faster than lookups
    through related objects, filters and tags."""

    pk: int
    number: int
    url: str
    seen: str  # "pk:assignee id" — what the agent saw, for a race-safe "assign to me"
    is_new: bool
    customer: str
    address: str
    icon: str
    channel: str
    inbox: str
    subject: str
    snippet: str
    waiting: str
    waiting_since: str
    when_iso: str
    when: str
    priority: tuple[str, str] | None
    assignee: str
    tags: list[str]


def _adapter_facts(kind: str) -> tuple[str, str, str]:
    """(label, icon, identity kind) of a channel kind, from the registry."""
    try:
        adapter = get_adapter(kind)
    except LookupError:
        return kind, "•", ""
    return adapter.label, adapter.icon, adapter.identity_kind


def _short_time(moment: datetime, zone: zoneinfo.ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b, %H:%M}"


def make_rows(page: Page, zone: zoneinfo.ZoneInfo) -> list[Row]:
    now = timezone.now()
    url = reverse("workspace:conversation", args=[_URL_MARK])
    rows = []
    for c in page.rows:
        label, icon, identity_kind = _adapter_facts(c.inbox.kind)
        identities = page.identities.get(c.customer_id, [])
        # The address the customer uses on this channel, else any they have.
        address = next((a for kind, a in identities if kind == identity_kind), "") or next(
            (a for _, a in identities), ""
        )
        rows.append(
            Row(
                pk=c.pk,
                number=c.number,
                url=url.replace(str(_URL_MARK), str(c.pk)),
                seen=f"{c.pk}:{c.assignee_id or ''}",
                is_new=c.status == Status.NEW,
                customer=str(c.customer),
                address=address,
                icon=icon,
                channel=label,
                inbox=c.inbox.name,
                subject=c.subject or "(no subject)",
                snippet=c.last_message_preview,
                waiting=waiting_for(c.waiting_since, now),
                waiting_since=_short_time(c.waiting_since, zone) if c.waiting_since else "",
                when_iso=c.last_message_at.isoformat(),
                when=_short_time(c.last_message_at, zone),
                priority=_PRIORITY_BADGES.get(c.priority),  # type: ignore[call-overload]
                assignee=c.assignee.display_name if c.assignee else "",
                tags=page.tags.get(c.pk, []),
            )
        )
    return rows


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The agent's own open work first; with none, the unassigned queue to pick from."""
    viewer = Viewer(request.user)  # type: ignore[arg-type]
    view = "mine" if has_open_assigned(viewer) else "unassigned"
    return redirect(f"{reverse('workspace:conversations')}?view={view}")


@login_required
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    viewer = Viewer(user)
    list_request = parse_request(request.GET)
    page = fetch_page(viewer, list_request)
    context: dict[str, Any] = {
        "section": "conversations",
        "lr": list_request,
        "rows": make_rows(page, user.zone),
        "page": page,
        "counts": cached_list_counts(viewer),
        "views": VIEWS.values(),
        "sorts": SORTS.values(),
        "next_url": _list_url(list_request, cursor=page.next_cursor) if page.next_cursor else "",
        "first_url": _list_url(list_request),
        "query": QueryDict(mutable=True),
    }
    context["query"].update(list_request.params())
    context["nav"] = [
        {"view": view, "url": _view_url(list_request, key), "count": context["counts"][key]}
        for key, view in VIEWS.items()
    ]
    context["empty_hint"] = _empty_hint(list_request, user)
    if request.headers.get("HX-Request"):
        # Live refresh: only the rows, and the counts out of band.
        return render(request, "workspace/conversation_list.html#refresh", context)
    context.update(_filter_options(list_request))
    context["agents"] = _agents()
    context["statuses"] = Status.choices
    return render(request, "workspace/conversation_list.html", context)


def _list_url(list_request: ListRequest, cursor: str | None = None) -> str:
    query = QueryDict(mutable=True)
    query.update(list_request.params(**({"cursor": cursor} if cursor else {})))
    return f"{reverse('workspace:conversations')}?{query.urlencode()}"


def _view_url(list_request: ListRequest, view: str) -> str:
    """Another list with the same sort and filters (a status filter belongs to its list)."""
    query = QueryDict(mutable=True)
    params = list_request.params(view=view)
    params.pop("status", None)
    query.update(params)
    return f"{reverse('workspace:conversations')}?{query.urlencode()}"


def _empty_hint(list_request: ListRequest, user: User) -> dict[str, str]:
    """What an empty list says, and the one link that helps next."""
    view, sort = list_request.view, list_request.sort
    if list_request.filters.active:
        return {
            "title": "No conversations match these filters.",
            "text": "",
            "link": "Clear the filters",
            "url": _view_url_plain(view.key, sort.key),
        }
    if sort.needs_first:
        return {
            "title": "Nobody is waiting on us here.",
            "text": "Every customer in this list has an answer.",
            "link": "Show newest first",
            "url": _view_url_plain(view.key, "newest"),
        }
    hints = {
        "mine": ("Take one from the unassigned queue:", "unassigned"),
        "unassigned": ("Take a look at", "all_open"),
        "teams": ("Take a look at", "all_open"),
        "all_open": ("Well done. See what waits on customers in", "pending"),
    }
    text, target = hints.get(view.key, ("Back to", "all_open"))
    if view.key == "teams" and not user.teams.exists():
        text = "You are not in a team yet; an admin can add you. Meanwhile, see"
    return {
        "title": view.empty,
        "text": text,
        "link": VIEWS[target].label.lower() + (" conversations." if target == "all_open" else "."),
        "url": _view_url_plain(target, "newest"),
    }


def _view_url_plain(view: str, sort: str) -> str:
    return f"{reverse('workspace:conversations')}?view={view}&sort={sort}"


def _filter_options(list_request: ListRequest) -> dict[str, Any]:
    customer = None
    if list_request.filters.customer is not None:
        customer = Customer.objects.filter(pk=list_request.filters.customer).first()
    return {
        "inboxes": list(Inbox.objects.order_by("name").only("id", "name")[:_FILTER_OPTION_LIMIT]),
        "channels": list(kinds().items()),
        "tags": list(Tag.objects.order_by("name")[:_FILTER_OPTION_LIMIT]),
        "teams": list(Team.objects.order_by("name")[:_FILTER_OPTION_LIMIT]),
        "priorities": Priority.choices,
        "status_choices": [(s, Status(s).label) for s in list_request.view.statuses],
        "filter_customer": customer,
    }


def _agents() -> list[User]:
    return list(
        User.objects.filter(is_active=True).order_by("name", "email")[:_FILTER_OPTION_LIMIT]
    )


# Bulk actions ------------------------------------------------------------------------


def _targets(values: list[str]) -> list[bulk.Target]:
    """Row values are "<id>:<assignee id the agent saw>" ("" unassigned, no colon: unknown)."""
    targets: list[bulk.Target] = []
    for value in values:  # Django caps a request at 1,000 fields
        pk_text, colon, seen = value.partition(":")
        pk = parse_id(pk_text)
        if pk is None:
            continue
        seen_id = parse_id(seen)
        if not colon or (seen != "" and seen_id is None):
            targets.append(bulk.Target(pk))
        else:
            targets.append(bulk.Target(pk, seen_id))
    return targets


@login_required
@require_POST
def bulk_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    action = request.POST.get("action", "")
    agent: User | None = user
    if action == "assign":
        raw = request.POST.get("agent", "")
        agent = None if raw == "none" else User.objects.filter(pk=parse_id(raw) or -1).first()
        if agent is None and raw != "none":
            return _bulk_answer(request, 0, ["Choose an active agent to assign to."], status=400)
    try:
        result = bulk.bulk_apply(
            actor=user,
            targets=_targets(request.POST.getlist("ids")),
            action="assign" if action == "assign_me" else action,
            agent=agent,
            status=request.POST.get("status", ""),
            tag_name=request.POST.get("tag", ""),
        )
    except ServiceError as exc:
        return _bulk_answer(request, 0, [exc.message], status=exc.status_code)
    return _bulk_answer(request, result.updated, result.failed)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _bulk_answer(
    request: HttpRequest, updated: int, failed: list[str], status: int = 200
) -> HttpResponse:
    summary = f"{updated} updated"
    if failed:
        summary += f", {len(failed)} failed: " + "; ".join(failed)
    if _wants_json(request):
        return JsonResponse(
            {"updated": updated, "failed": failed, "message": summary}, status=status
        )
    if failed and not updated:
        messages.error(request, summary)
    elif failed:
        messages.warning(request, summary)
    else:
        messages.success(request, summary)
    return redirect(_back(request.POST.get("back", "")))


def _back(query: str) -> str:
    """The list the agent came from: only its query string travels, so the redirect
    can only go to the list page."""
    params = QueryDict(query[:2000])
    keep = QueryDict(mutable=True)
    for name in (
        "view",
        "sort",
        "status",
        "priority",
        "inbox",
        "channel",
        "tag",
        "assignee",
        "team",
        "customer",
        "cursor",
    ):
        if name in params:
            keep[name] = params[name]
    suffix = f"?{keep.urlencode()}" if keep else ""
    return f"{reverse('workspace:conversations')}{suffix}"


urlpatterns = [
    path("", home, name="home"),
    path("conversations/", conversation_list, name="conversations"),
    path("conversations/bulk/", bulk_view, name="bulk"),
]
