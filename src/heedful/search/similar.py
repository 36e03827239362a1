"""Similar solved conversations, for the assist panel beside a reply.

The open conversation's distinctive words (the same choice of words as article
suggestions) are OR-ed into one full-text query over the message index: FTS5 with
bm25 on SQLite, the GIN expression index with ts_rank on PostgreSQL. Only messages
of solved or closed conversations the agent may see are read -- the access rule is
inside the query, so what the agent may not see never crowds out what they may --
and only the newest CANDIDATES matching messages are ranked, so a common word over
millions of messages costs a bounded amount of work. Each conversation scores the
sum of its messages' scores; the best few are shown with the agent's final reply.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import OuterRef, Subquery

from heedful.conversations.access import visible_filter
from heedful.conversations.models import (
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    Status,
)
from heedful.search import text
from heedful.search.articles import distinctive_words

if TYPE_CHECKING:
    from heedful.accounts.models import User

MESSAGE_FTS = "search_message_fts"
# PostgreSQL: each message's words, stored and GIN-indexed (search migration 0003).
PG_DOCUMENT = "m.search_tsv"
CANDIDATES = 2000
LATEST_MESSAGES = 3
SNIPPET_CHARS = 220
SOLVED = (Status.SOLVED.value, Status.CLOSED.value)
_SPACE = re.compile(r"\s+")


@dataclass
class SimilarConversation:
    conversation: Conversation
    score: float
    final_reply: str  # the start of the agent's last reply, plain text
    solved_at: datetime | None


def conversation_text(conversation: Conversation) -> str:
    """What a conversation is about: its subject and the customer's latest messages."""
    latest = (
        conversation.messages.filter(direction=Direction.INBOUND, is_note=False)
        .order_by("-created_at", "-id")
        .values_list("body_text", flat=True)[:LATEST_MESSAGES]
    )
    return "\n".join([conversation.subject, *latest])


def similar_solved(
    conversation: Conversation, user: "User | Any", *, limit: int = 5
) -> list[SimilarConversation]:
    """Solved or closed conversations `user` may see that share distinctive words
    with `conversation` (never itself), best first."""
    chosen = distinctive_words(conversation_text(conversation))
    if not chosen:
        return []
    query = text.any_of([text.Term((word,)) for word in chosen])
    ranked = _ranked_ids(query, conversation.pk, user, limit)
    if not ranked:
        return []
    final = (
        Message.objects.filter(
            conversation=OuterRef("pk"), direction=Direction.OUTBOUND, is_note=False
        )
        .exclude(delivery_status=DeliveryStatus.CANCELLED)
        .order_by("-created_at", "-id")
        .values("body_text")[:1]
    )
    found = Conversation.objects.filter(pk__in=ranked).annotate(final_reply=Subquery(final))
    by_id = {c.pk: c for c in found}
    return [
        SimilarConversation(
            conversation=by_id[pk],
            score=score,
            final_reply=_short(by_id[pk].final_reply or ""),  # type: ignore[attr-defined]
            solved_at=by_id[pk].solved_at,
        )
        for pk, score in ranked.items()
        if pk in by_id
    ]


def _short(body: str) -> str:
    flat = _SPACE.sub(" ", body).strip()
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def _ranked_ids(
    query: text.Query, exclude_id: int, user: "User | Any", limit: int
) -> dict[int, float]:
    """{conversation id: score}, best first."""
    allowed = Conversation.objects.filter(visible_filter(user), status__in=SOLVED).values("pk")
    allowed_sql, allowed_params = allowed.query.sql_with_params()
    if connection.vendor == "sqlite":
        candidates = (
            f"SELECT m.conversation_id AS cid, -bm25({MESSAGE_FTS}) AS score "
            f"FROM {MESSAGE_FTS} JOIN conversations_message m ON m.id = {MESSAGE_FTS}.rowid "
            f"WHERE {MESSAGE_FTS} MATCH %s AND m.conversation_id <> %s "
            f"AND m.conversation_id IN ({allowed_sql}) "
            f"ORDER BY {MESSAGE_FTS}.rowid DESC LIMIT %s"
        )
        match: str = query.fts5("OR")
    else:
        candidates = (
            f"SELECT m.conversation_id AS cid, ts_rank({PG_DOCUMENT}, q.q) AS score "
            "FROM conversations_message m, to_tsquery('simple', %s) AS q(q) "
            f"WHERE {PG_DOCUMENT} @@ q.q AND m.conversation_id <> %s "
            "AND m.delivery_status <> 'cancelled' "
            f"AND m.conversation_id IN ({allowed_sql}) "
            "ORDER BY m.id DESC LIMIT %s"
        )
        match = query.tsquery("|")
    sql = (
        f"SELECT cid, SUM(score) AS total FROM ({candidates}) AS found "
        "GROUP BY cid ORDER BY total DESC, cid DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, exclude_id, *allowed_params, CANDIDATES, limit])
        return {int(cid): float(total) for cid, total in cursor.fetchall()}
