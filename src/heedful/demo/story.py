"""One conversation's life, written as the services would have written it.

`Thread` mirrors the services step by step (receive, reply plus delivery, note,
assign, set_status, set_priority, tag): each step changes the conversation's
fields the way the service does and appends the same Message, Participant and
ConversationEvent rows, with the same event `data`. `tell` decides the story:
channel, topic, who answers, how long everyone takes and how it ends. Steps
that would happen after the anchor time are never taken, so recent
conversations are naturally still open.

Rows are plain tuples in the column order of `demo.load.TABLES`; times are
whole seconds since the Unix epoch until `Clock` formats them.
"""

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from heedful.conversations.services.receive import PREVIEW_LENGTH
from heedful.demo import surveys, texts
from heedful.demo.people import KIND_BITS, People
from heedful.demo.workspace import AgentInfo, InboxInfo, Workspace
from heedful.insights.facts import FACT_FIELDS, fact_values

Row = tuple[Any, ...]
FACT_COLUMNS = ("conversation_id", *FACT_FIELDS)
_FACT_TIMES = ("created_at", "first_response_at", "solved_at")
# A solved conversation's fact waits for the customer's next conversation (first
# contact resolution asks whether one came soon after the solve). Once the story
# has moved this far past the solve, no later conversation can count any more.
FACT_WAIT = 30 * 86400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Channel kind -> (share of conversations, identity kind the sender needs).
CHANNELS = {
    "email": (34, "email"),
    "webform": (16, "email"),
    "chat": (20, "chat"),
    "voice": (8, "phone"),
    "sms": (8, "phone"),
    "whatsapp": (14, "whatsapp"),
}
LIVE = frozenset({"chat", "voice"})  # a conversation is one session
# Median seconds until the first reply, per channel.
FIRST_REPLY = {
    "email": 3 * 3600,
    "webform": 2.5 * 3600,
    "chat": 90,
    "voice": 1800,
    "sms": 1500,
    "whatsapp": 1200,
}
# How a story ends (before the anchor cuts it short), with weights.
OUTCOMES = (("solved", 83), ("closed", 3), ("pending", 4), ("on_hold", 3), ("open", 4), ("new", 3))


