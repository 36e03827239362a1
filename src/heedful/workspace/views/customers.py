"""Customer pages: the searchable directory, a profile with every conversation on every
channel, editing details and notes, and merging two customers after a preview.

Access: customer records are the team's shared directory (any active agent opens and
edits them, `customers.access`), but the conversations a profile lists go through the
conversation access rule, so a profile never shows what the agent's lists hide.
"""

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods

from heedful.accounts.models import User
from heedful.accounts.permissions import can
from heedful.conversations.models import Conversation
from heedful.conversations.services import merge_customers
from heedful.core.errors import ServiceError
from heedful.core.parsing import parse_id
from heedful.customers.access import get_customer_for
from heedful.customers.history import conversations_of
from heedful.customers.identities import IdentityKind
from heedful.customers.models import Customer, Organization
from heedful.customers.search import customer_rows, search_customers
from heedful.customers.services import preview_merge, time_zones, update_customer
from heedful.inboxes.registry import kinds as channel_kinds

TIMELINE_PAGE = 50
MERGE_REFUSED = "Only team leads and admins can merge customers."
FIELD_LABELS = {
    "name": "Name",
    "preferred_channel": "Preferred channel",
    "language": "Language",
    "time_zone": "Time zone",
}
_CURSOR_RE = re.compile(r"^(\d{1,17})-(\d{1,18})$")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _int(value: str | None) -> int | None:
    return parse_id(value)


