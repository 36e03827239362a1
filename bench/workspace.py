"""The agent workspace under load: server-side latency of its busiest pages.

For each database (SQLite, and PostgreSQL when reachable) and each demo size
(default 10,000 and 1,000,000 conversations, a quarter as many customers):

1. Build the demo database once and keep it (SQLite files under
   `--data-dir`/workspace, PostgreSQL databases heedful_bench_ws_<size>); later runs
   reuse it after `migrate`. `--rebuild` starts over, `--drop` removes them at the end.
2. Set up, through the services, what the demo lacks (idempotent): a bench admin
   with a password, a conversation with 50 messages (20 inbound, 20 replies, 10
   notes) and a customer with 200 conversations spread over 90 days (3 of 4 solved).
3. Start the real server (`heedful run --no-worker --no-setup`, uvicorn on
   loopback), sign in through /app/login/ with a real POST, and find page 200 of
   the "all open" list by following its rel="next" links from page 1 (on a small
   database the last page there is, with its number reported).
4. Measure four pages: the "all open" list (page 1 and page 200), the conversation
   with 50 messages (its customer panel is part of the page) and the profile of the
   customer with 200 conversations; first one client at a time (`--warmup` then
   `--requests`), then open loop at `--rate` requests per second for `--duration`
   seconds (requests leave on a fixed schedule whatever the answers do).
   All sizes are served at once and measured in turns (one request to each in
   turn; open-loop blocks in A B, B A order), so the machine's busy spells hit
   every size alike and the ratio between sizes is fair.

Server time is the `Server-Timing: app;dur=` of each response (heedful.core.timing:
Django's middleware, view and template); client time is wall time on this side,
from the moment the request was due (open loop) or sent (one client). Targets
(SQLite): one client list p95 <= 50 ms, conversation p95 <= 80 ms; at 20 req/s
p95 <= 150 ms; p95 at the largest size <= 1.2 x p95 at the smallest.

Figures are printed and written as JSON to
bench/results/<time>-workspace-<database>.json.
"""

import argparse
import asyncio
import contextlib
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    PostgresServer,
    _base_env,
    head_commit,
    last_json,
    load,
    machine,
    say,
)

