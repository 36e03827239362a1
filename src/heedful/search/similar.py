"""Similar solved conversations, for the assist panel beside a reply.

The open conversation's distinctive words (the same choice of words as article
suggestions, less those held by too many messages) are OR-ed into one full-text
query over the message index: FTS5 with
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

from django.core.cache import cache
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
CANDIDATES = 1000
# Words held by more messages than this (or a tenth of a small corpus) say little
# about a conversation and cost the most to look up (SQLite's bm25 reads each query
# word's whole message list), so they are left out: SQLite counts them in the FTS5
# vocabulary, PostgreSQL estimates them from its statistics.
MAX_WORD_MESSAGES = 20_000
MAX_WORDS = 8
COUNT_SECONDS = 3600
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
    chosen = _rare_enough(chosen) if connection.vendor == "sqlite" else _not_common(chosen)
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


def _rare_enough(words: list[str]) -> list[str]:
    """The words found in some messages but not in too many, rarest first (SQLite)."""
    if not words:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(rowid) FROM {MESSAGE_FTS}")
        ceiling = max(50, min(MAX_WORD_MESSAGES, (cursor.fetchone()[0] or 0) // 10))
    counts = _message_counts(words, ceiling)
    kept = [w for w in words if 0 < counts[w] <= ceiling]
    return sorted(kept, key=lambda w: counts[w])[:MAX_WORDS]


def _message_counts(words: list[str], ceiling: int) -> dict[str, int]:
    """How many messages hold each word, counted up to ceiling + 1.

    FTS5 keeps no per-word totals (its vocabulary table counts by reading the word's
    whole list), so each word is counted with a LIMIT, which bounds the work, and the
    answer is cached for an hour: support words recur from one conversation to the
    next, and a count only decides "too common or not"."""
    keys = {word: f"similar-count:{ceiling}:{word}" for word in words}
    cached = cache.get_many(list(keys.values()))
    counts = {word: cached[key] for word, key in keys.items() if key in cached}
    missing = [word for word in words if word not in counts]
    with connection.cursor() as cursor:
        for word in missing:
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {MESSAGE_FTS} "
                f"WHERE {MESSAGE_FTS} MATCH %s LIMIT %s)",
                [text.Term((word,)).fts5(), ceiling + 1],
            )
            counts[word] = int(cursor.fetchone()[0])
    cache.set_many({keys[word]: counts[word] for word in missing}, COUNT_SECONDS)
    return counts


def _not_common(words: list[str]) -> list[str]:
    """PostgreSQL: leave out the words its statistics list as held by too many
    messages (the same ceiling as on SQLite); a word missing there is rare enough.

    `pg_stats` is the planner's sample (most common elements of the stored tsvector,
    kept by ANALYZE): a catalog read, no scan. Without statistics, every word stays."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
            "FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename "
            "WHERE s.tablename = 'conversations_message' AND s.attname = 'search_tsv' "
            "AND s.schemaname = current_schema()"
        )
        row = cursor.fetchone()
    if not row or not row[0]:
        return words[:MAX_WORDS]
    elements, freqs, rows = row
    share = dict(zip(elements, freqs, strict=False))
    ceiling = max(50, min(MAX_WORD_MESSAGES, int(rows) // 10))
    kept = [w for w in words if share.get(w, 0.0) * max(rows, 0) <= ceiling]
    return sorted(kept, key=lambda w: share.get(w, 0.0))[:MAX_WORDS]


def _access_condition(user: "User | Any") -> tuple[str, list[Any]]:
    """The access rule (and "solved or closed") as a condition on the joined
    conversations table, checked per candidate: an `IN (subquery)` would make SQLite
    list every visible conversation first, a scan of the whole table."""
    allowed = Conversation.objects.filter(visible_filter(user), status__in=SOLVED)
    compiler = allowed.query.get_compiler(connection=connection)
    sql, params = compiler.compile(allowed.query.where)
    return sql or "1 = 1", list(params)


def _ranked_ids(
    query: text.Query, exclude_id: int, user: "User | Any", limit: int
) -> dict[int, float]:
    """{conversation id: score}, best first."""
    access_sql, access_params = _access_condition(user)
    conversations = (
        "JOIN conversations_conversation ON conversations_conversation.id = m.conversation_id"
    )
    if connection.vendor == "sqlite":
        candidates = (
            f"SELECT m.conversation_id AS cid, -bm25({MESSAGE_FTS}) AS score "
            f"FROM {MESSAGE_FTS} JOIN conversations_message m ON m.id = {MESSAGE_FTS}.rowid "
            f"{conversations} "
            f"WHERE {MESSAGE_FTS} MATCH %s AND m.conversation_id <> %s AND ({access_sql}) "
            f"ORDER BY {MESSAGE_FTS}.rowid DESC LIMIT %s"
        )
        match: str = query.fts5("OR")
    else:
        candidates = (
            f"SELECT m.conversation_id AS cid, ts_rank({PG_DOCUMENT}, q.q) AS score "
            f"FROM to_tsquery('simple', %s) AS q(q), conversations_message m {conversations} "
            f"WHERE {PG_DOCUMENT} @@ q.q AND m.conversation_id <> %s "
            f"AND m.delivery_status <> 'cancelled' AND ({access_sql}) "
            "ORDER BY m.id DESC LIMIT %s"
        )
        match = query.tsquery("|")
    sql = (
        f"SELECT cid, SUM(score) AS total FROM ({candidates}) AS found "
        "GROUP BY cid ORDER BY total DESC, cid DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, exclude_id, *access_params, CANDIDATES, limit])
        return {int(cid): float(total) for cid, total in cursor.fetchall()}
