"""Survey invitations and responses, as the surveys services would have written them.

CSAT (and CES where the inbox's policy asks it) go out after a solved
conversation that had an agent reply (CSAT_SAMPLE of them); NPS goes out in
waves every 90 days to customers with recent contact. Both respect the fatigue
rule (no customer gets two surveys within FATIGUE_DAYS; the CSAT and CES of one
conversation go out together and count as one survey) and opt-outs: a few
customers unsubscribe from their first survey and get none after it.

Rows are tuples in the column order of `demo.load.TABLES`. Each invitation's
`rollup_state` is what `insights.rollups.survey_state` says it contributes, so
the rollups rebuilt at the end of the load and the per-invitation states agree.
"""

import hashlib
import json
import math
import random
from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from heedful.demo import texts

Row = tuple[Any, ...]
DAY = 86400
FATIGUE_DAYS = 14  # SurveySettings.fatigue_days' default
EXPIRY_DAYS = 14  # SurveySettings.expiry_days' default
NPS_EVERY_DAYS = 90  # SurveySettings.nps_every_days' default
NPS_RECENT_DAYS = 30  # SurveySettings.nps_recent_contact_days' default
# Share of eligible conversations surveyed: all, as SurveySettings.sample_percent's default
# says (and enough answers for the detector to find the portal's CSAT drop in a 9,000-
# conversation demo; at 70% it found it on some dates only).
CSAT_SAMPLE = 1.0
OPT_OUT_SHARE = 0.005  # customers who unsubscribe from their first survey
RESPONSE_RATE = {"csat": 0.32, "ces": 0.3, "nps": 0.25}
# Customers lost in the new portal are keener to say so.
PORTAL_RESPONSE_RATE = 0.45
# Weights of each score, lowest first.
SCORE_WEIGHTS = {
    "csat": (4, 4, 8, 30, 54),
    "ces": (5, 7, 15, 33, 40),
    "nps": (2, 1, 1, 2, 2, 4, 6, 10, 18, 26, 28),
}
PORTAL_CSAT_WEIGHTS = (30, 30, 24, 10, 6)
PORTAL_CES_WEIGHTS = (35, 30, 20, 10, 5)
SCALE_START = {"csat": 1, "ces": 1, "nps": 0}
# Low scores come with a reason more often than high ones.
COMMENT_SHARE = {"low": 0.6, "middle": 0.4, "high": 0.25}
COMMENTS = {"csat": texts.CSAT_COMMENTS, "ces": texts.CES_COMMENTS, "nps": texts.NPS_COMMENTS}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAIL_DOMAIN = "example.com"  # the demo's support address

Stamp = Callable[[int], str]


@dataclass
class Ledger:
    """Who was surveyed when, and who opted out: carried from chunk to chunk."""

    opt_out_candidates: frozenset[int]  # customer positions
    sent: dict[int, list[int]] = field(default_factory=dict)  # position -> send times
    opted_out: dict[int, int] = field(default_factory=dict)  # position -> since when

    def allows(self, position: int, t: int) -> bool:
        since = self.opted_out.get(position)
        if since is not None and since <= t:
            return False
        times = self.sent.get(position)
        if not times:
            return True
        at = bisect_left(times, t)
        window = FATIGUE_DAYS * DAY
        if at < len(times) and times[at] - t < window:
            return False
        return not (at > 0 and t - times[at - 1] < window)

    def record(self, position: int, t: int) -> None:
        insort(self.sent.setdefault(position, []), t)


def make_ledger(seed: int, customers: int) -> Ledger:
    rng = random.Random(f"heedful-demo:{seed}:survey-opt-outs")
    count = min(customers, max(2, round(customers * OPT_OUT_SHARE)))
    return Ledger(frozenset(rng.sample(range(customers), count)))


class Rows(Protocol):
    """Where the rows go: a story's Batch, or the NPS waves' own lists."""

    invitations: list[Row]
    responses: list[Row]
    opt_outs: list[Row]


class Ids(Protocol):
    invitation: int  # the next invitation id, advanced as rows are made


