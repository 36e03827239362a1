"""`heedful run`: set up, then serve the web app and run the background worker.

One process holds everything in the embedded setup: uvicorn in the main thread,
the Huey consumer and the heartbeat as threads beside it, and the in-memory
channel layer they share. Only the IMAP fetcher (`heedful fetch-email`) runs as a
child process, because it holds mailbox connections open in IDLE for hours.
Ctrl-C or SIGTERM stops the web server first (it finishes open requests), then
lets running tasks finish, stops the fetcher, and exits 0.

The first-run steps (database, first admin, demo data) are plain functions so
they can be tested without starting a server.
"""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, connections, transaction

DEMO_MARKER = ".demo-done"
DEMO_OPTIONS: dict[str, Any] = {"customers": 2000, "conversations": 9000, "days": 90, "seed": 1}
DEFAULT_ADMIN_EMAIL = "admin@localhost"
# How long uvicorn waits for open connections (WebSockets) at shutdown.
WS_MAX_FRAME_BYTES = 64 * 1024
WEB_SHUTDOWN_TIMEOUT = 10
# How long the email fetcher gets to log out of its mailboxes at shutdown.
FETCHER_STOP_TIMEOUT = 10


class Out(Protocol):
    """Where setup reports: a command's stdout, or a StringIO in tests."""

    def write(self, msg: str, /) -> object: ...


@dataclass(frozen=True)
class AdminResult:
    email: str
    created: bool
    generated_password: str | None = None


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in {"0", "false", "no", "off"}


def migrate(out: Out) -> None:
    out.write("Preparing the database...\n")
    call_command("migrate", interactive=False, verbosity=0)


def ensure_admin(out: Out, base_url: str | None = None) -> AdminResult | None:
    """Create (or revive) an admin when no active one exists; None when one does.

    The credentials come from HEEDFUL_ADMIN_EMAIL / HEEDFUL_ADMIN_PASSWORD. Without a
    password one is generated and printed this once: it is never stored in clear.
    """
    from heedful.accounts.models import Role, User

    active_admins = User.objects.filter(is_active=True, role=Role.ADMIN) | User.objects.filter(
        is_active=True, is_superuser=True
    )
    if active_admins.exists():
        return None
    email = (os.environ.get("HEEDFUL_ADMIN_EMAIL") or DEFAULT_ADMIN_EMAIL).strip().lower()
    password = os.environ.get("HEEDFUL_ADMIN_PASSWORD") or ""
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    try:
        with transaction.atomic():
            user = User.objects.filter(email__iexact=email).first()
            created = user is None
            if user is None:
                user = User.objects.create_superuser(email=email, password=password)
            else:
                # Nobody can sign in to configure anything: give this account admin rights back.
                user.is_active = True
                user.is_superuser = True
                user.role = Role.ADMIN
                user.set_password(password)
                user.save()
    except IntegrityError:
        # Another process created it at the same moment; that one prints the password.
        return None
    sign_in = f"{base_url or settings.BASE_URL}/app/"
    verb = "Created" if created else "Restored admin rights for"
    if generated:
        line = "=" * 64
        out.write(
            f"\n{line}\n"
            f"  {verb} the first admin. Sign in at {sign_in}\n"
            f"    email:    {email}\n"
            f"    password: {generated}\n"
            f"  This password is shown only now: note it, then change it in the admin.\n"
            f"{line}\n\n"
        )
    else:
        out.write(
            f"{verb} the admin {email} (password from HEEDFUL_ADMIN_PASSWORD). "
            f"Sign in at {sign_in}\n"
        )
    return AdminResult(email=email, created=created, generated_password=generated)


def load_demo_once(out: Out) -> bool:
    """Load the demo data on the very first run only; True when it was loaded.

    The marker under the data directory records that the first run happened, and
    "no conversations yet" keeps a second machine on a shared database from loading
    it again. HEEDFUL_DEMO=0 skips it.
    """
    from heedful.conversations.models import Conversation

    marker = Path(settings.DATA_DIR) / DEMO_MARKER
    if marker.exists():
        return False
    if not _env_flag("HEEDFUL_DEMO", default=True):
        out.write("Demo data skipped (HEEDFUL_DEMO=0).\n")
        _write_marker(marker, "skipped")
        return False
    if Conversation.objects.exists():
        _write_marker(marker, "existing data")
        return False
    if "demo" not in get_commands():
        out.write(
            "Demo data not loaded: this version has no `heedful demo` command. "
            "Heedful starts empty.\n"
        )
        return False
    out.write("Loading demo data (first run only; HEEDFUL_DEMO=0 skips it)...\n")
    try:
        call_command("demo", **DEMO_OPTIONS)
    except Exception as exc:
        out.write(
            f"Demo data could not be loaded ({type(exc).__name__}: {exc}). "
            "Heedful starts without it; try `heedful demo` later.\n"
        )
        return False
    _write_marker(marker, "loaded")
    return True


def _write_marker(marker: Path, state: str) -> None:
    marker.write_text(f"{state}\n")


def setup(out: Out, base_url: str | None = None) -> None:
    """Everything a first run needs before serving; safe to repeat on every start."""
    migrate(out)
    ensure_admin(out, base_url)
    load_demo_once(out)


def collect_static(out: Out) -> None:
    call_command("collectstatic", interactive=False, verbosity=0)


