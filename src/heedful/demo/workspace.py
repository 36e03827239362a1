"""The configuration the demo writes into: teams, agents, inboxes and tags.

Small and done through the ORM; what exists is reused, what is missing is
created, so the demo can run on a configured install and appends.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q

from heedful.accounts.models import Role, Team, TeamMembership, User
from heedful.conversations.models import Tag
from heedful.demo import texts
from heedful.inboxes.models import Inbox
from heedful.inboxes.registry import get_adapter
from heedful.service_levels.models import BusinessHours
from heedful.surveys.models import InboxSurveyPolicy

# (name, kind, address, team). The web form inbox is reused whatever its name.
INBOXES = (
    ("Support email", "email", "support@example.com", "Support"),
    ("Billing email", "email", "billing@example.com", "Billing"),
    ("Web form", "webform", "", None),
    ("Live chat", "chat", "", "Support"),
    ("SMS", "sms", "+14155550100", "Support"),
    ("WhatsApp", "whatsapp", "+14155550101", "Support"),
    ("Phone", "voice", "+14155550102", "Support"),
)
TEAMS = ("Support", "Billing")
# Which demo agents join which team (by position in texts.AGENT_NAMES).
TEAM_MEMBERS = {"Support": (0, 1, 2, 3, 4, 6, 7), "Billing": (5, 6, 2)}
# Inboxes that also ask how easy it was (CES); every demo inbox asks CSAT.
CES_INBOXES = ("Billing email", "Live chat")
OFFICE_HOURS = "Office hours (demo)"
OFFICE_DAY = [["08:00", "18:00"]]
TAG_COLORS = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#64748b")


@dataclass(frozen=True)
class InboxInfo:
    id: int
    kind: str
    name: str
    team_id: int | None
    identity_kind: str


@dataclass(frozen=True)
class AgentInfo:
    id: int
    first_name: str


@dataclass
class Workspace:
    inboxes: dict[str, list[InboxInfo]]  # channel kind -> inboxes, the main one first
    billing_inbox: InboxInfo | None
    # Where a reply to an identity of this kind goes when the conversation's own
    # inbox cannot reach it: the first active inbox by id, as the reply service picks.
    reply_inbox: dict[str, InboxInfo]
    agents: dict[int | None, list[AgentInfo]]  # team id (None: no team) -> who works it
    leads: dict[int | None, list[AgentInfo]]
    tags: dict[str, int] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    # inbox id -> what its survey policy sends after a solve
    surveys: dict[int, "SurveyPolicy"] = field(default_factory=dict)
    # inbox id -> its business hours, for the business-time metrics
    business_hours: dict[int, BusinessHours] = field(default_factory=dict)


@dataclass(frozen=True)
class SurveyPolicy:
    csat: bool
    ces: bool
    delay_seconds: int


def prepare_workspace() -> Workspace:
    created: list[str] = []
    teams = _ensure_teams(created)
    _ensure_agents(teams, created)
    inboxes = _ensure_inboxes(teams, created)
    agents, leads = _agents_by_team()
    return Workspace(
        inboxes=inboxes,
        billing_inbox=next(
            (i for i in inboxes.get("email", []) if i.name == "Billing email"), None
        ),
        reply_inbox=_reply_inboxes(),
        agents=agents,
        leads=leads,
        tags=_ensure_tags(created),
        created=created,
        surveys=_ensure_survey_policies(created),
        business_hours=_ensure_business_hours(created),
    )


def _ensure_teams(created: list[str]) -> dict[str, Team]:
    if Team.objects.exists():
        return {t.name: t for t in Team.objects.all()}
    for name in TEAMS:
        Team.objects.create(name=name)
    created.append(f"{len(TEAMS)} teams")
    return {t.name: t for t in Team.objects.all()}


def _ensure_agents(teams: dict[str, Team], created: list[str]) -> None:
    if User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.LEAD]).exists():
        return
    for position, (name, role) in enumerate(texts.AGENT_NAMES):
        email = name.lower().replace(" ", ".") + "@demo.heedful.invalid"
        user = User.objects.filter(email=email).first()
        if user is None:
            # Demo agents cannot sign in until an admin sets a password.
            user = User.objects.create_user(email=email, password=None, name=name, role=role)
        for team_name, members in TEAM_MEMBERS.items():
            if position in members and team_name in teams:
                TeamMembership.objects.get_or_create(
                    team=teams[team_name], user=user, defaults={"is_lead": role == Role.LEAD}
                )
    created.append(f"{len(texts.AGENT_NAMES)} agents")


def _ensure_inboxes(teams: dict[str, Team], created: list[str]) -> dict[str, list[InboxInfo]]:
    for name, kind, address, team_name in INBOXES:
        if kind == "webform" and Inbox.objects.filter(kind="webform").exists():
            continue
        if Inbox.objects.filter(name=name).exists():
            continue
        team = teams.get(team_name) if team_name else None
        Inbox.objects.create(name=name, kind=kind, address=address, team=team)
        created.append(f"inbox {name}")
    wanted = {name: position for position, (name, *_rest) in enumerate(INBOXES)}
    by_kind: dict[str, list[InboxInfo]] = {}
    active = Inbox.objects.filter(is_active=True).order_by("pk")
    for inbox in sorted(active, key=lambda i: (wanted.get(i.name, len(wanted)), i.pk)):
        try:
            identity_kind = get_adapter(inbox.kind).identity_kind
        except LookupError:
            continue
        info = InboxInfo(inbox.pk, inbox.kind, inbox.name, inbox.team_id, identity_kind)
        by_kind.setdefault(inbox.kind, []).append(info)
    return by_kind


def _reply_inboxes() -> dict[str, InboxInfo]:
    found: dict[str, InboxInfo] = {}
    for inbox in Inbox.objects.filter(is_active=True).order_by("pk"):
        try:
            identity_kind = get_adapter(inbox.kind).identity_kind
        except LookupError:
            continue
        if identity_kind not in found:
            found[identity_kind] = InboxInfo(
                inbox.pk, inbox.kind, inbox.name, inbox.team_id, identity_kind
            )
    return found


def _agents_by_team() -> tuple[
    dict[int | None, list[AgentInfo]], dict[int | None, list[AgentInfo]]
]:
    """Who may work each team's conversations: its members, else the admins."""
    users = User.objects.filter(is_active=True).order_by("pk")
    everyone = [_info(u) for u in users.filter(role__in=[Role.AGENT, Role.LEAD])]
    admins = [_info(u) for u in users.filter(Q(role=Role.ADMIN) | Q(is_superuser=True))]
    agents: dict[int | None, list[AgentInfo]] = {None: everyone or admins}
    leads: dict[int | None, list[AgentInfo]] = {None: admins}
    for team in Team.objects.order_by("pk"):
        members = users.filter(teams=team, role__in=[Role.AGENT, Role.LEAD])
        agents[team.pk] = [_info(u) for u in members] or admins
        team_leads = members.filter(
            Q(role=Role.LEAD) | Q(teammembership__is_lead=True, teammembership__team=team)
        ).distinct()
        leads[team.pk] = [_info(u) for u in team_leads] or admins
    return agents, leads


