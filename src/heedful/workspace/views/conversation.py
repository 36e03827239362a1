"""The conversation page: timeline, composers, controls and the customer panel.

Every view loads the conversation through the access rule (`get_conversation_for`),
parses its input, calls one service and answers. htmx and JSON callers get a 4xx
with `{"error": ...}` when a service refuses; plain form posts get a message and
a redirect back to the page.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from heedful.accounts.models import User
from heedful.accounts.permissions import can
from heedful.automation.macros import render_macro, usable_macros
from heedful.conversations import services
from heedful.conversations.access import get_conversation_for, viewers_filter
from heedful.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    DeliveryStatus,
    Direction,
    EventType,
    Message,
    ParticipantRole,
    Priority,
    Status,
)
from heedful.core.errors import NotFound, ServiceError
from heedful.core.headers import formatted_message_policy
from heedful.core.parsing import parse_id
from heedful.customers.history import conversations_of, recent_elsewhere
from heedful.customers.models import Identity
from heedful.inboxes.registry import channel_display
from heedful.knowledge.services import public_url
from heedful.search.articles import suggest_articles
from heedful.search.similar import conversation_text, similar_solved
from heedful.workspace.fragments import ROW_FIELDS, formatted_document, rendered_messages

PAST_LIMIT = 50

# Events shown inline in the timeline, each as one quiet line.
TIMELINE_EVENTS = (
    EventType.ASSIGNED,
    EventType.STATUS_CHANGED,
    EventType.PRIORITY_CHANGED,
    EventType.TAGS_CHANGED,
    EventType.MERGED_INTO,
    EventType.MERGED_FROM,
    EventType.REOPENED,
    EventType.CUSTOMER_MERGED,
    EventType.REPLY_UNDONE,
    EventType.DELIVERY_FAILED,
    EventType.DELIVERY_RETRIED,
    EventType.SPAM_MARKED,
)

channel = channel_display


def _agent(request: HttpRequest) -> User:
    """The signed-in agent (every view here is behind login_required)."""
    return cast(User, request.user)


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" or "application/json" in request.headers.get(
        "Accept", ""
    )


def _page_url(conversation: Conversation) -> str:
    return reverse("workspace:conversation", args=[conversation.pk])


def _refused(request: HttpRequest, conversation: Conversation, exc: ServiceError) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": exc.message, "code": exc.code}, status=exc.status_code)
    messages.error(request, exc.message)
    return redirect(_page_url(conversation))


def _done(request: HttpRequest, conversation: Conversation, text: str) -> HttpResponse:
    """Success: htmx swaps nothing and tells the page to refresh what changed."""
    if _wants_json(request):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = json.dumps(
            {"heedful:conversation-changed": {"conversation_id": conversation.pk}}
        )
        return response
    messages.success(request, text)
    return redirect(_page_url(conversation))


# --- reading -------------------------------------------------------------------------


@dataclass
class TimelineItem:
    kind: str  # "message" or "event"
    at: datetime
    html: str = ""  # a message, rendered (workspace.fragments)
    text: str = ""
    link: str = ""
    tone: str = ""


def _load(user: Any, pk: int) -> Conversation:
    """The conversation with everything the header shows, through the access rule."""
    return get_conversation_for(
        user,
        pk,
        related=("customer__organization", "inbox", "assignee", "team", "merged_into"),
    )


# A long thread shows its latest messages; "Show earlier messages" loads the rest.
TIMELINE_LIMIT = 200


def _timeline(
    conversation: Conversation, zone: Any, *, show_all: bool = False
) -> tuple[list[TimelineItem], int]:
    """Messages and quiet event lines in time order, and how many earlier messages
    were left out; a fixed number of queries."""
    shown = conversation.messages.exclude(delivery_status=DeliveryStatus.CANCELLED)
    rows = list(
        shown.order_by("-created_at", "-id").values_list(*ROW_FIELDS)[
            : None if show_all else TIMELINE_LIMIT + 1
        ]
    )
    earlier = 0
    if len(rows) > TIMELINE_LIMIT and not show_all:
        rows = rows[:TIMELINE_LIMIT]
        earlier = shown.count() - TIMELINE_LIMIT
    rows.reverse()
    html = rendered_messages(conversation, rows, zone)
    items: list[tuple[datetime, int, int, TimelineItem]] = [
        (at, 0, pk, TimelineItem("message", at, html=html[pk])) for pk, at, *_ in rows if pk in html
    ]
    events_qs = conversation.events.filter(type__in=TIMELINE_EVENTS)
    if earlier:
        events_qs = events_qs.filter(created_at__gte=rows[0][1])
    events = list(events_qs.select_related("actor").order_by("created_at", "id"))
    names = _agent_names(events)
    for event in events:
        text, link, tone = _describe(event, names)
        items.append(
            (
                event.created_at,
                1,
                event.pk,
                TimelineItem("event", event.created_at, text=text, link=link, tone=tone),
            )
        )
    items.sort(key=lambda item: item[:3])
    return [item[3] for item in items], earlier


def _timeline_context(
    request: HttpRequest, conversation: Conversation, zone: Any
) -> dict[str, Any]:
    show_all = request.GET.get("all") == "1"
    timeline, earlier = _timeline(conversation, zone, show_all=show_all)
    return {"timeline": timeline, "earlier": earlier, "show_all": show_all}


def _agent_names(events: list[ConversationEvent]) -> dict[int, str]:
    ids = {
        int(value)
        for e in events
        if e.type == EventType.ASSIGNED
        for value in (e.data.get("from"), e.data.get("to"))
        if value is not None
    }
    if not ids:
        return {}
    return {u.pk: u.display_name for u in User.objects.filter(pk__in=ids)}


def _status_label(value: object) -> str:
    try:
        return str(Status(str(value)).label)
    except ValueError:
        return str(value)


def _describe(event: ConversationEvent, names: dict[int, str]) -> tuple[str, str, str]:
    """One quiet line: (text, link, tone)."""
    who = event.actor.display_name if event.actor else "Heedful"
    data = event.data or {}
    kind = event.type
    if kind == EventType.ASSIGNED:
        to = data.get("to")
        if to is None:
            return f"{who} unassigned this", "", ""
        if event.actor_id == to:
            return f"{who} took this", "", ""
        return f"{who} assigned this to {names.get(int(to), 'an agent')}", "", ""
    if kind == EventType.STATUS_CHANGED:
        return (
            f"{who} changed the status from {_status_label(data.get('from'))} "
            f"to {_status_label(data.get('to'))}",
            "",
            "",
        )
    if kind == EventType.REOPENED:
        if event.actor is None:
            return "The customer wrote again: reopened", "", ""
        return f"{who} reopened this", "", ""
    if kind == EventType.PRIORITY_CHANGED:
        try:
            label = Priority(int(data.get("to", 1))).label
        except (ValueError, TypeError):
            label = str(data.get("to"))
        return f"{who} set the priority to {label}", "", ""
    if kind == EventType.TAGS_CHANGED:
        added, removed = data.get("added", []), data.get("removed", [])
        parts = ([f"tagged it {', '.join(added)}"] if added else []) + (
            [f"removed the tag {', '.join(removed)}"] if removed else []
        )
        return f"{who} {' and '.join(parts) or 'changed tags'}", "", ""
    if kind == EventType.MERGED_INTO:
        target = data.get("target_id")
        link = reverse("workspace:conversation", args=[target]) if target else ""
        return f"{who} merged this into #{data.get('target_number', '?')}", link, ""
    if kind == EventType.MERGED_FROM:
        return f"{who} merged #{data.get('source_number', '?')} into this", "", ""
    if kind == EventType.CUSTOMER_MERGED:
        return f"{who} merged two customer records into this customer", "", ""
    if kind == EventType.REPLY_UNDONE:
        return f"{who} withdrew a reply before it was sent", "", ""
    if kind == EventType.DELIVERY_FAILED and data.get("bounce"):
        # The customer's server took the reply and sent it back later: the message
        # itself shows "Not delivered"; this line says what the bounce said.
        answer = " ".join(str(data.get(k) or "") for k in ("status", "diagnostic")).strip()
        return str(data.get("error") or f"Bounced: {answer}"), "", ""
    if kind == EventType.DELIVERY_FAILED:
        retry = " (will retry)" if data.get("will_retry") else ""
        return f"Delivery failed: {data.get('error', '')}{retry}", "", "danger"
    if kind == EventType.DELIVERY_RETRIED:
        return f"{who} sent a failed reply again", "", ""
    if kind == EventType.SPAM_MARKED:
        return (
            (
                f"{who} marked this as spam"
                if data.get("spam")
                else f"{who} marked this as not spam"
            ),
            "",
            "",
        )
    return str(event.get_type_display()), "", ""


def _agents_for(conversation: Conversation) -> list[User]:
    """Agents to offer in the assign and @mention pickers: those who may see it."""
    agents = User.objects.filter(viewers_filter(conversation))
    found = list(agents.distinct().order_by("name", "email")[:500])
    locals_: dict[str, int] = {}
    for agent in found:
        local = agent.email.split("@")[0].lower()
        locals_[local] = locals_.get(local, 0) + 1
    for agent in found:
        local = agent.email.split("@")[0].lower()
        agent.mention = local if locals_[local] == 1 else agent.email  # type: ignore[attr-defined]
    return found


def _panel_context(
    conversation: Conversation, user: Any, identities: list[Identity]
) -> dict[str, Any]:
    customer = conversation.customer
    past = conversations_of(customer, user, exclude=conversation, limit=PAST_LIMIT)
    for other in past:
        other.channel_label, other.channel_icon = channel(other.inbox.kind)  # type: ignore[attr-defined]
    recent = recent_elsewhere(conversation, user)
    for message in recent:
        message.channel_label, message.channel_icon = channel(message.inbox.kind)  # type: ignore[attr-defined]
    preferred = channel(customer.preferred_channel)[0] if customer.preferred_channel else ""
    return {
        "customer": customer,
        "preferred_channel": preferred,
        "identities": identities,
        "past": past,
        "past_limited": len(past) >= PAST_LIMIT,
        "recent": recent,
    }


def _summary_context(conversation: Conversation, user: Any) -> dict[str, Any]:
    label, icon = channel(conversation.inbox.kind)
    return {
        "conversation": conversation,
        "channel_label": label,
        "channel_icon": icon,
        "tags": list(conversation.tags.values_list("name", flat=True)),
        "statuses": [(v, lbl) for v, lbl in Status.choices if v != conversation.status],
        "priorities": Priority.choices,
        "can_assign_others": can(user, "conversation.assign_others"),
        "is_mine": conversation.assignee_id == user.pk,
        "cc": _cc_addresses(conversation),
    }


def _cc_addresses(conversation: Conversation) -> list[str]:
    """Who "reply all" includes besides the customer: the conversation's CC participants."""
    return list(
        ConversationParticipant.objects.filter(
            conversation=conversation, role=ParticipantRole.CC, identity__isnull=False
        )
        .order_by("identity__address")
        .values_list("identity__address", flat=True)
    )


