"""The demo help center: its articles, and the visits that read them.

`ensure_help_center` writes the categories, sections and articles of
`help_texts` through `knowledge.services` (so they render, have revisions and get
indexed), once: a later demo run reuses them. `HelpWriter` then writes help-center
visits alongside each chunk of conversations, in bulk:

- people who read an article about their problem and never wrote in (most visits:
  deflected), some after a search, some voting;
- visitors who searched for what the help center does not cover (content gaps);
- the web form's visits: a search or an article, suggestions while typing, then
  the request itself (a CONTACT event linked to the demo conversation);
- customers who read the help center signed in to the portal and still wrote in
  by email, chat or phone within hours (not deflected);
- after the portal launch, readers of the portal articles who mostly wrote in
  anyway: the "viewed a lot and still followed by contacts" rewrite candidates.

The same seed writes the same visits; times, ids and cookies follow the
conversations they accompany.
"""

import base64
import hashlib
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Q

from heedful.accounts.models import Role, User
from heedful.demo import help_texts
from heedful.demo.load import Loader
from heedful.demo.story import Clock
from heedful.knowledge import deflection, services
from heedful.knowledge.models import (
    Article,
    ArticleRevision,
    ArticleStatus,
    ArticleTranslation,
    Category,
    HelpEventKind,
    HelpSession,
    Section,
    Visibility,
)

HELP_TABLES = ("help_sessions", "help_events", "help_feedback")
PORTAL_TOPIC = "portal_navigation"
# Up to this many conversations every one brings its visits; a larger demo (the
# benchmarks' million) brings proportionally fewer, so the load stays quick.
FULL_SCALE = 20_000
# Visits that read and did not write in, per conversation of the same topic: the
# portal articles help far less (the scenario).
DEFLECTED_PER_CONVERSATION = 1.2
DEFLECTED_PER_PORTAL_CONVERSATION = 0.35
# Chance that a conversation on another channel follows a signed-in portal visit.
PRIOR_VISIT = 0.12
PRIOR_PORTAL_VISIT = 0.6
WEBFORM_VISIT = 0.75
GAP_SEARCH = 0.07
# Chance that a customer read about it, signed in, a few days before writing in:
# deflected at 24 hours, not at 7 days.
DAYS_BEFORE = 0.25
NO_COMMENTS = {
    PORTAL_TOPIC: (
        "I still can't find the download button.",
        "The menu on my phone looks nothing like this.",
        "Where is the Orders menu? I only see my profile.",
    ),
    "": ("This did not answer my question.", "Too vague, I needed the exact steps."),
}


# --- articles -------------------------------------------------------------------------


@dataclass
class Catalog:
    """The demo articles that exist: key -> id of those the public can read."""

    ids: dict[str, int] = field(default_factory=dict)
    by_topic: dict[str, list[str]] = field(default_factory=dict)
    promoted: list[str] = field(default_factory=list)
    created: int = 0

    def article(self, key: str) -> help_texts.DemoArticle:
        return _BY_KEY[key]


_BY_KEY = {a.key: a for a in help_texts.ARTICLES}


def ensure_help_center(*, published: int, launch: int | None) -> Catalog:
    """Create the demo help center unless it exists; `published` and `launch` (epoch
    seconds) backdate the articles, the portal's to the portal launch."""
    catalog = Catalog()
    first_slug = help_texts.CATEGORIES[0][0]
    if not Category.objects.filter(slug=first_slug).exists():
        actor = _writer()
        if actor is None:
            return catalog
        catalog.created = _create(actor, published, launch)
    titles = {a.title: a.key for a in help_texts.ARTICLES}
    found = ArticleTranslation.objects.filter(
        title__in=list(titles),
        article__section__category__slug__in=[c[0] for c in help_texts.CATEGORIES],
        article__status=ArticleStatus.PUBLISHED,
        article__visibility=Visibility.PUBLIC,
    ).values_list("title", "article_id")
    for title, article_id in found:
        catalog.ids.setdefault(titles[title], article_id)
    for demo_article in help_texts.ARTICLES:
        if demo_article.key not in catalog.ids:
            continue
        for topic in demo_article.topics:
            catalog.by_topic.setdefault(topic, []).append(demo_article.key)
        if demo_article.promoted:
            catalog.promoted.append(demo_article.key)
    return catalog


