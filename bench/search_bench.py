"""Search at scale: agent search and help-center search over 1,000,000 conversations,
3,000,000 messages and 10,000 articles, on SQLite and PostgreSQL.

For each database (`--databases`, default both):

1. Build the corpus once and keep it: SQLite under `--data-dir`/search/sqlite,
   PostgreSQL as the database heedful_bench_search. Later runs reuse it after
   `migrate`; `--rebuild` starts over. Text has a realistic word-frequency
   distribution: a Zipf-like vocabulary of 5,000 words (the top ones, "order",
   "please", "thanks", are found in most messages), a few fixed phrases, and one
   unique reference word per conversation. 2 teams, 4 inboxes (10% unrouted).
   The time to (re)build the search index over everything is recorded then.
2. Measure, in a child process with that database's settings, the service the
   search page calls (`heedful.search.conversations.search_conversations`: the
   query, grouping, and the first page of 20 hits with their highlighted snippets
   from message bodies) for common words, rare words, phrases and prefixes; as
   an admin and as an agent who sees one team's conversations; without a filter
   and with one (status + channel, or a date range). Then help-center article
   search (`search_articles`, audience "public"), and indexing throughput: 5,000
   new messages written and passed through the `search.index` consumer (rolled
   back afterwards, so the cached corpus stays the same).

Figures (p50 / p95 / max, ms) are printed and written to
bench/results/<time>-search.json. Targets: p95 < 100 ms for rare words, phrases
and prefixes, < 300 ms for words found in most messages.

    .venv/bin/python bench/search_bench.py                         # both databases
    .venv/bin/python bench/search_bench.py --databases sqlite --conversations 100000
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import PostgresServer, _base_env, check, head_commit, last_json, machine, say  # noqa: E402

RESULTS = BENCH_DIR / "results"
CACHE_VERSION = 1
SEED = 7
PG_DATABASE = "heedful_bench_search"
TOP_WORDS = [
    "order",
    "please",
    "thanks",
    "help",
    "account",
    "delivery",
    "refund",
    "payment",
    "package",
    "hello",
    "issue",
    "number",
    "card",
    "email",
    "password",
    "shipping",
    "invoice",
    "return",
    "product",
    "item",
    "time",
    "days",
    "customer",
    "support",
    "problem",
    "update",
    "address",
    "phone",
    "price",
    "week",
]
# A few non-English words at middling ranks, so folding is exercised at scale.
FOREIGN = [
    "café",
    "größe",
    "réseau",
    "привет",
    "straße",
    "déjà",
    "naïve",
    "façade",
    "über",
    "señor",
]
TARGETS = {"common": 300.0, "rare": 100.0, "phrase": 100.0, "prefix": 100.0}
ADMIN_EMAIL = "bench.search.admin@bench.heedful.invalid"
AGENT_EMAIL = "bench.search.agent@bench.heedful.invalid"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    number = lambda text: int(text.replace("_", ""))  # noqa: E731
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--conversations", type=number, default=1_000_000)
    parser.add_argument("--messages-per", type=int, default=3)
    parser.add_argument("--articles", type=number, default=10_000)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "heedful-bench"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--samples", type=int, default=20, help="timed searches per cell")
    parser.add_argument("--rebuild", action="store_true", help="build the corpus again")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--child", choices=["build", "measure"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the corpus ---------------------------------------------------------------------------


def vocabulary(size: int = 5000) -> list[str]:
    rng = random.Random(SEED)
    onsets = [
        "b",
        "c",
        "d",
        "f",
        "g",
        "h",
        "j",
        "k",
        "l",
        "m",
        "n",
        "p",
        "r",
        "s",
        "t",
        "v",
        "w",
        "z",
        "br",
        "dr",
        "gr",
        "kl",
        "pl",
        "st",
        "tr",
        "sh",
        "ch",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
    words = list(TOP_WORDS)
    seen = set(words)
    while len(words) < size:
        if len(words) in range(400, 400 + len(FOREIGN)):
            word = FOREIGN[len(words) - 400]
        else:
            word = "".join(
                rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 4))
            )
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Writer:
    def __init__(self, rng: random.Random, vocab: list[str]) -> None:
        self.rng = rng
        self.vocab = vocab
        weights = [1.0 / (rank**1.05) for rank in range(1, len(vocab) + 1)]
        total = 0.0
        self.cumulative = []
        for weight in weights:
            total += weight
            self.cumulative.append(total)

    def sentence(self, low: int, high: int) -> list[str]:
        n = self.rng.randint(low, high)
        return self.rng.choices(self.vocab, cum_weights=self.cumulative, k=n)

    def message(self, reference: str) -> str:
        words = self.sentence(18, 45)
        if self.rng.random() < 0.10:
            words.insert(self.rng.randrange(len(words)), "tracking number")
        if self.rng.random() < 0.01:
            words.insert(self.rng.randrange(len(words)), "damaged parcel")
        if self.rng.random() < 0.3:
            words.append(reference)
        first = words[0].capitalize()
        return f"{first} {' '.join(words[1:12])}.\n\n{' '.join(words[12:])}."


def reference(conversation_id: int) -> str:
    """A word found in one conversation only."""
    return "ref" + format(conversation_id * 7919 % 10**9, "x")


def build(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection, transaction

    from heedful.accounts.models import Role, Team, User
    from heedful.conversations.models import Tag
    from heedful.demo.load import loader_for
    from heedful.inboxes.models import Inbox
    from heedful.search import backends

    rng = random.Random(SEED)
    vocab = vocabulary()
    writer = Writer(rng, vocab)
    timings: dict[str, float] = {}
    started = time.monotonic()
    with transaction.atomic():
        teams = [Team.objects.create(name=f"Bench team {n}") for n in ("A", "B")]
        admin = User.objects.create_user(
            username=ADMIN_EMAIL, email=ADMIN_EMAIL, name="Bench admin", role=Role.ADMIN
        )
        agent = User.objects.create_user(
            username=AGENT_EMAIL, email=AGENT_EMAIL, name="Bench agent", role=Role.AGENT
        )
        agent.teams.add(teams[0])
        agents = [agent] + [
            User.objects.create_user(
                username=f"bench.agent{n}@bench.heedful.invalid",
                email=f"bench.agent{n}@bench.heedful.invalid",
                name=f"Agent {n}",
                role=Role.AGENT,
            )
            for n in range(9)
        ]
        inboxes = [
            Inbox.objects.create(kind=kind, name=f"Bench {kind} {team.name}", team=team)
            for team in teams
            for kind in ("email", "chat")
        ]
        tags = [Tag.objects.create(name=f"bench-tag-{n}") for n in range(5)]
        loader = loader_for(connection)
        keys = ["customers", "conversations", "messages", "conversation_tags"]
        loader.drop_secondary(["conversations", "messages"])
        customers = max(1, args.conversations // 4)
        now = datetime.now(UTC).replace(microsecond=0)
        first = now - timedelta(days=730)
        base_customer = loader.next_id("customers")
        chunk = 10_000
        for start in range(0, customers, chunk):
            loader.write(
                "customers",
                [
                    (base_customer + n, f"Customer {n}", "email", "en", "UTC", "", first, first,
                     None, None)
                    for n in range(start, min(customers, start + chunk))
                ],
            )  # fmt: skip
        base_conversation = loader.next_id("conversations")
        message_id = loader.next_id("messages")
        first_message = message_id
        statuses = ["solved"] * 14 + ["open"] * 3 + ["pending"] * 2 + ["new"]
        span = (now - first).total_seconds()
        for start in range(0, args.conversations, chunk):
            conversations, messages, tagged = [], [], []
            for n in range(start, min(args.conversations, start + chunk)):
                cid = base_conversation + n
                created = first + timedelta(seconds=span * n / args.conversations)
                inbox = inboxes[n % 4]
                unrouted = rng.random() < 0.1
                team_id = None if unrouted else inbox.team_id
                assignee = rng.choice(agents).pk if rng.random() < 0.8 else None
                subject = " ".join(writer.sentence(3, 7)).capitalize()
                ref = reference(cid)
                conversations.append(
                    (cid, cid, subject, rng.choice(statuses), 1, False, created, created,
                     created, subject[:200], None, None, None, 0, args.messages_per, assignee,
                     base_customer + rng.randrange(customers), inbox.pk, team_id, None)
                )  # fmt: skip
                for k in range(args.messages_per):
                    when = created + timedelta(minutes=17 * k)
                    inbound = k % 2 == 0
                    note = not inbound and rng.random() < 0.1
                    messages.append(
                        (message_id, "in" if inbound else "out", note,
                         "customer" if inbound else "agent", writer.message(ref), "", None,
                         False, "" if inbound or note else "sent", 0, None, "", None, when,
                         None if inbound else assignee, cid, inbox.pk, None, None)
                    )  # fmt: skip
                    message_id += 1
                if rng.random() < 0.3:
                    tagged.append((cid, rng.choice(tags).pk))
            loader.write("conversations", conversations)
            loader.write("messages", messages)
            loader.write("conversation_tags", tagged)
            if start % 100_000 == 0:
                say(f"  {start + chunk:,} conversations written")
        timings["load_s"] = time.monotonic() - started
        # PostgreSQL's search indexes were dropped with the others: building them is
        # what a rebuild costs there, so they are timed on their own.
        search = [(t, sql) for t, sql in loader.dropped if "search_" in sql]
        loader.dropped = [(t, sql) for t, sql in loader.dropped if "search_" not in sql]
        mark = time.monotonic()
        loader.restore_secondary()
        timings["other_indexes_s"] = time.monotonic() - mark
        mark = time.monotonic()
        loader.dropped = search
        loader.restore_secondary()
        timings["search_index_build_s"] = time.monotonic() - mark
        loader.after_load(keys)
        make_articles(args, rng, writer, admin)
    if connection.vendor == "sqlite":
        mark = time.monotonic()
        with transaction.atomic():
            backends.rebuild_index()
        timings["search_index_build_s"] = time.monotonic() - mark
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {
        "conversations": args.conversations,
        "messages": message_id - first_message,
        "articles": args.articles,
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }


def make_articles(args: argparse.Namespace, rng: random.Random, writer: Writer, admin: Any) -> None:
    from heedful.knowledge.models import Article, ArticleTranslation

    now = datetime.now(UTC)
    made = Article.objects.bulk_create(
        [
            Article(
                status="published" if n % 10 else "draft",
                visibility="internal" if n % 10 == 1 else "public",
                default_language="en",
                author=admin,
                published_at=now,
            )
            for n in range(args.articles)
        ],
        batch_size=1000,
    )
    translations = []
    for article in made:
        title = " ".join(writer.sentence(3, 8)).capitalize()
        body = "\n\n".join(" ".join(writer.sentence(30, 80)) for _ in range(rng.randint(2, 6)))
        translations.append(
            ArticleTranslation(
                article=article,
                language="en",
                title=title[:200],
                slug=f"a{article.pk}",
                body_markdown=body,
                body_html="",
                body_text=body,
                updated_at=now,
            )
        )
    ArticleTranslation.objects.bulk_create(translations, batch_size=1000)


# --- measuring ----------------------------------------------------------------------------


def query_sets(vocab: list[str], first_id: int, conversations: int) -> dict[str, list[str]]:
    rng = random.Random(SEED + 1)
    unique = [reference(first_id + rng.randrange(conversations)) for _ in range(5)]
    return {
        "common": ["order", "please", "thanks", "order thanks", "hello"],
        "rare": [*rng.sample(vocab[3000:], 5), *unique],
        "phrase": ['"tracking number"', '"damaged parcel"', '"please order"', '"order thanks"'],
        "prefix": ["ship*", "pa*", vocab[150][:4] + "*", vocab[2000][:5] + "*"],
    }


def timed(fn: Any, samples: int) -> dict[str, float]:
    fn()  # warm
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "p50": round(statistics.median(times), 1),
        "p95": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
        "max": round(times[-1], 1),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection

    from heedful.accounts.models import User
    from heedful.conversations.models import Conversation
    from heedful.search.articles import search_articles
    from heedful.search.conversations import Filters, Sort, search_conversations

    vocab = vocabulary()
    first_conversation = Conversation.objects.order_by("id").values_list("id", flat=True).first()
    sets = query_sets(vocab, first_conversation or 1, args.conversations)
    users = {
        "admin": User.objects.get(email=ADMIN_EMAIL),
        "agent": User.objects.get(email=AGENT_EMAIL),
    }
    today = datetime.now(UTC).date()
    filter_sets: dict[str, tuple[Filters, Sort]] = {
        "none": (Filters(), "newest"),
        "status+channel": (Filters(status="open", channel="chat"), "newest"),
        "last 30 days": (Filters(since=today - timedelta(days=30), until=today), "newest"),
        "best match": (Filters(), "relevance"),
    }
    cells: list[dict[str, Any]] = []
    for category, queries in sets.items():
        for who, user in users.items():
            for fname, (filters, sort) in filter_sets.items():
                state = {"i": 0, "hits": 0, "bodies": 0}

                def run(
                    user: Any = user,
                    filters: Filters = filters,
                    sort: Sort = sort,
                    queries: list[str] = queries,
                    state: dict[str, int] = state,
                ) -> None:
                    query = queries[state["i"] % len(queries)]
                    state["i"] += 1
                    found = search_conversations(query, user=user, filters=filters, sort=sort)
                    state["hits"] += len(found.hits)
                    state["bodies"] += sum(1 for h in found.hits if h.message is not None)

                figures = timed(run, args.samples)
                cells.append(
                    {"category": category, "user": who, "filter": fname, **figures,
                     "hits_per_search": round(state["hits"] / (args.samples + 1), 1),
                     "hits_from_message_bodies": state["bodies"]}
                )  # fmt: skip
                say(
                    f"  {category:7} {who:5} {fname:15} "
                    f"p50 {figures['p50']:7.1f}  p95 {figures['p95']:7.1f} ms"
                )
    help_center = {}
    for name, queries in {
        "common": ["order", "please thanks"],
        "rare": vocab[3000:3010],
        "phrase": ['"tracking number"', '"please order"'],
        "prefix": ["ship*", vocab[150][:4] + "*"],
    }.items():
        state = {"i": 0}

        def run_help(queries: list[str] = queries, state: dict[str, int] = state) -> None:
            state["i"] += 1
            search_articles(queries[state["i"] % len(queries)], audience="public")

        help_center[name] = timed(run_help, args.samples)
        say(
            f"  help    {name:7} "
            f"p50 {help_center[name]['p50']:7.1f}  p95 {help_center[name]['p95']:7.1f} ms"
        )
    return {
        "database": connection.vendor,
        "agent_search": cells,
        "help_center": help_center,
        "indexing": indexing_throughput(),
        "corpus": {
            "conversations": Conversation.objects.count(),
        },
        "queries": sets,
    }


def indexing_throughput(count: int = 5000) -> dict[str, Any]:
    """5,000 messages written and passed through the consumer, then rolled back."""
    from django.db import transaction

    from heedful.conversations.models import ConversationEvent, EventType, Message
    from heedful.search import backends

    rng = random.Random(SEED + 2)
    writer = Writer(rng, vocabulary())
    latest = list(Message.objects.order_by("-id").values("conversation_id", "inbox_id")[:100])
    now = datetime.now(UTC)
    with transaction.atomic():
        start = time.perf_counter()
        made = Message.objects.bulk_create(
            [
                Message(
                    conversation_id=latest[n % 100]["conversation_id"],
                    inbox_id=latest[n % 100]["inbox_id"],
                    direction="in",
                    author_type="customer",
                    body_text=writer.message("refbench"),
                    created_at=now,
                )
                for n in range(count)
            ],
            batch_size=500,
        )
        events = ConversationEvent.objects.bulk_create(
            [
                ConversationEvent(
                    conversation_id=m.conversation_id,
                    type=EventType.MESSAGE_RECEIVED,
                    actor_type="customer",
                    data={"message_id": m.pk},
                    created_at=now,
                )
                for m in made
            ],
            batch_size=500,
        )
        written = time.perf_counter()
        for batch in range(0, count, 1000):
            backends.handle_events(events[batch : batch + 1000])
        done = time.perf_counter()
        transaction.set_rollback(True)
    return {
        "messages": count,
        "write_and_index_per_s": round(count / (done - start)),
        "consumer_per_s": round(count / max(done - written, 1e-9)),
        "write_s": round(written - start, 2),
        "consumer_s": round(done - written, 3),
    }


# --- the databases -----------------------------------------------------------------------


class Target(PostgresServer):
    def __init__(self, name: str, args: argparse.Namespace) -> None:
        self.name = name
        self.args = args
        self.home = args.data_dir / "search"
        self.marker = self.home / f"{name}-{args.conversations}.json"

    def env(self) -> dict[str, str]:
        env = _base_env()
        env["HEEDFUL_DEMO"] = "0"
        if self.name == "sqlite":
            env["HEEDFUL_DATA_DIR"] = str(self.home / f"sqlite-{self.args.conversations}")
        else:
            env["DATABASE_URL"] = self.url(f"{PG_DATABASE}_{self.args.conversations}")
            env["REDIS_URL"] = self.args.redis
            env["HEEDFUL_DATA_DIR"] = str(self.home / "postgresql")
        return env

    def run(self, argv: list[str], stream: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *argv], cwd=ROOT, env=self.env(), text=True, check=False,
            capture_output=not stream, stdout=subprocess.PIPE if stream else None,
        )  # fmt: skip

    def reset(self) -> None:
        import shutil

        self.marker.unlink(missing_ok=True)
        if self.name == "sqlite":
            shutil.rmtree(self.home / f"sqlite-{self.args.conversations}", ignore_errors=True)
            return
        database = f"{PG_DATABASE}_{self.args.conversations}"
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
            conn.execute(f'CREATE DATABASE "{database}"')

    def prepare(self) -> dict[str, Any]:
        self.home.mkdir(parents=True, exist_ok=True)
        cached = None
        if not self.args.rebuild and self.marker.exists():
            cached = json.loads(self.marker.read_text())
            if cached.get("version") != CACHE_VERSION:
                cached = None
        if cached is None:
            self.reset()
        check(self.run(["-m", "heedful.cli", "migrate", "-v0"]), "migrate")
        if cached is not None:
            say(f"[{self.name}] reusing the corpus built {cached['built_at']}")
            return cached
        say(f"[{self.name}] building {self.args.conversations:,} conversations ...")
        result = self.run([__file__, *self.child_args("build")], stream=True)
        info = {
            "version": CACHE_VERSION,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **last_json(check(result, "build")),
        }
        self.marker.write_text(json.dumps(info) + "\n")
        return info

    def child_args(self, mode: str) -> list[str]:
        return [
            "--child", mode, "--conversations", str(self.args.conversations),
            "--messages-per", str(self.args.messages_per), "--articles", str(self.args.articles),
            "--samples", str(self.args.samples),
        ]  # fmt: skip


def main() -> None:
    args = parse_args()
    if args.child:
        result = build(args) if args.child == "build" else measure(args)
        print(json.dumps(result, default=str), flush=True)
        return
    report: dict[str, Any] = {
        "bench": "search",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": head_commit(),
        "machine": machine(),
        "targets_p95_ms": TARGETS,
        "databases": {},
    }
    for name in args.databases.split(","):
        target = Target(name, args)
        if name == "postgresql" and not target.available():
            continue
        corpus = target.prepare()
        if args.prepare_only:
            continue
        say(f"[{name}] measuring ...")
        result = target.run([__file__, *target.child_args("measure")], stream=True)
        figures = last_json(check(result, "measure"))
        report["databases"][name] = {"corpus": corpus, **figures}
        summarize(name, report["databases"][name])
    if args.prepare_only:
        return
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-search.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    say(f"written to {path.relative_to(ROOT)}")


def summarize(name: str, figures: dict[str, Any]) -> None:
    worst: dict[str, float] = {}
    for cell in figures["agent_search"]:
        worst[cell["category"]] = max(worst.get(cell["category"], 0.0), cell["p95"])
    for category, p95 in worst.items():
        target = TARGETS[category]
        verdict = "meets" if p95 < target else "MISSES"
        say(f"[{name}] agent search, {category}: worst p95 {p95} ms ({verdict} < {target} ms)")
    say(f"[{name}] indexing: {figures['indexing']}")


if __name__ == "__main__":
    main()