RESULTS = BENCH_DIR / "results"
CACHE_VERSION = 1  # bump when what a cached database holds changes
SEED = 1
BENCH_EMAIL = "bench.admin@bench.heedful.invalid"
BENCH_PASSWORD = "bench-workspace-password-1"  # noqa: S105 (a throwaway bench database)
FIFTY_ADDRESS = "bench.fifty@bench.example.com"
PROFILE_ADDRESS = "bench.profile@bench.example.com"
FIFTY_MESSAGES = 50
PROFILE_CONVERSATIONS = 200
DEEP_PAGE = 200
LIST_PATH = "/app/conversations/?view=all_open"
TARGETS = {  # server-side p95 in ms, judged on SQLite
    ("sequential", "list_first"): 50.0,
    ("sequential", "list_deep"): 50.0,
    ("sequential", "conversation"): 80.0,
    ("open_loop", "list_first"): 150.0,
    ("open_loop", "list_deep"): 150.0,
    ("open_loop", "conversation"): 150.0,
    ("open_loop", "customer"): 150.0,
}
TARGET_RATIO = 1.2
PAGES = ("list_first", "list_deep", "conversation", "customer")
PAGE_LABELS = {
    "list_first": "all open, page 1",
    "list_deep": "all open, page 200",
    "conversation": "conversation, 50 messages",
    "customer": "customer, 200 conversations",
}
NEXT_LINK = re.compile(r"<a\b[^>]*\brel=[\"']?next\b[^>]*>", re.IGNORECASE)
HREF = re.compile(r"\bhref=\"([^\"]*)\"|\bhref='([^']*)'", re.IGNORECASE)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_WORKSPACE_SIZES", "10000,1000000"),
        help="comma-separated demo sizes in conversations (env BENCH_WORKSPACE_SIZES)",
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "heedful-bench"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
        help="server URL; the bench creates its own databases heedful_bench_ws_<size> there",
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument(
        "--pages", default=",".join(PAGES), help="comma-separated subset of: " + ", ".join(PAGES)
    )
    parser.add_argument("--warmup", type=int, default=20, help="one client: unmeasured first")
    parser.add_argument("--requests", type=int, default=200, help="one client: measured")
    parser.add_argument("--rate", type=float, default=20.0, help="open loop: requests/second")
    parser.add_argument("--duration", type=float, default=30.0, help="open loop: seconds")
    parser.add_argument(
        "--blocks", type=int, default=3, help="open loop: turns each size takes (ABBA order)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached databases")
    parser.add_argument("--drop", action="store_true", help="remove the databases at the end")
    parser.add_argument("--output", type=Path, help="result file (one database only)")
    parser.add_argument(
        "--prepare-only", action="store_true", help="build or reuse the databases, then stop"
    )
    parser.add_argument("--setup-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- databases -------------------------------------------------------------------------


class Target:
    """One kind of database, at several sizes, each kept between runs."""

    name = ""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.home = args.data_dir / "workspace"

    def directory(self, size: int) -> Path:
        return self.home / f"{self.name}-{size}"

    def marker(self, size: int) -> Path:
        return self.home / f"{self.name}-{size}.json"

    def env(self, size: int) -> dict[str, str]:
        env = _base_env()
        env["HEEDFUL_DATA_DIR"] = str(self.directory(size))
        env["HEEDFUL_DEMO"] = "0"
        # However the sign-in throttle is configured, the bench signs in once per server.
        env.setdefault("HEEDFUL_LOGIN_RATE", "1000/m")
        env.setdefault("HEEDFUL_LOGIN_IP_RATE", "1000/m")
        return env

    def exists(self, size: int) -> bool:
        raise NotImplementedError

    def create_empty(self, size: int) -> None:
        raise NotImplementedError

    def drop(self, size: int) -> None:
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        return {}

    def run(self, size: int, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *argv],
            cwd=ROOT,
            env=self.env(size),
            capture_output=True,
            text=True,
            check=False,
        )

    def cached(self, size: int) -> dict[str, Any] | None:
        try:
            info = dict(json.loads(self.marker(size).read_text()))
        except (OSError, ValueError):
            return None
        wanted = {"version": CACHE_VERSION, "conversations": size, "seed": SEED}
        if any(info.get(k) != v for k, v in wanted.items()) or not self.exists(size):
            return None
        return info

    def prepare(self, size: int) -> dict[str, Any]:
        """A migrated database holding the demo at `size`: reused when cached."""
        info = None if self.args.rebuild else self.cached(size)
        if info is not None:
            say(f"[{self.name} {size:,}] reusing the demo database built {info['built_at']}")
            check(self.run(size, ["-m", "heedful.cli", "migrate", "-v0"]), "migrate")
            return {**info, "reused": True}
        self.marker(size).unlink(missing_ok=True)
        self.drop(size)
        self.directory(size).mkdir(parents=True, exist_ok=True)
        self.create_empty(size)
        check(self.run(size, ["-m", "heedful.cli", "migrate", "-v0"]), "migrate")
        customers = max(1, size // 4)
        say(f"[{self.name} {size:,}] building the demo: {size:,} conversations ...")
        started = time.monotonic()
        result = self.run(
            size,
            [
                str(BENCH_DIR / "demo_load.py"),
                "--customers",
                str(customers),
                "--conversations",
                str(size),
                "--seed",
                str(SEED),
            ],
        )
        summary = last_json(check(result, "demo"))
        info = {
            "version": CACHE_VERSION,
            "conversations": size,
            "customers": customers,
            "seed": SEED,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_minutes": round((time.monotonic() - started) / 60, 2),
            "messages": summary.get("messages"),
        }
        self.marker(size).write_text(json.dumps(info) + "\n")
        say(f"[{self.name} {size:,}] demo built in {info['build_minutes']} min")
        return {**info, "reused": False}


class Sqlite(Target):
    name = "sqlite"

    def exists(self, size: int) -> bool:
        return (self.directory(size) / "heedful.sqlite3").exists()

    def create_empty(self, size: int) -> None:
        pass

    def drop(self, size: int) -> None:
        shutil.rmtree(self.directory(size), ignore_errors=True)
        self.marker(size).unlink(missing_ok=True)


class Postgres(PostgresServer, Target):
    name = "postgresql"

    def database(self, size: int) -> str:
        return f"heedful_bench_ws_{size}"

    def env(self, size: int) -> dict[str, str]:
        env = super().env(size)
        env["DATABASE_URL"] = self.url(self.database(size))
        env["REDIS_URL"] = self.args.redis
        env["HEEDFUL_HUEY_NAME"] = f"heedful-bench-ws-{size}"
        return env

    def exists(self, size: int) -> bool:
        with self.admin() as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.database(size)]
            ).fetchone()
        return found is not None

    def create_empty(self, size: int) -> None:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.database(size)}"')

    def drop(self, size: int) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database(size)}" WITH (FORCE)')
        shutil.rmtree(self.directory(size), ignore_errors=True)
        self.marker(size).unlink(missing_ok=True)

    def details(self) -> dict[str, Any]:
        return {"server_version": self.available(), "redis": self.args.redis}