def _writer() -> User | None:
    users = User.objects.filter(is_active=True).order_by("pk")
    return (
        users.filter(role=Role.LEAD).first()
        or users.filter(Q(role=Role.ADMIN) | Q(is_superuser=True)).first()
        or users.first()
    )


def _create(actor: User, published: int, launch: int | None) -> int:
    sections: dict[str, Section] = {}
    for position, (slug, name, description, parts) in enumerate(help_texts.CATEGORIES):
        category = Category.objects.create(
            name=name, slug=slug, description=description, position=position
        )
        for place, (section_slug, section_name) in enumerate(parts):
            sections[f"{slug}/{section_slug}"] = Section.objects.create(
                category=category, name=section_name, slug=section_slug, position=place
            )
    made: dict[str, Article] = {}
    for position, item in enumerate(help_texts.ARTICLES):
        article = services.create_article(
            actor=actor,
            title=item.title,
            body_markdown=item.body,
            section=sections[item.section],
            status=item.status,
            visibility=item.visibility,
        )
        made[item.key] = article
        Article.objects.filter(pk=article.pk).update(position=position, promoted=item.promoted)
    _translate(actor, made)
    _relate(made)
    _backdate(made, published, launch)
    _index(made.values())
    return len(made)


def _translate(actor: User, made: dict[str, Article]) -> None:
    """A few translations, into the languages the help center offers beyond the first."""
    for language in settings.HEEDFUL_HELP_LANGUAGES[1:]:
        for key, (title, body) in help_texts.TRANSLATIONS.get(language, {}).items():
            if key in made:
                services.save_translation(
                    article=made[key], actor=actor, language=language, title=title,
                    body_markdown=body,
                )  # fmt: skip


def _relate(made: dict[str, Article]) -> None:
    """Neighbours in a section are related; so are the portal articles and the
    questions they move (invoices, returns)."""
    by_section: dict[str, list[str]] = {}
    for item in help_texts.ARTICLES:
        if item.status == ArticleStatus.PUBLISHED and item.visibility == Visibility.PUBLIC:
            by_section.setdefault(item.section, []).append(item.key)
    pairs = [(a, b) for keys in by_section.values() for a, b in itertools.pairwise(keys)]
    pairs += [("portal-billing-history", "download-invoice"), ("portal-returns", "start-return")]
    for a, b in pairs:
        made[a].related.add(made[b])


def _backdate(made: dict[str, Article], published: int, launch: int | None) -> None:
    """Articles existed before the visits that read them."""
    portal = [a.pk for k, a in made.items() if _BY_KEY[k].section.startswith("customer-portal")]
    rest = [a.pk for a in made.values() if a.pk not in portal]
    for ids, seconds in ((rest, published), (portal, launch or published)):
        moment = datetime.fromtimestamp(seconds, UTC)
        Article.objects.filter(pk__in=ids).update(created_at=moment, updated_at=moment)
        Article.objects.filter(pk__in=ids, status=ArticleStatus.PUBLISHED).update(
            published_at=moment
        )
        ArticleTranslation.objects.filter(article_id__in=ids).update(updated_at=moment)
        ArticleRevision.objects.filter(translation__article_id__in=ids).update(created_at=moment)


def _index(articles: Any) -> None:
    """Index now, so the help center answers before the worker has run."""
    from heedful.search.articles import reindex

    for article in articles:
        reindex(article.pk)


# --- visits ----------------------------------------------------------------------------