@dataclass
class SurveyRows:
    invitations: list[Row] = field(default_factory=list)
    responses: list[Row] = field(default_factory=list)
    opt_outs: list[Row] = field(default_factory=list)


@dataclass
class Subject:
    """What an invitation is about: one solved conversation, or none (NPS)."""

    customer_position: int
    customer_id: int
    conversation_id: int | None = None
    inbox_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    channel: str = ""  # the conversation's channel until the survey is sent
    tag_ids: list[int] = field(default_factory=list)
    portal: bool = False


class Writer:
    """Makes invitation, response and opt-out rows into `rows`, ids from `ids`."""

    def __init__(self, rows: Rows, ids: Ids, ledger: Ledger, until: int, stamp: Stamp) -> None:
        self.rows = rows
        self.ids = ids
        self.ledger = ledger
        self.until = until
        self.stamp = stamp

    def after_solve(
        self,
        rng: random.Random,
        subject: Subject,
        *,
        solved: int,
        kinds: tuple[str, ...],
        delay: int,
    ) -> None:
        """The post-resolution surveys of one conversation, if it is sampled and allowed."""
        if not kinds or rng.random() >= CSAT_SAMPLE:
            return
        due = solved + delay
        if due > self.until + DAY or not self.ledger.allows(subject.customer_position, due):
            return
        self.ledger.record(subject.customer_position, due)
        for kind in kinds:
            self._invite(rng, kind, subject, created=solved, due=due)

    def wave(self, rng: random.Random, subject: Subject, at: int) -> None:
        """One customer's relationship (NPS) survey of the wave that runs at `at`."""
        if not self.ledger.allows(subject.customer_position, at):
            return
        self.ledger.record(subject.customer_position, at)
        self._invite(rng, "nps", subject, created=at, due=at)

    def _invite(
        self,
        rng: random.Random,
        kind: str,
        subject: Subject,
        *,
        created: int,
        due: int,
    ) -> None:
        invitation_id = self.ids.invitation
        self.ids.invitation += 1
        token = f"{rng.getrandbits(128):032x}{invitation_id:x}"
        sent = due + rng.randint(5, 90)  # the periodic sender's next round
        invitation: dict[str, Any] = {
            "id": invitation_id,
            "kind": kind,
            "customer_id": subject.customer_id,
            "conversation_id": subject.conversation_id,
            "inbox_id": subject.inbox_id,
            "team_id": subject.team_id,
            "agent_id": subject.agent_id,
            "channel": subject.channel,
            "language": "en",
            "status": "scheduled",
            "token_hash": None,
            "due_at": due,
            "sent_at": None,
            "expires_at": None,
            "error": "",
            "message_id": "",
            "created_at": created,
        }
        response: dict[str, Any] | None = None
        if sent <= self.until:
            # Every survey goes by email (surveys.delivery); sending records the channel.
            invitation.update(
                status="sent",
                channel="email",
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                sent_at=sent,
                expires_at=sent + EXPIRY_DAYS * DAY,
                message_id=f"<{rng.getrandbits(128):032x}@{MAIL_DOMAIN}>",
            )
            response = self._response(rng, kind, subject, invitation)
            self._maybe_opt_out(rng, subject, sent)
        if response is not None:
            invitation["status"] = "answered"
        self._write(invitation, response)

    def _response(
        self, rng: random.Random, kind: str, subject: Subject, invitation: dict[str, Any]
    ) -> dict[str, Any] | None:
        rate = PORTAL_RESPONSE_RATE if subject.portal else RESPONSE_RATE[kind]
        if rng.random() >= rate:
            return None
        sent = invitation["sent_at"]
        # Most answer within hours of the email; a few days later at most.
        responded = sent + min(int(rng.lognormvariate(math.log(3 * 3600), 1.2)), 10 * DAY)
        if responded > self.until:
            return None
        weights = SCORE_WEIGHTS[kind]
        if subject.portal and kind != "nps":
            weights = PORTAL_CSAT_WEIGHTS if kind == "csat" else PORTAL_CES_WEIGHTS
        score = SCALE_START[kind] + rng.choices(range(len(weights)), weights)[0]
        band = _band(kind, score)
        comment = ""
        if rng.random() < COMMENT_SHARE[band]:
            pool = texts.PORTAL_COMMENTS if subject.portal else COMMENTS[kind]
            comment = rng.choice(pool[band])
        # The follow-up page submitted (with or without words) makes the answer final.
        completed = bool(comment) or rng.random() < 0.6
        updated = responded + (rng.randint(20, 240) if completed else 0)
        return {
            "invitation_id": invitation["id"],
            "kind": kind,
            "score": score,
            "comment": comment,
            "completed": completed,
            "customer_id": subject.customer_id,
            "conversation_id": subject.conversation_id,
            "inbox_id": subject.inbox_id,
            "team_id": subject.team_id,
            "agent_id": subject.agent_id,
            "channel": invitation["channel"],
            "tag_ids": sorted(subject.tag_ids),
            "responded_at": responded,
            "updated_at": min(updated, self.until),
        }

    def _maybe_opt_out(self, rng: random.Random, subject: Subject, sent: int) -> None:
        position = subject.customer_position
        if position not in self.ledger.opt_out_candidates or position in self.ledger.opted_out:
            return
        since = sent + rng.randint(600, 6 * 3600)
        if since > self.until:
            return
        self.ledger.opted_out[position] = since
        source = rng.choice(("link", "list-unsubscribe"))
        self.rows.opt_outs.append((subject.customer_id, self.stamp(since), source))

    def _write(self, invitation: dict[str, Any], response: dict[str, Any] | None) -> None:
        state = rollup_state(invitation, response)
        stamp = self.stamp
        values = [_stored(name, invitation[name], stamp) for name in INVITATION_COLUMNS[:-1]]
        self.rows.invitations.append((*values, json.dumps(state, sort_keys=True)))
        if response is not None:
            self.rows.responses.append(
                tuple(_stored(name, response[name], stamp) for name in RESPONSE_COLUMNS)
            )