class Command(BaseCommand):
    help = (
        "Set up the database (migrations, a first admin, demo data on the first run), "
        "then serve Heedful and run its background worker in this process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default=os.environ.get("HEEDFUL_HOST", "127.0.0.1"),
            help="Address to listen on (env HEEDFUL_HOST; default 127.0.0.1).",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("HEEDFUL_PORT", "8000")),
            help="Port to listen on (env HEEDFUL_PORT; default 8000).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("HEEDFUL_WEB_WORKERS", "1")),
            help="Web server processes (env HEEDFUL_WEB_WORKERS; default 1). "
            "More than one needs REDIS_URL.",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="Background worker threads (default: HEEDFUL_WORKERS, or the setting).",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Serve the web app only; run `heedful worker` processes for background work.",
        )
        parser.add_argument(
            "--no-fetch-email",
            action="store_true",
            help="Do not start the IMAP fetcher (`heedful fetch-email`) beside the server: "
            "run it yourself, once per installation.",
        )
        parser.add_argument(
            "--no-setup",
            action="store_true",
            help="Skip migrations, the first admin and demo data "
            "(a release step ran `heedful run --setup-only`).",
        )
        parser.add_argument(
            "--setup-only",
            action="store_true",
            help="Run the setup steps, then exit without serving.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        if options["workers"] > 1 and not settings.REDIS_URL:
            raise CommandError(
                "Several web processes share the real-time layer and the worker heartbeat "
                "through Redis: set REDIS_URL, or use --workers 1."
            )
        if not options["no_setup"]:
            serving = not options["setup_only"]
            setup(self.stdout, _base_url(options["host"], options["port"]) if serving else None)
        if options["setup_only"]:
            return
        collect_static(self.stdout)
        connections.close_all()
        self.serve(
            host=options["host"],
            port=options["port"],
            web_workers=options["workers"],
            with_worker=not options["no_worker"],
            threads=options["threads"],
            with_fetcher=not options["no_fetch_email"],
        )

    def serve(
        self,
        *,
        host: str,
        port: int,
        web_workers: int,
        with_worker: bool,
        threads: int | None,
        with_fetcher: bool = True,
    ) -> None:
        import uvicorn

        from heedful.core.consumer import BackgroundWorker

        worker = BackgroundWorker(threads=threads, periodic=True) if with_worker else None
        if worker is not None and web_workers == 1:
            from heedful.core import live

            live.serve_catch_up()  # sockets and the outbox share this one process
        self._print_urls(host, port, web_workers, worker)

        # uvicorn restores the previous handlers after it stops and re-raises the signal
        # it caught; a handler that only notes it turns that into a clean exit here.
        received: list[int] = []

        def note(signum: int, frame: FrameType | None) -> None:
            received.append(signum)

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, note)

        config: dict[str, Any] = {
            "host": host,
            "port": port,
            "lifespan": "off",  # Django's ASGI handler does not speak the lifespan protocol
            "log_config": None,  # keep Django's LOGGING
            "timeout_graceful_shutdown": WEB_SHUTDOWN_TIMEOUT,
            "server_header": False,
            # Agents' sockets send small JSON frames (presence); refuse anything large
            # before it is buffered (uvicorn's default is 16 MiB).
            "ws_max_size": WS_MAX_FRAME_BYTES,
        }
        fetcher: subprocess.Popen[bytes] | None = None
        try:
            if with_fetcher:
                fetcher = start_fetcher()
                self.stdout.write(
                    f"Email fetcher started (`heedful fetch-email`, PID {fetcher.pid})."
                )
            if worker:
                worker.start()
            if web_workers > 1:
                uvicorn.run("heedful.asgi:application", workers=web_workers, **config)
            else:
                from heedful.asgi import application

                server = uvicorn.Server(uvicorn.Config(application, **config))
                with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
                    server.run()
                if not server.started and not received:
                    raise CommandError(
                        f"The web server could not start on {host}:{port} (see above). "
                        "Is another server using that port? Choose one with --port."
                    )
        finally:
            if worker:
                self.stdout.write("Stopping the background worker...")
                # A second Ctrl-C while tasks finish interrupts them.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                with contextlib.suppress(KeyboardInterrupt):
                    worker.stop()
            if fetcher is not None:
                stop_fetcher(fetcher)
            connections.close_all()
        self.stdout.write("Heedful stopped.")

    def _print_urls(self, host: str, port: int, web_workers: int, worker: Any) -> None:
        base = _base_url(host, port)
        lines = [
            "",
            f"Heedful is starting on {base}/",
            f"  Help center:        {base}/help/",
            f"  Customer portal:    {base}/portal/",
            f"  Contact form:       {base}/contact/",
            f"  Agent workspace:    {base}/app/",
            f"  Admin:              {base}/admin/",
            f"  Health:             {base}/healthz",
        ]
        if web_workers > 1:
            lines.append(f"  Web processes:      {web_workers}")
        if worker:
            lines.append(f"  Background worker: {worker.threads} threads, periodic tasks on")
        else:
            lines.append("  Background worker: not embedded (run `heedful worker` beside it)")
            if not settings.REDIS_URL:
                lines.append("  Without REDIS_URL, /healthz here cannot see a separate worker.")
        lines.append("Press Ctrl-C to stop.\n")
        self.stdout.write("\n".join(lines))


def start_fetcher() -> subprocess.Popen[bytes]:
    """`heedful fetch-email` as a child: it shares this process's environment and output."""
    return subprocess.Popen([sys.executable, "-m", "heedful.cli", "fetch_email"])


def stop_fetcher(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=FETCHER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _base_url(host: str, port: int) -> str:
    """The address to open in a browser for the address the server listens on."""
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"