class Clock:
    """Formats epoch seconds the way the database stores a UTC time.

    Called some twenty times per conversation, so it keeps each minute's prefix.
    """

    def __init__(self) -> None:
        self._minutes: dict[int, str] = {}

    def __call__(self, seconds: int) -> str:
        minute, second = divmod(seconds, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            prefix = (EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M:")
            self._minutes[minute] = prefix
        return prefix + _SECONDS[second]


_SECONDS = [f"{n:02d}" for n in range(60)]


@dataclass
class Batch:
    """The rows of one chunk of conversations, per table."""

    conversations: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    participants: list[Row] = field(default_factory=list)
    conversation_tags: list[Row] = field(default_factory=list)
    facts: list[Row] = field(default_factory=list)
    invitations: list[Row] = field(default_factory=list)
    responses: list[Row] = field(default_factory=list)
    opt_outs: list[Row] = field(default_factory=list)
    # Not a table: each conversation's (id, customer position, customer id, created
    # at, channel, topic key), for the help-center visits that go with it (demo.help).
    contacts: list[Row] = field(default_factory=list)
    inbound: int = 0
    replies: int = 0
    notes: int = 0


@dataclass
class Ids:
    """The next id to use per table, advanced as rows are made."""

    conversation: int
    message: int
    number: int
    invitation: int = 1


@dataclass
class Setting:
    """Everything a story needs that is the same for every conversation."""

    workspace: Workspace
    people: People
    until: int
    clock: Clock
    channel_choices: dict[int, tuple[list[str], list[int]]]  # identity mask -> channels, weights
    topic_weights: list[int]
    ledger: surveys.Ledger
    # When the self-service portal launched (the scenario), or None: no portal yet.
    portal_launch: int | None = None
    facts: "PendingFacts" = field(default_factory=lambda: PendingFacts())


# After the portal launch this share of conversations is about finding one's way
# in it: the launch brings some 12% more conversations (generator.PORTAL_UPLIFT),
# most of them these.
PORTAL_SHARE = 0.12
PORTAL_TAGGED = 0.9  # agents tag these more diligently than most


def make_setting(
    workspace: Workspace,
    people: People,
    until: int,
    clock: Clock,
    ledger: surveys.Ledger,
    portal_launch: int | None = None,
) -> Setting:
    choices: dict[int, tuple[list[str], list[int]]] = {}
    for mask in range(32):
        kinds = [
            kind
            for kind, (_share, identity_kind) in CHANNELS.items()
            if kind in workspace.inboxes and mask & KIND_BITS[identity_kind]
        ]
        choices[mask] = (kinds, [CHANNELS[k][0] for k in kinds])
    return Setting(
        workspace,
        people,
        until,
        clock,
        choices,
        [topic.weight for topic in texts.TOPICS],
        ledger,
        portal_launch,
    )


def _json(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


class Thread:
    """A conversation being written; methods are the services' steps."""

    def __init__(
        self, setting: Setting, batch: Batch, ids: Ids, inbox: InboxInfo, customer: int, t: int
    ) -> None:
        self.setting = setting
        self.ts = setting.clock
        self.batch = batch
        self.ids = ids
        self.id = ids.conversation
        self.number = ids.number
        ids.conversation += 1
        ids.number += 1
        self.inbox = inbox
        self.customer_position = customer
        self.customer_id = setting.people.first_customer_id + customer
        self.t = t
        self.created = t
        self.updated = t
        self.status = "new"
        self.priority = 1
        self.assignee: int | None = None
        self.first_response: int | None = None
        self.solved: int | None = None
        self.waiting: int | None = None
        self.last_message = t
        self.last_text = ""
        self.reopen_count = 0
        self.message_count = 0
        self.inbound = 0
        self.replies = 0
        self.last_sender: tuple[int, str] | None = None  # identity id, kind
        self.joined: set[tuple[str, int]] = set()
        self.tags: list[str] = []
        self.subject = ""
        self.first_solved: int | None = None
        self.first_reopened: int | None = None

    # --- time -------------------------------------------------------------

    def wait(self, seconds: float) -> bool:
        """Move the clock on; False once the story would pass the anchor."""
        self.t += max(30, int(seconds))
        return self.t <= self.setting.until

    # --- rows ------------------------------------------------------------------

    def _event(self, type_: str, actor_type: str, actor: int | None, data: str, t: int) -> None:
        self.batch.events.append((type_, actor_type, data, self.ts(t), actor, self.id))

    def _join(self, *, identity: int | None = None, agent: int | None = None, role: str) -> None:
        key = ("i", identity) if identity is not None else ("a", agent or 0)
        if key in self.joined:
            return
        self.joined.add(key)
        self.batch.participants.append((role, self.ts(self.t), agent, self.id, identity))

    def _message(self, **fields: Any) -> int:
        mid = self.ids.message
        self.ids.message += 1
        f = fields
        self.batch.messages.append(
            (
                mid,
                f["direction"],
                f.get("is_note", 0),
                f["author_type"],
                f["text"],
                "",
                f.get("external_id"),
                0,
                f.get("delivery_status", ""),
                f.get("attempts", 0),
                None,
                "",
                f.get("sent_at"),
                self.ts(self.t),
                f.get("agent"),
                self.id,
                f["inbox"],
                f.get("recipient"),
                f.get("sender"),
            )
        )
        return mid

    # --- the services ----------------------------------------------------------

    def receive(
        self, text: str, identity: tuple[int, str], inbox: InboxInfo, external_id: str | None
    ) -> None:
        """receive(): open or reopen, store the message, add the participant, touch."""
        t = self.t
        if self.message_count == 0 and self.inbound == 0:
            data = f'{{"channel": "{self.inbox.kind}", "inbox_id": {self.inbox.id}, "spam": false}}'
            self._event("created", "customer", None, data, t)
        elif self.status == "solved":
            self.status = "open"
            self.reopen_count += 1
            self.first_reopened = self.first_reopened or t
            self.solved = None
            data = f'{{"from": "solved", "to": "open", "reopen_count": {self.reopen_count}}}'
            self._event("reopened", "customer", None, data, t)
        mid = self._message(
            direction="in",
            author_type="customer",
            text=text,
            external_id=external_id,
            inbox=inbox.id,
            sender=identity[0],
        )
        self._join(identity=identity[0], role="customer")
        if self.status in ("pending", "on_hold"):
            self.status = "open"
        if self.waiting is None and self.status in ("new", "open", "pending", "on_hold"):
            self.waiting = t
        self.last_message = self.updated = t
        self.last_text = text
        self.message_count += 1
        self.inbound += 1
        self.last_sender = identity
        self.batch.inbound += 1
        data = (
            f'{{"message_id": {mid}, "channel": "{inbox.kind}", '
            f'"identity_id": {identity[0]}, "customer_id": {self.customer_id}}}'
        )
        self._event("message_received", "customer", None, data, t)

    def reply(self, agent: AgentInfo, text: str, rng: random.Random) -> None:
        """reply(), then the delivery that marks it sent and records `delivered`."""
        t = self.t
        assert self.last_sender is not None
        recipient, kind = self.last_sender
        inbox = self.inbox
        if inbox.identity_kind != kind:
            inbox = self.setting.workspace.reply_inbox[kind]
        sent = min(t + rng.randint(2, 20), self.setting.until)
        external_id = None
        if inbox.identity_kind == "email":
            external_id = f"<{rng.getrandbits(64):016x}.{self.ids.message:x}@heedful.example.com>"
        mid = self._message(
            direction="out",
            author_type="agent",
            text=text,
            external_id=external_id,
            inbox=inbox.id,
            agent=agent.id,
            recipient=recipient,
            delivery_status="sent",
            attempts=1,
            sent_at=self.ts(sent),
        )
        if self.first_response is None:
            self.first_response = t
        self.waiting = None
        if self.status == "new":
            self.status = "open"
        self.last_message = self.updated = t
        self.last_text = text
        self.message_count += 1
        self.replies += 1
        self.batch.replies += 1
        self._join(agent=agent.id, role="agent")
        data = (
            f'{{"message_id": {mid}, "channel": "{inbox.kind}", "automatic": false, '
            f'"recipient_identity_id": {recipient}}}'
        )
        self._event("reply_sent", "agent", agent.id, data, t)
        self._event("delivered", "system", None, f'{{"message_id": {mid}}}', sent)

    def note(self, agent: AgentInfo, text: str) -> None:
        mid = self._message(
            direction="out",
            is_note=1,
            author_type="agent",
            text=text,
            inbox=self.inbox.id,
            agent=agent.id,
        )
        self.batch.notes += 1
        self._event("note_added", "agent", agent.id, f'{{"message_id": {mid}}}', self.t)

    def assign(self, agent: AgentInfo, actor: AgentInfo) -> None:
        previous = self.assignee
        self.assignee = agent.id
        self.updated = self.t
        self._join(agent=agent.id, role="agent")
        data = f'{{"from": {_json(previous)}, "to": {agent.id}}}'
        self._event("assigned", "agent", actor.id, data, self.t)

    def set_status(self, status: str, actor: AgentInfo) -> None:
        previous = self.status
        if status == previous:
            return
        self.status = status
        self.updated = self.t
        if status in ("solved", "closed"):
            self.solved = self.solved or self.t
            self.first_solved = self.first_solved or self.t
            self.waiting = None
        reopened = previous == "solved" and status != "closed"
        if reopened:
            self.solved = None
            self.reopen_count += 1
            self.first_reopened = self.first_reopened or self.t
        data = f'{{"from": "{previous}", "to": "{status}", "assignee_id": {_json(self.assignee)}}}'
        self._event("status_changed", "agent", actor.id, data, self.t)
        if reopened:
            data = (
                f'{{"from": "{previous}", "to": "{status}", "reopen_count": {self.reopen_count}}}'
            )
            self._event("reopened", "agent", actor.id, data, self.t)

    def set_priority(self, priority: int, actor: AgentInfo) -> None:
        if priority == self.priority:
            return
        data = f'{{"from": {self.priority}, "to": {priority}}}'
        self.priority = priority
        self.updated = self.t
        self._event("priority_changed", "agent", actor.id, data, self.t)

    def tag(self, names: list[str], actor: AgentInfo) -> None:
        added = sorted(set(names) - set(self.tags))
        if not added:
            return
        self.tags.extend(added)
        tag_ids = self.setting.workspace.tags
        for name in added:
            self.batch.conversation_tags.append((self.id, tag_ids[name]))
        listed = ", ".join(f'"{n}"' for n in added)
        data = f'{{"added": [{listed}], "removed": []}}'
        self._event("tags_changed", "agent", actor.id, data, self.t)

    # --- the finished conversation ------------------------------------------

    def finish(self) -> None:
        ts = self.ts
        preview = " ".join(self.last_text.split())[:PREVIEW_LENGTH]
        self.batch.conversations.append(
            (
                self.id,
                self.number,
                self.subject[:255],
                self.status,
                self.priority,
                0,
                ts(self.created),
                ts(self.updated),
                ts(self.last_message),
                preview,
                _maybe(ts, self.first_response),
                _maybe(ts, self.solved),
                _maybe(ts, self.waiting),
                self.reopen_count,
                self.message_count,
                self.assignee,
                self.customer_id,
                self.inbox.id,
                self.inbox.team_id,
                None,
            )
        )
        tag_ids = self.setting.workspace.tags
        fact = {
            "conversation_id": self.id,
            "inbox_id": self.inbox.id,
            "channel": self.inbox.kind,
            "status": self.status,
            "created_at": _moment(self.created),
            "first_response_at": _maybe(_moment, self.first_response),
            "solved_at": _maybe(_moment, self.solved),
            "public_reply_count": self.replies,
            "customer_message_count": self.inbound,
            "reopen_count": self.reopen_count,
            "solved_by_id": self.assignee,
            "customer_id": self.customer_id,
            "team_id": self.inbox.team_id,
            "tag_ids": [tag_ids[name] for name in self.tags],
            "business_hours": self.setting.workspace.business_hours.get(self.inbox.id),
            "first_solved_at": _maybe(_moment, self.first_solved),
            "first_reopened_at": _maybe(_moment, self.first_reopened),
        }
        self.setting.facts.add(self.batch, self.customer_position, self.first_solved, fact)


class PendingFacts:
    """Fact rows held back until the customer's next conversation is known.

    Conversations are told in the order they were created, so the first later
    conversation of the same customer created at or after a solve is the "next
    conversation" `fact_values` asks for.
    """

    def __init__(self) -> None:
        self.waiting: dict[int, list[tuple[int, dict[str, Any]]]] = {}

    def add(self, batch: Batch, position: int, solved: int | None, fact: dict[str, Any]) -> None:
        if solved is None:
            _write_fact(batch, fact, None)
        else:
            self.waiting.setdefault(position, []).append((solved, fact))

    def contact(self, batch: Batch, position: int, t: int) -> None:
        """The customer opens a conversation at `t`: it is the next one of earlier solves."""
        waiting = self.waiting.get(position)
        if not waiting:
            return
        keep = []
        for solved, fact in waiting:
            if solved <= t:
                _write_fact(batch, fact, _moment(t))
            else:
                keep.append((solved, fact))
        if keep:
            self.waiting[position] = keep
        else:
            del self.waiting[position]

    def flush(self, batch: Batch, before: int | None = None) -> None:
        """Write the facts solved before `before` (all when None) as having no next one."""
        for position in list(self.waiting):
            keep = []
            for solved, fact in self.waiting[position]:
                if before is None or solved < before:
                    _write_fact(batch, fact, None)
                else:
                    keep.append((solved, fact))
            if keep:
                self.waiting[position] = keep
            else:
                del self.waiting[position]


def _write_fact(batch: Batch, fact: dict[str, Any], next_conversation: datetime | None) -> None:
    values = fact_values(**fact, next_conversation_at=next_conversation)
    row = []
    for key in FACT_COLUMNS:
        value = values[key]
        if key in _FACT_TIMES and value is not None:
            value = batch_clock(value)
        elif key == "tag_ids":
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = int(value)
        row.append(value)
    batch.facts.append(tuple(row))


def batch_clock(moment: datetime) -> str:
    return _CLOCK(int(moment.timestamp()))


_CLOCK = Clock()


def _maybe(convert: Callable[[int], Any], seconds: int | None) -> Any:
    return None if seconds is None else convert(seconds)


def _moment(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


# --- the story ------------------------------------------------------------------


def _delay(rng: random.Random, median: float, sigma: float = 1.0) -> float:
    return rng.lognormvariate(math.log(median), sigma)


def tell(setting: Setting, batch: Batch, ids: Ids, rng: random.Random, t: int) -> None:
    """Write one whole conversation that starts at `t`."""
    people = setting.people
    customer = people.pick(rng)
    setting.facts.contact(batch, customer, t)
    kinds, weights = setting.channel_choices[people.masks[customer]]
    channel = rng.choices(kinds, weights)[0]
    topic = rng.choices(texts.TOPICS, setting.topic_weights)[0]
    launch = setting.portal_launch
    if launch is not None and t >= launch and rng.random() < PORTAL_SHARE:
        topic = texts.PORTAL_TOPIC
    inbox = _inbox_for(setting.workspace, channel, topic, rng)
    thread = Thread(setting, batch, ids, inbox, customer, t)
    values = _values(rng, people, customer)
    identity_kind = CHANNELS[channel][1]
    identity = (people.identities[identity_kind][customer], identity_kind)
    opening = _inbound_text(rng, channel, rng.choice(topic.openings), values)
    subject = rng.choice(topic.subjects).format_map(values)
    thread.subject = subject if channel in ("email", "webform") else _first_line(opening)
    thread.receive(opening, identity, inbox, _external_id(rng, channel, ids.message))
    _work(thread, setting, topic, values, rng, channel)
    thread.finish()
    batch.contacts.append((thread.id, customer, thread.customer_id, t, channel, topic.key))
    _survey(thread, setting, rng, topic is texts.PORTAL_TOPIC)


def _survey(thread: Thread, setting: Setting, rng: random.Random, portal: bool) -> None:
    """CSAT and CES after a solve with an agent reply, as the inbox's policy says."""
    if thread.solved is None or not thread.replies:
        return
    policy = setting.workspace.surveys.get(thread.inbox.id)
    if policy is None:
        return
    kinds = tuple(kind for kind, on in (("csat", policy.csat), ("ces", policy.ces)) if on)
    # Surveys go by email (surveys.delivery): a customer without an address gets none.
    if not setting.people.identities["email"][thread.customer_position]:
        return
    tag_ids = setting.workspace.tags
    subject = surveys.Subject(
        customer_position=thread.customer_position,
        customer_id=thread.customer_id,
        conversation_id=thread.id,
        inbox_id=thread.inbox.id,
        team_id=thread.inbox.team_id,
        agent_id=thread.assignee,
        channel=thread.inbox.kind,
        tag_ids=[tag_ids[name] for name in thread.tags],
        portal=portal,
    )
    # The surveys service schedules on the first solve; a reopen before the survey
    # goes out cancels it, and the solve after that schedules it again.
    solved = thread.first_solved or thread.solved
    reopened = thread.first_reopened
    if reopened is not None and reopened < solved + policy.delay_seconds:
        solved = thread.solved
    writer = surveys.Writer(thread.batch, thread.ids, setting.ledger, setting.until, setting.clock)
    writer.after_solve(
        rng,
        subject,
        solved=solved,
        kinds=kinds,
        delay=policy.delay_seconds,
    )


def _work(
    thread: Thread,
    setting: Setting,
    topic: texts.Topic,
    values: dict[str, str],
    rng: random.Random,
    channel: str,
) -> None:
    """Triage, answers, follow-ups and the ending, until the anchor stops it."""
    team = thread.inbox.team_id
    workspace = setting.workspace
    agents = workspace.agents.get(team) or workspace.agents.get(None) or []
    if not agents:
        return  # nobody to answer: the conversation stays new
    outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
    live = channel in LIVE
    agent = rng.choice(agents)
    values["agent"] = agent.first_name
    lead = rng.choice(workspace.leads.get(team) or agents)
    if rng.random() < 0.25 and thread.wait(_delay(rng, 90 if live else 900)):
        thread.set_priority(_priority(rng, topic), lead)
    tagged = PORTAL_TAGGED if topic is texts.PORTAL_TOPIC else 0.55
    if rng.random() < tagged and thread.wait(_delay(rng, 60 if live else 600)):
        thread.tag(rng.sample(topic.tags, rng.randint(1, len(topic.tags))), agent)
    if outcome == "new" or thread.t > setting.until:
        return
    if rng.random() < 0.9 and thread.wait(_delay(rng, 45 if live else 1200)):
        thread.assign(agent, lead if rng.random() < 0.4 else agent)
    if rng.random() < 0.1 and thread.wait(_delay(rng, 60 if live else 900)):
        thread.note(agent, rng.choice(topic.notes).format_map(values))
    urgency = (1.0, 1.0, 0.6, 0.3)[thread.priority]
    if not thread.wait(_delay(rng, FIRST_REPLY[channel] * urgency)):
        return
    thread.reply(agent, _reply_text(rng, thread, rng.choice(topic.replies), values), rng)
    while rng.random() < (0.4 if live else 0.25):
        if not _customer_writes(thread, setting, rng, channel, rng.choice(topic.followups), values):
            return
        if rng.random() < 0.08 and thread.wait(_delay(rng, 120)):
            thread.note(agent, rng.choice(texts.FOLLOWUP_NOTES))
        if not thread.wait(_delay(rng, 90 if live else 2 * 3600)):
            return
        thread.reply(agent, _reply_text(rng, thread, rng.choice(topic.next_replies), values), rng)
    _end(thread, setting, topic, values, rng, channel, agent, outcome)


def _end(
    thread: Thread,
    setting: Setting,
    topic: texts.Topic,
    values: dict[str, str],
    rng: random.Random,
    channel: str,
    agent: AgentInfo,
    outcome: str,
) -> None:
    live = channel in LIVE
    if outcome == "open":
        _customer_writes(thread, setting, rng, channel, rng.choice(topic.followups), values)
        return
    if outcome == "on_hold":
        if thread.wait(_delay(rng, 600)):
            thread.note(agent, rng.choice(texts.FOLLOWUP_NOTES))
            thread.set_status("on_hold", agent)
        return
    if outcome == "pending" or (not live and rng.random() < 0.4):
        if not thread.wait(_delay(rng, 120)):
            return
        thread.set_status("pending", agent)
        if outcome == "pending" or not thread.wait(rng.uniform(1, 3) * 86400):
            return
    elif not thread.wait(_delay(rng, 300 if live else 3 * 3600)):
        return
    thread.set_status("solved", agent)
    roll = rng.random()
    if roll < 0.15 and thread.wait(_delay(rng, 6 * 3600)):
        problem = roll < 0.1
        text = rng.choice(texts.REOPEN_MESSAGES if problem else texts.THANKS)
        thread.receive(
            _inbound_text(rng, channel, text, values),
            _identity(thread),
            thread.inbox,
            _external_id(rng, channel, thread.ids.message),
        )
        if problem:
            if not thread.wait(_delay(rng, 90 if live else 3 * 3600)):
                return
            reply = rng.choice(topic.next_replies)
            thread.reply(agent, _reply_text(rng, thread, reply, values), rng)
        if not thread.wait(_delay(rng, 600)):
            return
        thread.set_status("solved", agent)
    if outcome == "closed" and thread.wait(rng.uniform(3, 7) * 86400):
        thread.set_status("closed", agent)


def _customer_writes(
    thread: Thread,
    setting: Setting,
    rng: random.Random,
    channel: str,
    template: str,
    values: dict[str, str],
) -> bool:
    """A follow-up from the customer; now and then by email on a chat or phone case."""
    if not thread.wait(_delay(rng, 120 if channel in LIVE else 4 * 3600, 1.2)):
        return False
    people = setting.people
    email = people.identities["email"][thread.customer_position]
    inboxes = setting.workspace.inboxes.get("email")
    if email and inboxes and channel not in ("email", "webform") and rng.random() < 0.06:
        inbox = inboxes[0]
        text = _inbound_text(rng, "email", template, values)
        thread.receive(
            text, (email, "email"), inbox, _external_id(rng, "email", thread.ids.message)
        )
        return True
    text = _inbound_text(rng, channel, template, values)
    thread.receive(
        text, _identity(thread), thread.inbox, _external_id(rng, channel, thread.ids.message)
    )
    return True


def _identity(thread: Thread) -> tuple[int, str]:
    people = thread.setting.people
    kind = thread.inbox.identity_kind
    return people.identities[kind][thread.customer_position], kind


def _inbox_for(
    workspace: Workspace, channel: str, topic: texts.Topic, rng: random.Random
) -> InboxInfo:
    if topic.billing and channel == "email" and workspace.billing_inbox and rng.random() < 0.7:
        return workspace.billing_inbox
    return workspace.inboxes[channel][0]


def _priority(rng: random.Random, topic: texts.Topic) -> int:
    if rng.random() < topic.urgent_share * 4:
        return 3
    return 2 if rng.random() < 0.65 else 0


def _values(rng: random.Random, people: People, customer: int) -> dict[str, str]:
    return {
        "first": people.first_names[customer],
        "full": people.full_names[customer],
        "agent": "",
        "order": f"A-{rng.randint(100000, 999999)}",
        "product": rng.choice(texts.PRODUCTS),
        "amount": f"${rng.randint(9, 400)}.{rng.choice(('00', '50', '90', '99'))}",
        "invoice": f"INV-{rng.randint(10000, 99999)}",
        "carrier": rng.choice(texts.CARRIERS),
        "days": str(rng.randint(3, 14)),
        "weekday": rng.choice(texts.WEEKDAYS),
        "code": f"{rng.randint(1000, 9999)}",
        "plan": rng.choice(texts.PLANS),
    }


def _inbound_text(rng: random.Random, channel: str, template: str, values: dict[str, str]) -> str:
    wrapper = rng.choice(texts.INBOUND_WRAPPERS[channel])
    return wrapper.format(
        text=template.format_map(values), first=values["first"], full=values["full"]
    )


def _reply_text(rng: random.Random, thread: Thread, template: str, values: dict[str, str]) -> str:
    assert thread.last_sender is not None
    kind = thread.inbox.kind
    if thread.inbox.identity_kind != thread.last_sender[1]:
        kind = thread.setting.workspace.reply_inbox[thread.last_sender[1]].kind
    wrapper = rng.choice(texts.REPLY_WRAPPERS[kind])
    if wrapper.startswith("Hi {first}"):
        # The greeting names the customer already; once is warm, twice is a script.
        template = template.replace(", {first}", "")
    return wrapper.format(
        text=template.format_map(values), first=values["first"], agent=values["agent"]
    )


def _external_id(rng: random.Random, channel: str, message_id: int) -> str | None:
    """Provider ids as the channels send them; the message id keeps them unique."""
    if channel == "email":
        return f"<{rng.getrandbits(64):016x}.{message_id:x}@mail.example.net>"
    if channel == "webform":
        return f"webform:{rng.getrandbits(64):016x}{message_id:012x}"
    return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:80]
