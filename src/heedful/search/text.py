"""What a word is, and what a query means, for every search in Heedful.

One definition serves both databases, so the same query finds the same things:

* A word is a run of letters and digits (Unicode categories L and N); everything
  else separates words. This is what SQLite FTS5's unicode61 tokenizer does.
* Words are compared lower-cased and without Latin diacritics ("Café" = "cafe"),
  using `str.lower()` plus the table in `foldtable.py`, which was read off FTS5
  itself. PostgreSQL indexes `heedful_search_norm(text)`, an IMMUTABLE SQL function
  built from the same table (see migration 0002), so it needs no `unaccent`
  extension (not available everywhere) and does not depend on a dictionary.
* No stemming: "order" does not find "orders" (use `order*`), on either database.
* CJK text written without spaces is one long word on both; a prefix (`注文*`)
  finds it.

A query is a list of terms that must all match (AND): plain words, "quoted
phrases" and `prefix*` words. Everything else the user types -- FTS operators,
column filters, brackets, NUL bytes -- is only text: terms are rebuilt from the
words found, so no input can reach either database's query syntax.
"""

import html
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe

from heedful.search.foldtable import FOLD

# A run of letters and digits. `[^\W_]` is \w without the underscore, which FTS5
# treats as a separator.
WORD = re.compile(r"[^\W_]+")
MAX_TERMS = 12
MAX_QUERY = 500
# Shorter prefixes would match a large part of the vocabulary: slow and useless.
MIN_PREFIX = 2
# Longer words are not words (base64, hashes); PostgreSQL refuses lexemes > 2 KB.
MAX_WORD = 100

# Combining accents left in decomposed text are dropped too.
_FOLD: dict[int, int | None] = {**FOLD, **dict.fromkeys(range(0x0300, 0x0370))}


def fold(text: str) -> str:
    """Lower case without Latin diacritics, as the indexes store words."""
    return unicodedata.normalize("NFC", text).lower().translate(_FOLD)


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    return [w for w in WORD.findall(fold(text)) if len(w) <= MAX_WORD]


@dataclass(frozen=True)
class Term:
    """One word (`words` of length 1) or a phrase; `prefix`: the last word may be
    the start of a longer one."""

    words: tuple[str, ...]
    prefix: bool = False

    def fts5(self) -> str:
        # Words are letters and digits only, so quoting them is enough to make
        # them plain strings to FTS5.
        return '"' + " ".join(self.words) + '"' + (" *" if self.prefix else "")

    def tsquery(self) -> str:
        parts = [f"'{w}'" for w in self.words]
        if self.prefix:
            parts[-1] += ":*"
        return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]

    def __bool__(self) -> bool:
        return bool(self.terms)

    def fts5(self, op: str = "AND") -> str:
        return f" {op} ".join(t.fts5() for t in self.terms)

    def tsquery(self, op: str = "&") -> str:
        return f" {op} ".join(t.tsquery() for t in self.terms)


_CHUNK = re.compile(r'"([^"]*)"?|(\S+)')


def parse(query: str) -> Query:
    """Terms of a user's query: words AND-ed, "phrases", word* prefixes.

    An unbalanced quote runs to the end. A chunk that splits into several words
    ("e-mail", "foo.bar") is a phrase of them, as search engines do.
    """
    query = query.replace("\x00", " ")[:MAX_QUERY]
    terms: list[Term] = []
    for match in _CHUNK.finditer(query):
        phrase, chunk = match.group(1), match.group(2)
        raw = phrase if phrase is not None else chunk
        found = words(raw)
        if not found:
            continue
        prefix = phrase is None and raw.endswith("*") and len(found[-1]) >= MIN_PREFIX
        term = Term(tuple(found[:MAX_TERMS]), prefix)
        if term not in terms:
            terms.append(term)
    return Query(tuple(terms[:MAX_TERMS]))


def any_of(terms: list[Term]) -> Query:
    return Query(tuple(terms[:MAX_TERMS]))


# --- highlighting ----------------------------------------------------------