INVITATION_COLUMNS = (
    "id", "kind", "customer_id", "conversation_id", "inbox_id", "team_id", "agent_id",
    "channel", "language", "status", "token_hash", "due_at", "sent_at", "expires_at",
    "error", "message_id", "created_at", "rollup_state",
)  # fmt: skip
RESPONSE_COLUMNS = (
    "invitation_id", "kind", "score", "comment", "completed", "customer_id",
    "conversation_id", "inbox_id", "team_id", "agent_id", "channel", "tag_ids",
    "responded_at", "updated_at",
)  # fmt: skip
OPT_OUT_COLUMNS = ("customer_id", "created_at", "source")
_TIMES = frozenset({"due_at", "sent_at", "expires_at", "created_at", "responded_at", "updated_at"})


def _stored(name: str, value: Any, stamp: Stamp) -> Any:
    if value is None:
        return None
    if name in _TIMES:
        return stamp(value)
    if name == "tag_ids":
        return json.dumps(value)
    if name == "completed":
        return int(value)
    return value


def _band(kind: str, score: int) -> str:
    if kind == "nps":
        return "low" if score <= 6 else "middle" if score <= 8 else "high"
    return "low" if score <= 2 else "middle" if score == 3 else "high"


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else EPOCH + timedelta(seconds=seconds)


def rollup_state(invitation: dict[str, Any], response: dict[str, Any] | None) -> dict[str, Any]:
    """What `insights.rollups.survey_state` says this invitation adds to the rollups."""
    from heedful.insights.rollups import survey_state
    from heedful.surveys.models import SurveyInvitation, SurveyResponse

    made = SurveyInvitation(
        **{name: _moment(value) if name in _TIMES else value for name, value in invitation.items()}
    )
    answer = None
    if response is not None:
        answer = SurveyResponse(
            **{
                name: _moment(value) if name in _TIMES else value
                for name, value in response.items()
            }
        )
    return dict(survey_state(made, answer))