def _token(*parts: object) -> str:
    """A cookie-like value (43 url-safe characters, as tracking makes them)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _random_token(rng: random.Random, unique: int) -> str:
    """Like `_token`, from the seeded generator; `unique` (a fresh id) keeps two runs
    with the same seed apart."""
    raw = rng.getrandbits(192).to_bytes(24, "big") + unique.to_bytes(8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _json_ids(ids: list[int]) -> str:
    return "[" + ", ".join(map(str, ids)) + "]" if ids else "[]"


@dataclass
class HelpSummary:
    articles: int = 0
    created: int = 0
    sessions: int = 0
    events: int = 0
    votes: int = 0
    seconds: float = 0.0


@dataclass
class _Rows:
    sessions: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    feedback: list[tuple[Any, ...]] = field(default_factory=list)


class _Visit:
    """One help session being written: events in time order, then its row."""

    def __init__(self, writer: "HelpWriter", rows: _Rows, visitor: str, customer: int | None):
        self.writer, self.rows = writer, rows
        self.id = writer.next_session
        writer.next_session += 1
        self.visitor, self.customer = visitor, customer
        self.times: list[int] = []
        self.engaged: int | None = None
        self.voted: set[int] = set()
        self.open = True

    def _event(self, kind: str, t: int, **fields: Any) -> bool:
        """Add an event; False (and the visit ends) once `t` passes the anchor."""
        if not self.open or t > self.writer.until:
            self.open = False
            return False
        if kind in (HelpEventKind.VIEW, HelpEventKind.SUGGESTIONS_SHOWN) and self.engaged is None:
            self.engaged = t
        self.times.append(t)
        self.rows.events.append(
            (
                self.id,
                kind,
                fields.get("article"),
                fields.get("query", ""),
                fields.get("results"),
                _json_ids(fields.get("articles", [])),
                fields.get("conversation"),
                self.writer.clock(t),
            )
        )
        return True

    def search(self, t: int, query: str, results: int) -> bool:
        return self._event(HelpEventKind.SEARCH, t, query=query, results=results)

    def view(self, t: int, article: int) -> bool:
        return self._event(HelpEventKind.VIEW, t, article=article)

    def suggested(self, t: int, articles: list[int]) -> bool:
        return self._event(HelpEventKind.SUGGESTIONS_SHOWN, t, articles=articles)

    def click(self, t: int, article: int) -> bool:
        """Opening a suggestion: the article's view, then the click (as the help
        center records them)."""
        return self.view(t, article) and self._event(
            HelpEventKind.SUGGESTION_CLICKED, t, article=article
        )

    def vote(self, t: int, article: int, helpful: bool, comment: str = "") -> bool:
        if article in self.voted or not self._event(HelpEventKind.VOTE, t, article=article):
            return False
        self.voted.add(article)
        language = settings.HEEDFUL_HELP_LANGUAGES[0]
        clock = self.writer.clock
        self.rows.feedback.append((article, language, helpful, comment, self.id, clock(t)))
        return True

    def contact(self, t: int, conversation: int) -> bool:
        return self._event(HelpEventKind.CONTACT, t, conversation=conversation)

    def close(self) -> None:
        if not self.times:
            return  # every step came after the anchor; its id stays unused
        clock = self.writer.clock
        self.rows.sessions.append(
            (
                self.id,
                _random_token(self.writer.rng, self.id),
                self.visitor,
                self.customer,
                clock(self.times[0]),
                clock(self.times[-1]),
                None if self.engaged is None else clock(self.engaged),
            )
        )


# A demo conversation as story.tell reports it:
# (conversation id, customer position, customer id, created at, channel, topic key).
Contact = tuple[int, int, int, int, str, str]


class HelpWriter:
    """Writes the visits that go with each chunk of demo conversations."""

    def __init__(
        self,
        *,
        loader: Loader,
        catalog: Catalog,
        seed: int,
        window: tuple[int, int],
        clock: Clock,
        conversations: int,
    ) -> None:
        self.loader, self.catalog, self.seed, self.clock = loader, catalog, seed, clock
        self.start, self.until = window
        self.scale = min(1.0, FULL_SCALE / max(1, conversations))
        self.next_session = self.first_session = loader.next_id("help_sessions")
        self.chunk = 0
        self.rng = random.Random()
        self.summary = HelpSummary(articles=len(catalog.ids), created=catalog.created)
        self.dropped: list[tuple[str, str]] = []
        expected = conversations * self.scale * (DEFLECTED_PER_CONVERSATION + 0.3)
        if catalog.ids and HelpSession.objects.count() <= expected:
            self._drop_indexes()

    def _drop_indexes(self) -> None:
        """Mostly new rows: build the help tables' indexes once at the end rather than
        row by row (halves the write). The loader's own list is left as it was."""
        saved, self.loader.dropped = self.loader.dropped, []
        self.loader.drop_secondary(HELP_TABLES)
        self.dropped, self.loader.dropped = self.loader.dropped, saved

    def write(self, contacts: Sequence[Contact]) -> None:
        if not self.catalog.ids:
            return
        started = time.monotonic()
        rng = self.rng = random.Random(f"heedful-demo:{self.seed}:help:{self.chunk}")
        self.chunk += 1
        rows = _Rows()
        for contact in contacts:
            self._around(rng, rows, *contact)
        self.loader.write("help_sessions", rows.sessions)
        self.loader.write("help_events", rows.events)
        self.loader.write("help_feedback", rows.feedback)
        self.summary.sessions += len(rows.sessions)
        self.summary.events += len(rows.events)
        self.summary.votes += len(rows.feedback)
        self.summary.seconds += time.monotonic() - started

    def finish(self) -> HelpSummary:
        started = time.monotonic()
        for _table, statement in self.dropped:
            self.loader.execute(statement)
        self.dropped = []
        self.loader.after_load(HELP_TABLES)
        # Written in bulk, so nothing settled them yet: the dashboard reads the
        # stored outcomes, and its own settle only covers the last week or so.
        deflection.settle()
        self.summary.seconds += time.monotonic() - started
        return self.summary

    # --- the stories ------------------------------------------------------------------

    def _around(
        self,
        rng: random.Random,
        rows: _Rows,
        conversation: int,
        position: int,
        customer: int,
        t: int,
        channel: str,
        topic: str,
    ) -> None:
        if rng.random() >= self.scale:
            return
        portal = topic == PORTAL_TOPIC
        if channel == "webform":
            if rng.random() < WEBFORM_VISIT:
                self._web_form(rng, rows, conversation, customer, t, topic)
        elif rng.random() < (PRIOR_PORTAL_VISIT if portal else PRIOR_VISIT):
            self._read_then_wrote(rng, rows, customer, t, topic)
        elif rng.random() < DAYS_BEFORE:
            self._read_days_before(rng, rows, customer, t, topic)
        mean = DEFLECTED_PER_PORTAL_CONVERSATION if portal else DEFLECTED_PER_CONVERSATION
        for _ in range(_how_many(rng, mean)):
            moment = t + int(rng.uniform(-36, 36) * 3600)
            if self.start <= moment <= self.until - 600:
                self._read_and_left(rng, rows, moment, topic)

    def _articles(self, rng: random.Random, topic: str) -> list[str]:
        keys = self.catalog.by_topic.get(topic) or self.catalog.promoted
        keys = keys or list(self.catalog.ids)
        # The first article of a topic is the one most people land on.
        return sorted(set(rng.choices(keys, weights=[3] + [1] * (len(keys) - 1), k=2)))

    def _query(self, rng: random.Random, key: str) -> str:
        queries = _BY_KEY[key].queries or (_BY_KEY[key].title.lower(),)
        return rng.choice(queries)

    def _gap(self, rng: random.Random) -> str:
        return rng.choices(help_texts.GAP_QUERIES, help_texts.GAP_WEIGHTS)[0]

    def _fresh_visitor(self, rng: random.Random) -> str:
        return _random_token(rng, self.next_session)

    def _customer_visitor(self, customer: int) -> str:
        return _token("visitor", self.seed, "customer", customer)

    def _read_and_left(self, rng: random.Random, rows: _Rows, t: int, topic: str) -> None:
        """A visitor who read about their problem and did not write in (or only
        searched, finding nothing)."""
        visit = _Visit(self, rows, self._fresh_visitor(rng), None)
        if rng.random() < GAP_SEARCH:
            visit.search(t, self._gap(rng), 0)
            visit.close()
            return
        keys = self._articles(rng, topic)
        first = self.catalog.ids[keys[0]]
        if rng.random() < 0.1:
            # Began a request, read a suggestion instead, and left.
            visit.suggested(t, [self.catalog.ids[k] for k in keys])
            if rng.random() < 0.6:
                visit.click(t + rng.randint(10, 60), first)
            visit.close()
            return
        if rng.random() < 0.6:
            visit.search(t, self._query(rng, keys[0]), rng.randint(1, 8))
            t += rng.randint(5, 40)
        visit.view(t, first)
        if len(keys) > 1 and rng.random() < 0.3:
            t += rng.randint(30, 240)
            visit.view(t, self.catalog.ids[keys[1]])
        if rng.random() < 0.22:
            helpful = rng.random() < (0.35 if topic == PORTAL_TOPIC else 0.88)
            visit.vote(t + rng.randint(20, 180), first, helpful, self._comment(rng, topic, helpful))
        visit.close()

    def _read_then_wrote(
        self, rng: random.Random, rows: _Rows, customer: int, t: int, topic: str
    ) -> None:
        """A customer signed in to the portal, read, and wrote in on another channel
        within hours: the conversation itself is the contact (not deflected)."""
        before = min(23 * 3600, int(rng.lognormvariate(8.5, 1.0)))  # median ~80 min
        start = t - before
        if start < self.start:
            return
        visit = _Visit(self, rows, self._customer_visitor(customer), customer)
        keys = self._articles(rng, topic)
        if topic == PORTAL_TOPIC and rng.random() < 0.35:
            visit.search(start, "invoice portal", 0)
            start += rng.randint(10, 60)
        elif rng.random() < 0.5:
            visit.search(start, self._query(rng, keys[0]), rng.randint(1, 8))
            start += rng.randint(5, 40)
        visit.view(start, self.catalog.ids[keys[0]])
        if len(keys) > 1 and rng.random() < 0.4:
            visit.view(start + rng.randint(30, 200), self.catalog.ids[keys[1]])
        if rng.random() < 0.3:
            helpful = rng.random() < 0.3
            moment = start + rng.randint(210, 400)
            visit.vote(
                moment, self.catalog.ids[keys[0]], helpful, self._comment(rng, topic, helpful)
            )
        visit.close()

    def _read_days_before(
        self, rng: random.Random, rows: _Rows, customer: int, t: int, topic: str
    ) -> None:
        start = t - int(rng.uniform(1.2, 6.5) * 86400)
        if start < self.start:
            return
        visit = _Visit(self, rows, self._customer_visitor(customer), customer)
        visit.view(start, self.catalog.ids[self._articles(rng, topic)[0]])
        visit.close()

    def _web_form(
        self,
        rng: random.Random,
        rows: _Rows,
        conversation: int,
        customer: int,
        t: int,
        topic: str,
    ) -> None:
        """The visit that sent the web form: a look around, suggestions while typing,
        then the request. Now and then the same browser had read an article hours
        earlier, in another visit."""
        visitor = self._customer_visitor(customer) if rng.random() < 0.8 else None
        visitor = visitor or self._fresh_visitor(rng)
        keys = self._articles(rng, topic)
        earlier = t - int(rng.uniform(1, 20) * 3600)
        if rng.random() < 0.25 and earlier >= self.start:
            before = _Visit(self, rows, visitor, None)
            before.view(earlier, self.catalog.ids[keys[0]])
            before.close()
        start = t - rng.randint(120, 900)
        if start < self.start:
            return
        visit = _Visit(self, rows, visitor, customer)
        if rng.random() < 0.15:
            visit.search(start, self._gap(rng), 0)
        elif rng.random() < 0.4:
            visit.search(start, self._query(rng, keys[0]), rng.randint(1, 8))
            visit.view(start + rng.randint(5, 40), self.catalog.ids[keys[0]])
        if rng.random() < 0.85:
            typing = t - rng.randint(30, 100)
            visit.suggested(typing, [self.catalog.ids[k] for k in keys])
            if rng.random() < 0.2:
                visit.click(typing + rng.randint(5, 20), self.catalog.ids[keys[0]])
        visit.contact(t, conversation)
        visit.close()

    def _comment(self, rng: random.Random, topic: str, helpful: bool) -> str:
        if helpful or rng.random() < 0.6:
            return ""
        return rng.choice(NO_COMMENTS.get(topic, NO_COMMENTS[""]))


def _how_many(rng: random.Random, mean: float) -> int:
    """A small count with the given mean (whole part, plus one with the rest's odds)."""
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)
