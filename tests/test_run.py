"""`heedful run`: the first-run setup as functions, and the real process end to end."""

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from heedful.accounts.models import Role, User
from heedful.core.management.commands import run

# --- first-run setup -------------------------------------------------------------


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def no_admin_env(monkeypatch) -> None:
    for name in ("HEEDFUL_ADMIN_EMAIL", "HEEDFUL_ADMIN_PASSWORD", "HEEDFUL_DEMO"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.django_db
def test_first_admin_comes_from_the_environment(monkeypatch, no_admin_env):
    monkeypatch.setenv("HEEDFUL_ADMIN_EMAIL", "Boss@Example.com")
    monkeypatch.setenv("HEEDFUL_ADMIN_PASSWORD", "a long passphrase")
    out = io.StringIO()

    result = run.ensure_admin(out)

    assert result is not None
    assert result.created
    assert result.generated_password is None
    admin = User.objects.get(email="boss@example.com")
    assert admin.is_admin
    assert admin.is_staff
    assert admin.check_password("a long passphrase")
    assert "a long passphrase" not in out.getvalue()
    assert "/app/" in out.getvalue()


@pytest.mark.django_db
def test_first_admin_is_created_once(monkeypatch, no_admin_env):
    monkeypatch.setenv("HEEDFUL_ADMIN_PASSWORD", "a long passphrase")
    run.ensure_admin(io.StringIO())
    again = io.StringIO()

    assert run.ensure_admin(again) is None
    assert again.getvalue() == ""
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_generated_password_is_printed_once(no_admin_env):
    first, second = io.StringIO(), io.StringIO()

    result = run.ensure_admin(first, base_url="http://127.0.0.1:9000")
    run.ensure_admin(second)

    assert result is not None
    assert result.generated_password
    assert len(result.generated_password) >= 12
    assert result.generated_password in first.getvalue()
    assert "http://127.0.0.1:9000/app/" in first.getvalue()
    assert second.getvalue() == ""
    admin = User.objects.get(email=run.DEFAULT_ADMIN_EMAIL)
    assert admin.check_password(result.generated_password)


@pytest.mark.django_db
def test_no_admin_is_created_when_an_active_one_exists(cast, no_admin_env):
    assert run.ensure_admin(io.StringIO()) is None
    assert not User.objects.filter(email=run.DEFAULT_ADMIN_EMAIL).exists()


@pytest.mark.django_db
def test_an_admin_is_restored_when_every_admin_is_deactivated(cast, monkeypatch, no_admin_env):
    User.objects.filter(role=Role.ADMIN).update(is_active=False)
    monkeypatch.setenv("HEEDFUL_ADMIN_EMAIL", cast.admin.email)
    monkeypatch.setenv("HEEDFUL_ADMIN_PASSWORD", "back in business")

    result = run.ensure_admin(io.StringIO())

    assert result is not None
    assert not result.created
    cast.admin.refresh_from_db()
    assert cast.admin.is_admin
    assert cast.admin.check_password("back in business")


@pytest.fixture
def demo_calls(monkeypatch) -> list[tuple[str, dict]]:
    """Record calls to `heedful demo` instead of building the data."""
    calls: list[tuple[str, dict]] = []

    def fake_call_command(name: str, **options: object) -> None:
        calls.append((name, options))

    monkeypatch.setattr(run, "call_command", fake_call_command)
    monkeypatch.setattr(run, "get_commands", lambda: {"demo": "heedful.core"})
    return calls


@pytest.mark.django_db
def test_demo_data_is_loaded_on_the_first_run_only(data_dir, demo_calls, no_admin_env):
    assert run.load_demo_once(io.StringIO()) is True
    assert run.load_demo_once(io.StringIO()) is False

    assert demo_calls == [("demo", run.DEMO_OPTIONS)]
    assert run.DEMO_OPTIONS == {"customers": 2000, "conversations": 9000, "days": 90, "seed": 1}
    assert (data_dir / run.DEMO_MARKER).exists()


@pytest.mark.django_db
def test_demo_data_is_skipped_with_heedful_demo_0(data_dir, demo_calls, monkeypatch):
    monkeypatch.setenv("HEEDFUL_DEMO", "0")
    out = io.StringIO()

    assert run.load_demo_once(out) is False

    assert demo_calls == []
    assert "HEEDFUL_DEMO=0" in out.getvalue()
    assert (data_dir / run.DEMO_MARKER).exists()


@pytest.mark.django_db
def test_demo_data_is_not_loaded_over_existing_conversations(
    cast, data_dir, demo_calls, no_admin_env
):
    cast.conversation_a()
    assert run.load_demo_once(io.StringIO()) is False
    assert demo_calls == []


@pytest.mark.django_db
def test_a_failing_demo_does_not_stop_the_start(data_dir, monkeypatch, no_admin_env):
    def broken_demo(name: str, **options: object) -> None:
        raise RuntimeError("out of ideas")

    monkeypatch.setattr(run, "call_command", broken_demo)
    monkeypatch.setattr(run, "get_commands", lambda: {"demo": "heedful.core"})
    out = io.StringIO()

    assert run.load_demo_once(out) is False
    assert "out of ideas" in out.getvalue()
    assert not (data_dir / run.DEMO_MARKER).exists()


@pytest.mark.django_db
def test_setup_only_prepares_everything_and_serves_nothing(data_dir, monkeypatch, no_admin_env):
    monkeypatch.setenv("HEEDFUL_DEMO", "0")
    monkeypatch.setenv("HEEDFUL_ADMIN_PASSWORD", "a long passphrase")
    out = io.StringIO()

    call_command("run", "--setup-only", stdout=out)

    assert User.objects.get(email=run.DEFAULT_ADMIN_EMAIL).is_admin
    assert (data_dir / run.DEMO_MARKER).exists()
    assert "Heedful is starting" not in out.getvalue()


@pytest.mark.skipif(bool(django_settings.REDIS_URL), reason="Redis is configured")
def test_several_web_processes_need_redis():
    with pytest.raises(CommandError, match="REDIS_URL"):
        call_command("run", "--workers", "2", "--no-setup")


# --- the real process ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _embedded_env(data_dir: Path) -> dict[str, str]:
    """The embedded setup in a data directory of its own, whatever this run's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEEDFUL_", "DJANGO_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    env.update(HEEDFUL_DATA_DIR=str(data_dir), HEEDFUL_DEMO="0", PYTHONUNBUFFERED="1")
    return env


def _heedful(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "heedful.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"heedful run exited early:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered 200:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> int:
    process.send_signal(sig)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.mark.slow
def test_heedful_run_serves_runs_the_worker_and_stops_cleanly(tmp_path):
    env, log = _embedded_env(tmp_path), tmp_path / "run.log"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    first = _heedful("run", "--port", str(port), env=env, log=log)
    # /healthz is 200 only once the embedded worker's heartbeat is there.
    _wait_healthy(f"{base}/healthz", first, log)
    with urllib.request.urlopen(f"{base}/contact/", timeout=5) as response:  # noqa: S310
        assert response.status == 200
    started = time.monotonic()
    assert _stop(first, signal.SIGINT) == 0, log.read_text()
    assert time.monotonic() - started < 5
    first_output = log.read_text()
    assert "password:" in first_output
    assert f"{base}/contact/" in first_output
    assert "Heedful stopped." in first_output

    log.write_text("")
    second = _heedful("run", "--port", str(port), env=env, log=log)
    _wait_healthy(f"{base}/healthz", second, log)
    assert _stop(second, signal.SIGTERM) == 0, log.read_text()
    assert "password:" not in log.read_text()


@pytest.mark.slow
def test_heedful_worker_runs_until_stopped(tmp_path):
    env, log = _embedded_env(tmp_path), tmp_path / "worker.log"
    worker = _heedful("worker", "--periodic", "--threads", "1", env=env, log=log)
    deadline = time.monotonic() + 20
    while "Heedful worker running" not in log.read_text():
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    assert "periodic tasks on" in log.read_text()
    assert _stop(worker, signal.SIGTERM) == 0, log.read_text()
    assert "Heedful worker stopped." in log.read_text()