@login_required
@require_GET
def conversation_page(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(_agent(request), pk)
    if conversation.merged_into_id is not None:
        try:
            target = get_conversation_for(_agent(request), conversation.merged_into_id)
        except Http404:
            pass  # the target is out of sight: show the closed source instead
        else:
            return redirect(_page_url(target))
    user = _agent(request)
    identities = list(conversation.customer.identities.order_by("kind", "address"))
    default = services.default_recipient(conversation)
    agents = _agents_for(conversation)
    context = {
        "section": "conversations",
        **_summary_context(conversation, user),
        **_timeline_context(request, conversation, user.zone),
        "agents": agents,
        "mention_agents": [
            {"id": a.pk, "name": a.display_name, "handle": a.mention}  # type: ignore[attr-defined]
            for a in agents
        ],
        "macros": list(usable_macros(user).only("pk", "name")),
        "reply_identities": identities,
        "default_identity_id": default.pk if default else None,
        "undo_seconds": _undo_seconds(),
        **_panel_context(conversation, user, identities),
    }
    return render(request, "workspace/conversation.html", context)


@login_required
@require_GET
def timeline_partial(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(_agent(request), pk)
    zone = _agent(request).zone
    context = {"conversation": conversation, **_timeline_context(request, conversation, zone)}
    return render(request, "workspace/conversation.html#timeline", context)


@login_required
@require_GET
def summary_partial(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(_agent(request), pk)
    context = {
        **_summary_context(conversation, _agent(request)),
        "agents": _agents_for(conversation),
    }
    return render(request, "workspace/conversation.html#summary", context)


ASSIST_ARTICLES = 5


@login_required
@require_GET
def assist_partial(request: HttpRequest, pk: int) -> HttpResponse:
    """The assist panel, loaded after the page so the page itself stays fast:
    published articles matching what the customer wrote, and similar conversations
    that were solved (both only what this agent may read)."""
    from django.conf import settings

    conversation = get_conversation_for(_agent(request), pk, related=("customer",))
    wanted = conversation.customer.language
    language = wanted if wanted in settings.HEEDFUL_HELP_LANGUAGES else None
    hits = suggest_articles(
        conversation_text(conversation), audience="agents", language=language, limit=ASSIST_ARTICLES
    )
    for hit in hits:
        hit.public_url = (  # type: ignore[attr-defined]
            public_url(hit.article, hit.translation) if hit.article.is_public else ""
        )
    context = {
        "conversation": conversation,
        "articles": hits,
        "similar": similar_solved(conversation, _agent(request)),
    }
    return render(request, "workspace/assist_panel.html#assist", context)


def _undo_seconds() -> int:
    from django.conf import settings

    return max(0, int(settings.HEEDFUL_UNDO_SECONDS))


# --- composers -----------------------------------------------------------------------


@login_required
@require_POST
def reply_view(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_conversation_for(_agent(request), pk)
    text = request.POST.get("text", "")
    via: Identity | None = None
    via_id = request.POST.get("via_identity", "").strip()
    try:
        if via_id:
            via = Identity.objects.filter(pk=parse_id(via_id) or 0).first()
            if via is None:
                raise ServiceError("That address no longer exists.")
        message = services.reply(
            conversation=conversation, author=_agent(request), text=text, via_identity=via
        )
    except ServiceError as exc:
        return _refused(request, conversation, exc)
    if _wants_json(request):
        return JsonResponse(
            {
                "ok": True,
                "message_id": message.pk,
                "undo_url": reverse("workspace:undo_reply", args=[conversation.pk, message.pk]),
                "undo_seconds": _undo_seconds(),
            },
            status=201,
        )
    messages.success(request, "Reply sent.")
    return redirect(_page_url(conversation))


@login_required
@require_POST
def note_view(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_conversation_for(_agent(request), pk)
    try:
        message = services.note(
            conversation=conversation, author=_agent(request), text=request.POST.get("text", "")
        )
    except ServiceError as exc:
        return _refused(request, conversation, exc)
    if _wants_json(request):
        return JsonResponse({"ok": True, "message_id": message.pk}, status=201)
    messages.success(request, "Note added.")
    return redirect(_page_url(conversation))


@login_required
@require_POST
def undo_view(request: HttpRequest, pk: int, mid: int) -> HttpResponse:
    conversation = get_conversation_for(_agent(request), pk)
    message = (
        Message.objects.filter(pk=mid, conversation=conversation, is_note=False)
        .select_related("conversation")
        .first()
    )
    try:
        if message is None:
            raise NotFound("No such reply.")
        message = services.undo_reply(message=message, actor=_agent(request))
    except ServiceError as exc:
        return _refused(request, conversation, exc)
    if _wants_json(request):
        return JsonResponse({"ok": True, "text": message.body_text})
    messages.success(request, "Reply withdrawn. Its text is below:\n" + message.body_text[:500])
    return redirect(_page_url(conversation) + "#reply")


@login_required
@require_GET
def macro_view(request: HttpRequest, pk: int, macro_id: int) -> JsonResponse:
    conversation = get_conversation_for(_agent(request), pk)
    macro = usable_macros(_agent(request)).filter(pk=macro_id).first()
    if macro is None:
        return JsonResponse({"error": "No such macro."}, status=404)
    text = render_macro(macro=macro, conversation=conversation, agent=_agent(request))
    return JsonResponse({"id": macro.pk, "name": macro.name, "text": text})


# --- controls ------------------------------------------------------------------------


def _control(request: HttpRequest, pk: int, act: Callable[[Conversation], str]) -> HttpResponse:
    conversation = get_conversation_for(_agent(request), pk)
    try:
        text = act(conversation)
    except ServiceError as exc:
        return _refused(request, conversation, exc)
    return _done(request, conversation, text)


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ServiceError(f"Choose a {what}.") from None


@login_required
@require_POST
def assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    def act(conversation: Conversation) -> str:
        choice = request.POST.get("agent", "").strip()
        agent: User | None
        if choice == "me":
            agent = _agent(request)
        elif choice in ("", "none"):
            agent = None
        else:
            agent = User.objects.filter(pk=_int(choice, "person"), is_active=True).first()
            if agent is None:
                raise ServiceError("That agent cannot work on this conversation.")
        kwargs: dict[str, Any] = {}
        if "expected" in request.POST:
            expected = request.POST["expected"].strip()
            kwargs["expected_assignee_id"] = _int(expected, "person") if expected else None
        services.assign(conversation=conversation, agent=agent, actor=_agent(request), **kwargs)
        return f"Assigned to {agent.display_name}." if agent else "Unassigned."

    return _control(request, pk, act)


@login_required
@require_POST
def status_view(request: HttpRequest, pk: int) -> HttpResponse:
    def act(conversation: Conversation) -> str:
        status = request.POST.get("status", "")
        services.set_status(conversation=conversation, status=status, actor=_agent(request))
        return f"Status: {_status_label(status)}."

    return _control(request, pk, act)


@login_required
@require_POST
def priority_view(request: HttpRequest, pk: int) -> HttpResponse:
    def act(conversation: Conversation) -> str:
        priority = _int(request.POST.get("priority", ""), "priority")
        services.set_priority(conversation=conversation, priority=priority, actor=_agent(request))
        return "Priority changed."

    return _control(request, pk, act)


@login_required
@require_POST
def tags_view(request: HttpRequest, pk: int) -> HttpResponse:
    def act(conversation: Conversation) -> str:
        add = [t for t in request.POST.get("add", "").split(",") if t.strip()]
        remove = request.POST.getlist("remove")
        if not add and not remove:
            raise ServiceError("Type a tag to add.")
        services.tag(conversation=conversation, actor=_agent(request), add=add, remove=remove)
        return "Tags updated."

    return _control(request, pk, act)


@login_required
@require_POST
def spam_view(request: HttpRequest, pk: int) -> HttpResponse:
    def act(conversation: Conversation) -> str:
        spam = request.POST.get("spam", "1") not in ("0", "false", "")
        services.mark_spam(conversation=conversation, actor=_agent(request), spam=spam)
        return "Marked as spam." if spam else "Marked as not spam."

    return _control(request, pk, act)


@login_required
@require_POST
def merge_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Two steps: the number gets a confirmation naming both; `confirm` merges."""
    conversation = get_conversation_for(_agent(request), pk)
    raw = request.POST.get("number", "").strip().lstrip("#")
    try:
        number = parse_id(raw)
        if number is None:
            raise ServiceError("Type the number of the conversation to merge into.")
        target = (
            Conversation.objects.visible_to(_agent(request))
            .select_related("customer", "inbox")
            .filter(number=number)
            .first()
        )
        if target is None:
            raise NotFound(f"There is no conversation #{raw} that you can see.")
        if target.pk == conversation.pk:
            raise ServiceError("A conversation cannot be merged into itself.")
        if request.POST.get("confirm") == "yes":
            services.merge_conversations(source=conversation, target=target, actor=_agent(request))
    except ServiceError as exc:
        return _refused(request, conversation, exc)
    if request.POST.get("confirm") == "yes":
        url = _page_url(target)
        if _wants_json(request):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        messages.success(request, f"#{conversation.number} was merged into #{target.number}.")
        return redirect(url)
    context = {
        "section": "conversations",
        "conversation": conversation,
        "target": target,
        "cross_customer": target.customer_id != conversation.customer_id,
    }
    template = "workspace/conversation_merge.html"
    if request.headers.get("HX-Request") == "true":
        template += "#confirm"
    return render(request, template, context)


# --- email: the formatted view and retrying a failed reply ----------------------------


def _message_of(conversation: Conversation, mid: int, **match: Any) -> Message:
    """A message of `conversation` (already loaded through the access rule), else 404."""
    message = Message.objects.filter(pk=mid, conversation=conversation, **match).first()
    if message is None:
        raise Http404("No such message")
    return message


@login_required
@require_GET
@xframe_options_sameorigin  # the conversation page frames it; the rest of /app/ stays DENY
def message_html_view(request: HttpRequest, pk: int, mid: int) -> HttpResponse:
    """A message's sanitized HTML as its own document, for a sandboxed iframe."""
    conversation = get_conversation_for(_agent(request), pk)
    message = _message_of(conversation, mid)
    if not message.body_html:
        raise Http404("This message has no formatted version")
    images = request.GET.get("images") == "1"
    response = HttpResponse(formatted_document(message), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = formatted_message_policy(remote_images=images)
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_POST
def retry_view(request: HttpRequest, pk: int, mid: int) -> HttpResponse:
    """Send a reply that failed once more (the agent fixed the address, the server is up)."""
    from heedful.conversations.services import delivery  # its retry lives with the lease

    conversation = get_conversation_for(_agent(request), pk)
    message = _message_of(conversation, mid, direction=Direction.OUTBOUND, is_note=False)
    try:
        if message.delivery_status != DeliveryStatus.FAILED:
            raise ServiceError("Only a reply that was not delivered can be sent again.")
        delivery.retry_delivery(message=message, actor=_agent(request))
    except ServiceError as exc:
        return _refused(request, conversation, exc)
    if request.headers.get("HX-Request") != "true":
        return _done(request, conversation, "Sending the reply again.")
    row = Message.objects.filter(pk=message.pk).values_list(*ROW_FIELDS).get()
    html = rendered_messages(conversation, [row], _agent(request).zone)[message.pk]
    response = HttpResponse(html)
    response["HX-Trigger"] = json.dumps(
        {"heedful:conversation-changed": {"conversation_id": conversation.pk}}
    )
    return response


urlpatterns = [
    path("conversations/<int:pk>/", conversation_page, name="conversation"),
    path("conversations/<int:pk>/timeline/", timeline_partial, name="timeline"),
    path("conversations/<int:pk>/summary/", summary_partial, name="conversation_summary"),
    path("conversations/<int:pk>/assist/", assist_partial, name="conversation_assist"),
    path("conversations/<int:pk>/reply/", reply_view, name="conversation_reply"),
    path("conversations/<int:pk>/note/", note_view, name="conversation_note"),
    path("conversations/<int:pk>/messages/<int:mid>/undo/", undo_view, name="undo_reply"),
    path("conversations/<int:pk>/macros/<int:macro_id>/", macro_view, name="conversation_macro"),
    path("conversations/<int:pk>/assign/", assign_view, name="conversation_assign"),
    path("conversations/<int:pk>/status/", status_view, name="conversation_status"),
    path("conversations/<int:pk>/priority/", priority_view, name="conversation_priority"),
    path("conversations/<int:pk>/tags/", tags_view, name="conversation_tags"),
    path("conversations/<int:pk>/spam/", spam_view, name="conversation_spam"),
    path("conversations/<int:pk>/merge/", merge_view, name="conversation_merge"),
    path("conversations/<int:pk>/messages/<int:mid>/html/", message_html_view, name="message_html"),
    path("conversations/<int:pk>/messages/<int:mid>/retry/", retry_view, name="message_retry"),
]