def check(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"{what} failed with exit code {result.returncode}")
    return result.stdout


# --- setup, inside the target's environment ------------------------------------------------


def setup_child() -> None:
    """Run with the bench database's settings: the bench admin, the long conversation
    and the customer with many conversations. Prints their ids as JSON."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")
    import django

    django.setup()
    from heedful.accounts.models import Role, User
    from heedful.conversations.models import Conversation, Message

    admin = User.objects.filter(email=BENCH_EMAIL).first()
    if admin is None:
        admin = User.objects.create_user(
            email=BENCH_EMAIL, password=BENCH_PASSWORD, name="Bench Admin", role=Role.ADMIN
        )
    elif not admin.check_password(BENCH_PASSWORD) or admin.role != Role.ADMIN:
        admin.set_password(BENCH_PASSWORD)
        admin.role = Role.ADMIN
        admin.is_active = True
        admin.save()
    started = time.monotonic()
    fifty = _long_conversation(admin)
    customer_id = _busy_customer(admin)
    print(
        json.dumps(
            {
                "admin_id": admin.pk,
                "conversation_id": fifty.pk,
                "conversation_messages": Message.objects.filter(conversation=fifty).count(),
                "customer_id": customer_id,
                "customer_conversations": Conversation.objects.filter(
                    customer_id=customer_id
                ).count(),
                "setup_seconds": round(time.monotonic() - started, 1),
            }
        )
    )


def _inbox(kind: str) -> Any:
    from heedful.inboxes.models import Inbox

    inbox = Inbox.objects.filter(kind=kind, is_active=True).order_by("pk").first()
    if inbox is None:
        raise SystemExit(f"no active {kind} inbox in the demo database")
    return inbox


def _long_conversation(admin: Any) -> Any:
    """A conversation of 50 messages: 20 inbound emails, 20 replies and 10 notes,
    written one by one through receive / reply / note."""
    from heedful.conversations.inbound import InboundMessage, Sender
    from heedful.conversations.models import Conversation, Message
    from heedful.conversations.services import note, receive, reply

    for found in Conversation.objects.filter(
        customer__identities__kind="email", customer__identities__address=FIFTY_ADDRESS
    ).order_by("pk"):
        if Message.objects.filter(conversation=found).count() >= FIFTY_MESSAGES:
            return found
    inbox = _inbox("email")
    sender = Sender(kind="email", address=FIFTY_ADDRESS, name="Fifty Messages")
    conversation = receive(
        InboundMessage(
            inbox=inbox,
            sender=sender,
            subject="My standing order keeps changing",
            text="Hello, my standing order changed again this week. Can you look?",
        )
    ).conversation
    for n in range(1, FIFTY_MESSAGES):
        if n % 5 == 4:
            note(conversation=conversation, author=admin, text=f"Checked the order log ({n}).")
        elif n % 5 in (1, 3):
            reply(
                conversation=conversation,
                author=admin,
                text=f"Thanks for the details. Step {n}: we are checking the order history.",
            )
        else:
            receive(
                InboundMessage(
                    inbox=inbox,
                    sender=sender,
                    subject="Re: My standing order keeps changing",
                    text=f"Here is more about it, message {n}. It still happens.",
                    conversation_hint=conversation.number,
                )
            )
        conversation.refresh_from_db()
    stored = Message.objects.filter(conversation=conversation).count()
    if stored < FIFTY_MESSAGES:
        raise SystemExit(
            f"the long conversation has {stored} messages, "
            f"expected {FIFTY_MESSAGES}: inbound did not thread"
        )
    return conversation


def _busy_customer(admin: Any) -> int:
    """A customer with 200 web-form conversations over the last 90 days, 3 of 4 solved."""
    from datetime import timedelta

    from django.utils import timezone

    from heedful.conversations.inbound import InboundMessage, Sender
    from heedful.conversations.models import Conversation, Status
    from heedful.conversations.services import receive, set_status
    from heedful.customers.models import Customer

    customer = Customer.objects.filter(
        identities__kind="email", identities__address=PROFILE_ADDRESS
    ).first()
    have = Conversation.objects.filter(customer=customer).count() if customer else 0
    if customer is not None and have >= PROFILE_CONVERSATIONS:
        return int(customer.pk)
    inbox = _inbox("webform")
    sender = Sender(kind="email", address=PROFILE_ADDRESS, name="Many Conversations")
    now = timezone.now()
    step = timedelta(days=90) / PROFILE_CONVERSATIONS
    for n in range(have, PROFILE_CONVERSATIONS):
        # Oldest first, so they do not crowd the top of the lists being measured.
        result = receive(
            InboundMessage(
                inbox=inbox,
                sender=sender,
                subject=f"Question number {n + 1} about my account",
                text=f"Hello again, this is my question number {n + 1}.",
                received_at=now - step * (PROFILE_CONVERSATIONS - n),
            )
        )
        if n % 4 != 3:
            set_status(conversation=result.conversation, status=Status.SOLVED, actor=admin)
    return int(result.conversation.customer_id)


# --- HTTP on loopback --------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    server_ms: float | None
    client_ms: float
    cookies: dict[str, str] = field(default_factory=dict)


SERVER_DUR = re.compile(r"\bapp;dur=([0-9.]+)")


async def http(
    port: int,
    method: str,
    path: str,
    *,
    cookies: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    since: float | None = None,
    timeout: float = 60.0,
) -> Answer:
    """One HTTP/1.1 request on a fresh connection (Connection: close)."""
    started = time.perf_counter() if since is None else since
    body = b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    if form is not None:
        from urllib.parse import urlencode

        body = urlencode(form).encode()
        lines += [
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}",
            f"Referer: http://127.0.0.1:{port}{path}",
        ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    raw = await asyncio.wait_for(exchange(), timeout)
    client_ms = (time.perf_counter() - started) * 1000
    head, _, payload = raw.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split()[1])
    headers: dict[str, str] = {}
    set_cookies: dict[str, str] = {}
    for line in head_lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            key, _, rest = value.partition("=")
            set_cookies[key.strip()] = rest.split(";", 1)[0]
        headers[name] = value
    if headers.get("transfer-encoding", "").lower() == "chunked":
        payload = _unchunk(payload)
    timing = SERVER_DUR.search(headers.get("server-timing", ""))
    return Answer(
        status=status,
        headers=headers,
        body=payload,
        server_ms=float(timing.group(1)) if timing else None,
        client_ms=client_ms,
        cookies=set_cookies,
    )


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


class Server:
    """`heedful run` on a free loopback port, web only."""

    def __init__(self, target: Target, size: int, log: Path) -> None:
        self.target, self.size, self.log = target, size, log
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Server":
        env = self.target.env(self.size)
        env["HEEDFUL_BASE_URL"] = f"http://127.0.0.1:{self.port}"
        env["HEEDFUL_LOG_LEVEL"] = "WARNING"  # no access log line per request
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            command = ["-m", "heedful.cli", "run", "--no-worker", "--no-setup"]
            self.process = subprocess.Popen(
                [sys.executable, *command, "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited; see {self.log}")
            try:
                asyncio.run(http(self.port, "GET", "/healthz", timeout=5))
                return self
            except (OSError, TimeoutError):
                time.sleep(0.3)
        raise SystemExit(f"the server did not start in time; see {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def sign_in(port: int) -> dict[str, str]:
    page = await http(port, "GET", "/app/login/")
    if page.status != 200:
        raise SystemExit(f"GET /app/login/ answered {page.status}")
    cookies = dict(page.cookies)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    if token is None or "csrftoken" not in cookies:
        raise SystemExit("the sign-in page has no CSRF token")
    answer = await http(
        port,
        "POST",
        "/app/login/",
        cookies=cookies,
        form={
            "username": BENCH_EMAIL,
            "password": BENCH_PASSWORD,
            "csrfmiddlewaretoken": token.group(1).decode(),
        },
    )
    cookies.update(answer.cookies)
    if answer.status not in (302, 303) or "sessionid" not in cookies:
        raise SystemExit(f"signing in failed: {answer.status} {answer.body[:300]!r}")
    return cookies


async def find_deep_page(port: int, cookies: dict[str, str]) -> tuple[str, int]:
    """Follow rel="next" from page 1 up to page 200; the URL and the page reached."""
    url, page = LIST_PATH, 1
    while page < DEEP_PAGE:
        answer = await http(port, "GET", url, cookies=cookies)
        if answer.status != 200:
            raise SystemExit(f"GET {url} answered {answer.status}")
        next_url = _next_link(answer.body.decode("utf-8", "replace"))
        if next_url is None:
            break
        url = urljoin(url, next_url)
        page += 1
    return url, page


def _next_link(text: str) -> str | None:
    for tag in NEXT_LINK.findall(text):
        found = HREF.search(tag)
        if found:
            return html.unescape(found.group(1) or found.group(2))
    return None


# --- measuring --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(answers: list[Answer], errors: list[str], seconds: float) -> dict[str, Any]:
    server = [a.server_ms for a in answers if a.server_ms is not None]
    client = [a.client_ms for a in answers]
    figures: dict[str, Any] = {
        "requests": len(answers) + len(errors),
        "ok": sum(1 for a in answers if a.status == 200),
        "errors": len(errors) + sum(1 for a in answers if a.status != 200),
        "seconds": round(seconds, 2),
        "load": load(),
    }
    for name, values in (("server_ms", server), ("client_ms", client)):
        if values:
            figures[name] = {
                "p50": round(percentile(values, 0.50), 2),
                "p95": round(percentile(values, 0.95), 2),
                "p99": round(percentile(values, 0.99), 2),
                "max": round(max(values), 2),
                "mean": round(sum(values) / len(values), 2),
            }
    if errors:
        figures["error_samples"] = errors[:5]
    statuses = sorted({a.status for a in answers if a.status != 200})
    if statuses:
        figures["other_statuses"] = statuses
    return figures


@dataclass
class Site:
    """One running server over one database size, signed in."""

    size: int
    port: int
    cookies: dict[str, str]
    paths: dict[str, str]

    async def get(self, page: str, since: float | None = None) -> Answer:
        return await http(self.port, "GET", self.paths[page], cookies=self.cookies, since=since)


Collected = dict[int, tuple[list[Answer], list[str]]]


async def sequential(sites: list[Site], page: str, warmup: int, count: int) -> Collected:
    """One client at a time; with several sizes, one request to each in turn, so a
    busy spell of the machine hits every size alike."""
    for site in sites:
        for _ in range(warmup):
            await site.get(page)
    got: Collected = {site.size: ([], []) for site in sites}
    for _ in range(count):
        for site in sites:
            try:
                got[site.size][0].append(await site.get(page))
            except Exception as exc:
                got[site.size][1].append(f"{type(exc).__name__}: {exc}")
    return got


async def open_loop(
    sites: list[Site], page: str, rate: float, duration: float, blocks: int
) -> Collected:
    """Requests leave on a fixed schedule whatever the answers do. With several sizes
    the duration is cut into blocks that take turns (A B, B A, A B, ...)."""
    got: Collected = {site.size: ([], []) for site in sites}
    block_p95.clear()
    block_p95.update({site.size: [] for site in sites})
    length = duration / blocks
    for block in range(blocks):
        for site in sites if block % 2 == 0 else sites[::-1]:
            before = len(got[site.size][0])
            await _fire(site, page, rate, length, got[site.size])
            block_p95[site.size].append(_block_p95(got[site.size][0][before:]))
    return got


# Server p95 of each open-loop block, per size: shows a busy spell of the machine.
block_p95: dict[int, list[float | None]] = {}


def _block_p95(answers: list[Answer]) -> float | None:
    values = [a.server_ms for a in answers if a.server_ms is not None]
    return round(percentile(values, 0.95), 1) if values else None


async def _fire(
    site: Site, page: str, rate: float, seconds: float, into: tuple[list[Answer], list[str]]
) -> None:
    async def one(due: float) -> None:
        try:
            into[0].append(await site.get(page, since=due))
        except Exception as exc:
            into[1].append(f"{type(exc).__name__}: {exc}")

    tasks = []
    begin = time.perf_counter() + 0.05
    for n in range(max(1, round(rate * seconds))):
        due = begin + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)


def start_site(target: Target, size: int, stack: contextlib.ExitStack) -> tuple[Site, Any]:
    """Build or reuse the database, set it up, start its server and sign in."""
    build = target.prepare(size)
    say(f"[{target.name} {size:,}] setting up the bench admin and pages ...")
    setup = last_json(check(target.run(size, [__file__, "--setup-child"]), "setup"))
    log = target.home / f"{target.name}-{size}-server.log"
    server = stack.enter_context(Server(target, size, log))
    cookies = asyncio.run(sign_in(server.port))
    deep_url, deep_page = asyncio.run(find_deep_page(server.port, cookies))
    say(f"[{target.name} {size:,}] page {deep_page} of the list: {deep_url}")
    site = Site(
        size=size,
        port=server.port,
        cookies=cookies,
        paths={
            "list_first": LIST_PATH,
            "list_deep": deep_url,
            "conversation": f"/app/conversations/{setup['conversation_id']}/",
            "customer": f"/app/customers/{setup['customer_id']}/",
        },
    )
    figures: dict[str, Any] = {
        "database": build,
        "setup": setup,
        "deep_page": deep_page,
        "pages": {},
    }
    for page, path in site.paths.items():
        probe = asyncio.run(site.get(page))
        if probe.status != 200:
            raise SystemExit(f"GET {path} answered {probe.status}; see {log}")
        figures["pages"][page] = {"path": path, "bytes": len(probe.body)}
    return site, figures


def bench_sizes(target: Target, sizes: list[int], report: dict[str, Any]) -> None:
    args = target.args
    with contextlib.ExitStack() as stack:
        sites = []
        for size in sizes:
            site, figures = start_site(target, size, stack)
            sites.append(site)
            report["sizes"][str(size)] = figures
        modes = (
            (
                "sequential",
                "one client",
                lambda page: sequential(sites, page, args.warmup, args.requests),
            ),
            (
                "open_loop",
                f"{args.rate:g} req/s",
                lambda page: open_loop(sites, page, args.rate, args.duration, args.blocks),
            ),
        )
        pages = [p.strip() for p in args.pages.split(",") if p.strip()]
        unknown = set(pages) - set(PAGES)
        if unknown:
            raise SystemExit(f"unknown pages: {', '.join(sorted(unknown))}")
        for mode, label, measure in modes:
            for page in pages:
                started = time.perf_counter()
                got = asyncio.run(measure(page))
                seconds = time.perf_counter() - started
                for site in sites:
                    answers, errors = got[site.size]
                    result = summary(answers, errors, seconds)
                    if mode == "open_loop":
                        result["block_server_p95"] = block_p95.get(site.size, [])
                    report["sizes"][str(site.size)]["pages"][page][mode] = result
                    say(_line(target, site.size, label, page, result))


def _line(target: Target, size: int, mode: str, page: str, result: dict[str, Any]) -> str:
    return f"[{target.name} {size:,}] {mode:10} {PAGE_LABELS[page]:28} {_brief(result)}"


def _brief(result: dict[str, Any]) -> str:
    s, c = result.get("server_ms", {}), result.get("client_ms", {})
    text = (
        f"server p50 {s.get('p50')} p95 {s.get('p95')} p99 {s.get('p99')} max {s.get('max')} ms; "
        f"client p95 {c.get('p95')} ms"
    )
    if result["errors"]:
        text += f"; {result['errors']} errors"
    return text


def judge(name: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """PASS/FAIL per target; the absolute ones at the largest size."""
    verdict: dict[str, Any] = {"judged": name == "sqlite", "checks": []}
    keys = sorted(sizes, key=int)
    if not keys:
        return verdict
    small, large = sizes[keys[0]], sizes[keys[-1]]
    for (mode, page), limit in TARGETS.items():
        p95 = _p95(large, page, mode)
        if mode not in large["pages"].get(page, {}):
            continue  # not measured this time (--pages)
        verdict["checks"].append(
            {
                "target": f"{mode} {page} p95 <= {limit:g} ms at {int(keys[-1]):,}",
                "value": p95,
                "pass": p95 is not None and p95 <= limit,
            }
        )
    if len(keys) > 1:
        for page in PAGES:
            for mode in ("sequential", "open_loop"):
                if mode not in large["pages"].get(page, {}):
                    continue
                a, b = _p95(small, page, mode), _p95(large, page, mode)
                ratio = round(b / a, 2) if a and b else None
                verdict["checks"].append(
                    {
                        "target": f"{mode} {page} p95 at {int(keys[-1]):,} <= "
                        f"{TARGET_RATIO} x p95 at {int(keys[0]):,}",
                        "value": ratio,
                        "pass": ratio is not None and ratio <= TARGET_RATIO,
                    }
                )
    verdict["all_pass"] = all(c["pass"] for c in verdict["checks"])
    return verdict


def _p95(figures: dict[str, Any], page: str, mode: str) -> float | None:
    try:
        return float(figures["pages"][page][mode]["server_ms"]["p95"])
    except (KeyError, TypeError):
        return None


def table(name: str, sizes: dict[str, Any], verdict: dict[str, Any]) -> str:
    keys = sorted(sizes, key=int)
    lines = [f"\n{name}: server-side ms (Server-Timing), client p95 in brackets"]
    header = f"{'page':30} {'mode':10}"
    for key in keys:
        header += f" | {int(key):>9,}: p50    p95    p99    max  (client)"
    if len(keys) > 1:
        header += " | p95 ratio"
    lines.append(header)
    for page in PAGES:
        for mode in ("sequential", "open_loop"):
            if mode not in sizes[keys[-1]]["pages"].get(page, {}):
                continue
            label = "1 client" if mode == "sequential" else "20 req/s"
            row = f"{PAGE_LABELS[page]:30} {label:10}"
            for key in keys:
                r = sizes[key]["pages"].get(page, {}).get(mode, {})
                s, c = r.get("server_ms", {}), r.get("client_ms", {})
                row += (
                    f" | {'':10} {s.get('p50', 0):6.1f} {s.get('p95', 0):6.1f} "
                    f"{s.get('p99', 0):6.1f} {s.get('max', 0):6.1f} ({c.get('p95', 0):6.1f})"
                )
            if len(keys) > 1:
                a, b = _p95(sizes[keys[0]], page, mode), _p95(sizes[keys[-1]], page, mode)
                row += f" | {b / a:9.2f}" if a and b else " |         -"
            lines.append(row)
    tag = "" if verdict["judged"] else " (targets are for SQLite; shown for comparison)"
    lines.append(f"targets{tag}:")
    for c in verdict["checks"]:
        lines.append(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['value']}")
    return "\n".join(lines)


def write(report: dict[str, Any], name: str, args: argparse.Namespace) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = report["started_at"].replace(":", "").replace("+0000", "Z")
    path = args.output or RESULTS / f"{stamp}-workspace-{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def _sizes(text: str) -> Iterator[int]:
    for part in text.split(","):
        if part.strip():
            yield int(part.strip().replace("_", ""))


def main() -> None:
    args = parse_args()
    if args.setup_child:
        setup_child()
        return
    args.data_dir = args.data_dir.resolve()
    if (ROOT / "var") in args.data_dir.parents or args.data_dir == ROOT / "var":
        raise SystemExit("the bench keeps its data out of var/: choose another --data-dir")
    (args.data_dir / "workspace").mkdir(parents=True, exist_ok=True)
    sizes = sorted(set(_sizes(args.sizes)))
    for name in [d.strip() for d in args.databases.split(",") if d.strip()]:
        target: Target
        if name == "sqlite":
            target = Sqlite(args)
        elif name == "postgresql":
            target = Postgres(args)
            if target.available() is None:
                say("postgresql: skipped (server not reachable)")
                continue
        else:
            raise SystemExit(f"unknown database {name!r}")
        if args.prepare_only:
            for size in sizes:
                target.prepare(size)
                check(target.run(size, [__file__, "--setup-child"]), "setup")
            continue
        started = datetime.now(UTC)
        report: dict[str, Any] = {
            "benchmark": "heedful: agent workspace latency",
            "database": name,
            "started_at": started.isoformat(timespec="seconds"),
            "commit": head_commit(),
            "machine": machine(),
            "details": target.details(),
            "settings": {
                "sizes": sizes,
                "warmup": args.warmup,
                "requests": args.requests,
                "rate": args.rate,
                "duration": args.duration,
                "blocks": args.blocks,
            },
            "notes": [
                "server_ms: Server-Timing app;dur (Django middleware, view, template); "
                "client_ms: wall time here, from send (one client) or from the due time "
                "(open loop), a new loopback connection per request.",
                "Server: heedful run --no-worker --no-setup (uvicorn, one process) on "
                "loopback; signed in as an admin through /app/login/.",
                "The bench client runs on the same machine and shares its CPUs.",
                "Sizes are measured in turns: one client goes round the servers request "
                "by request; open loop runs in --blocks blocks per size in A B, B A order. "
                "seconds: wall time of the whole measurement, all sizes together.",
            ],
            "sizes": {},
        }
        try:
            bench_sizes(target, sizes, report)
        finally:
            write(report, name, args)
            if args.drop:
                for size in sizes:
                    target.drop(size)
        report["targets"] = verdict = judge(name, report["sizes"])
        report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        path = write(report, name, args)
        say(table(name, report["sizes"], verdict))
        say(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
