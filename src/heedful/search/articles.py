"""Article search: the help center, the portal and the workspace all call these.

Each ArticleTranslation is indexed with its title weighted above its body: an FTS5
table on SQLite (bm25 with the title 10x the body), a GIN expression index on
PostgreSQL (ts_rank with the title at weight A). What a word is, and what a query
means, is `heedful.search.text` on both.
"""

from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db import connection
from django.utils.safestring import SafeString

from heedful.knowledge.models import Article, ArticleTranslation
from heedful.search import text
from heedful.search.text import Query

Audience = Literal["public", "agents"]
FTS_TABLE = "search_article_fts"
MAX_LIMIT = 100

# Words that say nothing about what an article is about; dropped from free text
# before suggesting (English, German, French, Spanish: the help center's usual).
_STOP_WORDS = """a about after again all also am an and any are as at be because been before
    being but by can cannot could did do does doing don dont for from get got had has
    have having he her here hi hello him his how i if im in into is it its ive just me
    more most my no not now of off on once only or other our out over please same she
    should so some still such than thank thanks that the their them then there these
    they this those through to too under until up very was we were what when where
    which while who why will with would yes you your yours
    aber als am an auch auf aus bei bin bis bitte das dass dem den der des die doch du
    ein eine einem einen einer es für hallo hat habe haben ich ihr im in ist ja kein
    mein meine mit nach nicht noch nur oder schon sehr sie sind und uns von war was
    wie wir zu zum zur
    au avec bonjour ce ces dans de des du elle en est et il je la le les leur ma mais
    me merci mes mon ne nous on ou par pas plus pour que qui sa se ses son sur ta te
    un une vous
    al como con del el en es esta este gracias hola la las lo los mi mis muy no para
    pero por que se su sus un una y yo"""
STOP_WORDS = frozenset(text.fold(w) for w in _STOP_WORDS.split())
# Free text is long; its most distinctive words are enough and keep the query fast.
MAX_SUGGEST_WORDS = 10


@dataclass
class ArticleHit:
    article: Article
    translation: ArticleTranslation
    # Escaped text of the match's neighbourhood with <mark> around the matched words.
    snippet: SafeString
    rank: float


def search_articles(
    query: str,
    *,
    audience: Audience,
    language: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[ArticleHit]:
    """Articles matching every word of `query` (phrases in quotes, `word*` prefixes),
    best first. "public": published public articles only; "agents": internal too.

    With a `language`, each article is searched in that language, or in its default
    language when it has no translation in it; without one, in every language it
    has, the best-matching translation standing for the article."""
    parsed = text.parse(query)
    if not parsed:
        return []
    return _search(parsed, "AND", audience, language, limit, offset)


def suggest_articles(
    text_: str, *, audience: Audience, language: str | None = None, limit: int = 5
) -> list[ArticleHit]:
    """Articles for free text (a message, a request being typed): any of its
    distinctive words, ranked by relevance."""
    chosen = distinctive_words(text_)
    if not chosen:
        return []
    query = text.any_of([text.Term((w,)) for w in chosen])
    return _search(query, "OR", audience, language, limit, 0)


def distinctive_words(free_text: str) -> list[str]:
    """The longest words that are not stop words, at most MAX_SUGGEST_WORDS: long
    words are rarer, and rare words say what the text is about."""
    seen: dict[str, int] = {}
    for position, word in enumerate(text.words(free_text[: text.MAX_QUERY * 10])):
        if len(word) >= 3 and word not in STOP_WORDS and not word.isdigit():
            seen.setdefault(word, position)
    ranked = sorted(seen, key=lambda w: (-len(w), seen[w]))
    return ranked[:MAX_SUGGEST_WORDS]


def reindex(article_id: int) -> None:
    """Bring one article's translations up to date in the article index.

    PostgreSQL's expression index is always current; the FTS5 table keeps a copy."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE article_id = %s", [article_id])
        cursor.execute(
            f"INSERT INTO {FTS_TABLE}(rowid, title, body_text, article_id) "
            "SELECT id, title, body_text, article_id FROM knowledge_articletranslation "
            "WHERE article_id = %s",
            [article_id],
        )


def rebuild() -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE}")
        cursor.execute(
            f"INSERT INTO {FTS_TABLE}(rowid, title, body_text, article_id) "
            "SELECT id, title, body_text, article_id FROM knowledge_articletranslation"
        )


def _search(
    query: Query, op: str, audience: Audience, language: str | None, limit: int, offset: int
) -> list[ArticleHit]:
    limit = max(0, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    if language is not None and language not in settings.HEEDFUL_HELP_LANGUAGES:
        language = None
    readable = Article.objects.public() if audience == "public" else Article.objects.for_agents()
    allowed_sql, allowed_params = readable.values("pk").query.sql_with_params()
    if connection.vendor == "sqlite":
        match_from = f"{FTS_TABLE} JOIN knowledge_articletranslation t ON t.id = {FTS_TABLE}.rowid"
        match_where = f"{FTS_TABLE} MATCH %s"
        rank = f"-bm25({FTS_TABLE}, 10.0, 1.0)"
        match_param: Any = query.fts5(op)
    else:
        match_from = "knowledge_articletranslation t"
        # A stored column (migration 0005): title at weight A, body below it.
        match_where = "t.search_tsv @@ %s::tsquery"
        rank = "ts_rank(t.search_tsv, %s::tsquery)"
        match_param = query.tsquery("&" if op == "AND" else "|")
    language_sql, language_params = _language_filter(language)
    # One row per article: its best-ranked translation among those searched.
    sql = (
        f"WITH m AS (SELECT t.id AS tid, t.article_id AS aid, {rank} AS r FROM {match_from} "
        f"WHERE {match_where} AND t.article_id IN ({allowed_sql}){language_sql}), "
        "b AS (SELECT tid, r, ROW_NUMBER() OVER (PARTITION BY aid ORDER BY r DESC, tid) AS n "
        "FROM m) SELECT tid, r FROM b WHERE n = 1 ORDER BY r DESC, tid LIMIT %s OFFSET %s"
    )
    rank_params = [] if connection.vendor == "sqlite" else [match_param]
    params = [*rank_params, match_param, *allowed_params, *language_params, limit, offset]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ranked = cursor.fetchall()
    return _hits(ranked, query)


def _language_filter(language: str | None) -> tuple[str, list[Any]]:
    if language is None:
        return "", []
    return (
        " AND (t.language = %s OR (t.language = (SELECT a.default_language FROM "
        "knowledge_article a WHERE a.id = t.article_id) AND NOT EXISTS (SELECT 1 FROM "
        "knowledge_articletranslation o WHERE o.article_id = t.article_id "
        "AND o.language = %s)))",
        [language, language],
    )


def _hits(ranked: list[tuple[int, float]], query: Query) -> list[ArticleHit]:
    translations = ArticleTranslation.objects.select_related("article", "article__section")
    by_id = translations.in_bulk([tid for tid, _ in ranked])
    hits = []
    for tid, rank in ranked:
        translation = by_id.get(tid)
        if translation is None:
            continue
        hits.append(
            ArticleHit(
                article=translation.article,
                translation=translation,
                snippet=text.snippet(translation.body_text, query),
                rank=float(rank),
            )
        )
    return hits