def _spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded word) for each word of the original `text`."""
    folded = text.lower().translate(_FOLD)
    if len(folded) == len(text) and unicodedata.is_normalized("NFC", text):
        # The usual case: folding kept every character in place, so one pass over
        # the folded text gives positions in the original.
        return [
            (m.start(), m.end(), m.group())
            for m in WORD.finditer(folded)
            if m.end() - m.start() <= MAX_WORD
        ]
    found = []
    for match in WORD.finditer(text):
        for word in words(match.group()):
            found.append((match.start(), match.end(), word))
    return found


def _matched(spans: list[tuple[int, int, str]], query: Query) -> set[int]:
    """Indexes of the spans that some term of `query` matches."""
    hits: set[int] = set()
    folded = [w for _, _, w in spans]
    for term in query.terms:
        size = len(term.words)
        for i in range(len(folded) - size + 1):
            if _term_at(term, folded, i):
                hits.update(range(i, i + size))
    return hits


def _term_at(term: Term, folded: list[str], i: int) -> bool:
    last = len(term.words) - 1
    for k, word in enumerate(term.words):
        candidate = folded[i + k]
        if k == last and term.prefix:
            if not candidate.startswith(word):
                return False
        elif candidate != word:
            return False
    return True


def matches(text: str, query: Query) -> bool:
    """Whether `text` matches every term (the database said so; this re-checks the
    current text, so a stale index row never shows)."""
    folded = [w for _, _, w in _spans(text)]
    return all(
        any(_term_at(t, folded, i) for i in range(len(folded) - len(t.words) + 1))
        for t in query.terms
    )


def score(text: str, query: Query) -> float:
    """How well `text` matches: words of the query found in it over the square root
    of its length. Cheap (no positions), for ranking a few hundred texts."""
    found = words(text)
    if not found:
        return 0.0
    exact = {w for t in query.terms for w in (t.words if not t.prefix else t.words[:-1])}
    starts = tuple(t.words[-1] for t in query.terms if t.prefix)
    hits = sum(1 for w in found if w in exact or (starts and w.startswith(starts)))
    return hits / len(found) ** 0.5


def highlight(text: str, query: Query, *, width: int = 240) -> SafeString | None:
    """The snippet of `text` if it matches every term of `query`, else None."""
    spans = _spans(text)
    folded = [w for _, _, w in spans]
    every = all(
        any(_term_at(t, folded, i) for i in range(len(folded) - len(t.words) + 1))
        for t in query.terms
    )
    return _snippet(text, spans, query, width) if every and query else None


def snippet(text: str, query: Query, *, width: int = 240) -> SafeString:
    """Escaped text around the first match, each matched word in <mark>. Without a
    match, the start of the text."""
    return _snippet(text, _spans(text), query, width)


def _snippet(text: str, spans: list[tuple[int, int, str]], query: Query, width: int) -> SafeString:
    hits = _matched(spans, query) if query else set()
    first = min(hits) if hits else 0
    # A few words of context before the first match; the very start when it is near.
    start = spans[first - 8][0] if first > 8 else 0
    end = min(len(text), start + width)
    if hits:
        # Never cut a word in the middle at the end.
        while end < len(text) and text[end - 1 : end + 1].isalnum():
            end += 1
    # Every piece of the text went through html.escape in _marked.
    return mark_safe(  # noqa: S308
        ("… " if start > 0 else "")
        + "".join(_marked(text, spans, hits, start, end))
        + (" …" if end < len(text) else "")
    )


def _marked(
    text: str, spans: list[tuple[int, int, str]], hits: set[int], start: int, end: int
) -> Iterator[str]:
    position = start
    for i, (s, e, _) in enumerate(spans):
        if i not in hits or s < start or e > end:
            continue
        yield html.escape(_flat(text[position:s]))
        yield f"<mark>{html.escape(text[s:e])}</mark>"
        position = e
    yield html.escape(_flat(text[position:end]))


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text)


_SPACE = re.compile(r"\s+")