def _wants_json(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request")) or "json" in request.headers.get("Accept", "")


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> Any:
    user = _user(request)
    base = {"section": "customers", "zone": user.zone}
    return render(request, template, {**base, **context}, status=status)


# --- the directory ------------------------------------------------------------------


@login_required
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    query = request.GET.get("q", "")
    page = search_customers(query, before=_int(request.GET.get("before")))
    context = {
        "query": page.query,
        "rows": customer_rows(page.customer_ids, user),
        "next_before": page.next_before,
        "paged": _int(request.GET.get("before")) is not None,
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "customer-results":
        return _page(request, "workspace/customer_list.html#results", context)
    return _page(request, "workspace/customer_list.html", context)


# --- the profile --------------------------------------------------------------------


@login_required
@require_GET
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = get_customer_for(user, pk)
    if customer.pk != pk:
        return redirect("workspace:customer", pk=customer.pk)
    conversations, older = _timeline(customer, user, request.GET.get("after", ""))
    labels = channel_kinds()
    context = {
        "customer": customer,
        "identities": _identities(customer),
        "preferred_label": _kind_label(customer.preferred_channel),
        "local_time": _local_time(customer),
        "timeline": _rows(conversations, labels, user.zone),
        "older": older,
        "paged": bool(request.GET.get("after")),
        "visible_count": _visible(customer, user).values("pk")[: TIMELINE_PAGE * 20].count(),
        "count_cap": TIMELINE_PAGE * 20,
        "can_merge": can(user, "customer.merge"),
        "merge_refused": MERGE_REFUSED,
    }
    return _page(request, "workspace/customer_detail.html", context)


@dataclass(frozen=True)
class _Row:
    """One conversation on the profile, with every string the row shows made here:
    50 rows of template filters (dates, URLs, truncation) were most of the page."""

    pk: int
    url: str
    number: int
    subject: str
    snippet: str
    status: str
    status_label: str
    assignee: str
    channel: str
    inbox: str
    kind: str
    iso: str
    title: str
    short: str


def _rows(
    conversations: list[Conversation], labels: dict[str, str], zone: zoneinfo.ZoneInfo
) -> list[_Row]:
    prefix = reverse("workspace:conversations")
    rows = []
    for c in conversations:
        local = c.last_message_at.astimezone(zone)
        short = f"{local.day} {local:%b %Y, %H:%M}"
        preview = c.last_message_preview
        rows.append(
            _Row(
                pk=c.pk,
                url=f"{prefix}{c.pk}/",
                number=c.number,
                subject=c.subject or "(no subject)",
                snippet=preview if len(preview) <= 140 else preview[:139] + "…",
                status=c.status,
                status_label=c.get_status_display(),
                assignee=c.assignee.display_name if c.assignee else "Unassigned",
                channel=labels.get(c.inbox.kind, c.inbox.kind),
                inbox=c.inbox.name,
                kind=c.inbox.kind,
                iso=local.isoformat(),
                title=f"{short} {local.tzname()}",
                short=short,
            )
        )
    return rows


def _visible(customer: Customer, user: User) -> Any:
    # The same filter as customers.history.conversations_of: the conversation access rule.
    return Conversation.objects.visible_to(user).filter(customer=customer, merged_into__isnull=True)


def _timeline(customer: Customer, user: User, cursor: str) -> tuple[list[Conversation], str]:
    """One page of the customer's conversations, newest first; keyset on
    (-last_message_at, -id), so page 5 of 200 conversations costs what page 1 does."""
    match = _CURSOR_RE.match(cursor.strip())
    at = _from_micros(match.group(1)) if match else None
    if match is None or at is None:
        rows = conversations_of(customer, user, limit=TIMELINE_PAGE + 1)
    else:
        last_id = int(match.group(2))
        rows = list(
            _visible(customer, user)
            .filter(Q(last_message_at__lt=at) | Q(last_message_at=at, pk__lt=last_id))
            .select_related("inbox", "assignee")
            .order_by("-last_message_at", "-id")[: TIMELINE_PAGE + 1]
        )
    older = ""
    if len(rows) > TIMELINE_PAGE:
        rows = rows[:TIMELINE_PAGE]
        last = rows[-1]
        older = f"{_to_micros(last.last_message_at)}-{last.pk}"
    return rows, older


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_micros(moment: datetime) -> int:
    # Integer arithmetic: a float timestamp loses the microseconds the cursor compares on.
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_micros(value: str) -> datetime | None:
    try:
        return _EPOCH + timedelta(microseconds=int(value))
    except OverflowError:
        return None


def _identities(customer: Customer) -> list[Any]:
    return list(customer.identities.order_by("kind", "pk"))


def _kind_label(kind: str) -> str:
    return dict(IdentityKind.choices).get(kind, kind)


def _local_time(customer: Customer) -> datetime | None:
    if not customer.time_zone:
        return None
    try:
        return datetime.now(zoneinfo.ZoneInfo(customer.time_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


# --- editing ------------------------------------------------------------------------


class CustomerForm(forms.Form):
    name = forms.CharField(required=False, max_length=200)
    organization = forms.CharField(
        required=False,
        max_length=200,
        help_text="Pick an existing organization or type a new name; leave empty for none.",
    )
    preferred_channel = forms.ChoiceField(
        required=False, choices=[("", "No preference"), *IdentityKind.choices]
    )
    language = forms.CharField(required=False, max_length=16, help_text="e.g. en, fr, pt-BR")
    time_zone = forms.CharField(required=False, max_length=64, help_text="e.g. Europe/Paris")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}))

    @classmethod
    def initial_for(cls, customer: Customer) -> dict[str, str]:
        return {
            "name": customer.name,
            "organization": customer.organization.name if customer.organization else "",
            "preferred_channel": customer.preferred_channel,
            "language": customer.language,
            "time_zone": customer.time_zone,
            "notes": customer.notes,
        }


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = get_customer_for(user, pk)
    if customer.pk != pk:
        return redirect("workspace:customer_edit", pk=customer.pk)
    status = 200
    if request.method == "POST":
        form = CustomerForm(request.POST)
        if form.is_valid():
            try:
                update_customer(customer=customer, actor=user, **form.cleaned_data)
            except ServiceError as exc:
                status = exc.status_code
                _form_errors(form, exc)
            else:
                messages.success(request, "Customer details saved.")
                return redirect("workspace:customer", pk=customer.pk)
        else:
            status = 400
    else:
        form = CustomerForm(initial=CustomerForm.initial_for(customer))
    context = {"customer": customer, "form": form, "time_zones": sorted(time_zones())}
    return _page(request, "workspace/customer_edit.html", context, status=status)


def _form_errors(form: forms.Form, exc: ServiceError) -> None:
    fields = exc.details.get("fields")
    if isinstance(fields, dict) and fields:
        for field, message in fields.items():
            form.add_error(field if field in form.fields else None, str(message))
    else:
        form.add_error(None, exc.message)


@login_required
@require_GET
def organization_options(request: HttpRequest) -> HttpResponse:
    """`<option>`s for the organization field's datalist, as the agent types."""
    query = " ".join(request.GET.get("organization", request.GET.get("q", "")).split())
    query = query.replace("\x00", "")[:200]
    names: list[str] = []
    if query:
        names = list(
            Organization.objects.filter(name__icontains=query)
            .order_by("name")
            .values_list("name", flat=True)[:20]
        )
    return _page(request, "workspace/customer_edit.html#org-options", {"names": names})


# --- merging ------------------------------------------------------------------------


@login_required
@require_GET
def customer_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the other customer: the directory's search, by name, address or #id."""
    user = _user(request)
    customer = get_customer_for(user, pk)
    if customer.pk != pk:
        return redirect("workspace:customer_merge", pk=customer.pk)
    query = request.GET.get("q", "")
    rows: list[Customer] = []
    if query.strip():
        page = search_customers(query, limit=20)
        rows = customer_rows([i for i in page.customer_ids if i != customer.pk], user)
    context = {
        "customer": customer,
        "query": " ".join(query.split())[:200],
        "rows": rows,
        "can_merge": can(user, "customer.merge"),
        "merge_refused": MERGE_REFUSED,
    }
    return _page(request, "workspace/customer_merge.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_merge_preview(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    """What merging `other` into `pk` moves; POST confirms. `pk` is the record kept."""
    user = _user(request)
    target = get_customer_for(user, pk)
    source = get_customer_for(user, other)
    if (target.pk, source.pk) != (pk, other):
        if target.pk == source.pk:
            messages.info(request, "These two records are already one customer.")
            return redirect("workspace:customer", pk=target.pk)
        return redirect("workspace:customer_merge_preview", pk=target.pk, other=source.pk)
    if target.pk == source.pk:
        messages.error(
            request, "Choose another customer: a customer cannot be merged into themselves."
        )
        return redirect("workspace:customer_merge", pk=target.pk)
    error, status = "", 200
    if request.method == "POST":
        try:
            merge_customers(source=source, target=target, actor=user)
        except ServiceError as exc:
            if _wants_json(request):
                return JsonResponse(
                    {"error": exc.message, "code": exc.code}, status=exc.status_code
                )
            error, status = exc.message, exc.status_code
            if status == 403:
                error = MERGE_REFUSED
        else:
            messages.success(request, f"{source} was merged into {target}.")
            return redirect("workspace:customer", pk=target.pk)
    preview = preview_merge(source=source, target=target, viewer=user)
    context = {
        "target": target,
        "source": source,
        "preview": preview,
        "filled": [
            (FIELD_LABELS[name], _kind_label(value) if name == "preferred_channel" else value)
            for name, value in preview.filled.items()
        ],
        "can_merge": can(user, "customer.merge"),
        "merge_refused": MERGE_REFUSED,
        "error": error,
        "swap_url": reverse(
            "workspace:customer_merge_preview", kwargs={"pk": source.pk, "other": target.pk}
        ),
    }
    return _page(request, "workspace/customer_merge_preview.html", context, status=status)


urlpatterns = [
    path("customers/", customer_list, name="customers"),
    path("customers/organizations/", organization_options, name="customer_organizations"),
    path("customers/<int:pk>/", customer_detail, name="customer"),
    path("customers/<int:pk>/edit/", customer_edit, name="customer_edit"),
    path("customers/<int:pk>/merge/", customer_merge, name="customer_merge"),
    path(
        "customers/<int:pk>/merge/<int:other>/",
        customer_merge_preview,
        name="customer_merge_preview",
    ),
]