def _info(user: User) -> AgentInfo:
    return AgentInfo(user.pk, (user.name or user.email).split()[0].split("@")[0])


def _ensure_tags(created: list[str]) -> dict[str, int]:
    topics = (*texts.TOPICS, texts.PORTAL_TOPIC)
    names = sorted({tag for topic in topics for tag in topic.tags})
    existing = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    missing = [n for n in names if n not in existing]
    for position, name in enumerate(missing):
        Tag.objects.create(name=name, color=TAG_COLORS[position % len(TAG_COLORS)])
    if missing:
        created.append(f"{len(missing)} tags")
    return dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))


def _ensure_survey_policies(created: list[str]) -> dict[int, SurveyPolicy]:
    """CSAT after every solve, CES too on a couple of inboxes; existing policies stay."""
    made = 0
    for inbox in Inbox.objects.filter(survey_policy__isnull=True, is_active=True):
        InboxSurveyPolicy.objects.create(
            inbox=inbox, send_csat=True, send_ces=inbox.name in CES_INBOXES
        )
        made += 1
    if made:
        created.append(f"{made} inbox survey policies")
    return {
        p.inbox_id: SurveyPolicy(p.send_csat, p.send_ces, p.delay_minutes * 60)
        for p in InboxSurveyPolicy.objects.all()
    }


def _ensure_business_hours(created: list[str]) -> dict[int, BusinessHours]:
    """Weekday office hours with public holidays, on the demo's inboxes that have none."""
    names = [name for name, *_rest in INBOXES]
    bare = Inbox.objects.filter(name__in=names, business_hours__isnull=True)
    if bare.exists():
        hours, made = BusinessHours.objects.get_or_create(
            name=OFFICE_HOURS,
            defaults={
                "time_zone": settings.TIME_ZONE,
                "schedule": {day: OFFICE_DAY for day in ("mon", "tue", "wed", "thu", "fri")},
                "holiday_country": "US",
            },
        )
        if made:
            created.append("business hours")
        bare.update(business_hours=hours)
    return {
        inbox.pk: inbox.business_hours
        for inbox in Inbox.objects.filter(business_hours__isnull=False).select_related(
            "business_hours"
        )
        if inbox.business_hours is not None
    }
