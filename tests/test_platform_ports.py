"""Two `tsunagu up` on one host, and restarts: each data dir keeps its NATS port, a busy
default console port moves to a free one while a busy port asked for fails naming it, one data
dir runs one platform, Ctrl-C prints no traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tsunagu.runtime import console_port, free_port


def _env() -> dict[str, str]:
    env = {**os.environ, "TSUNAGU_LOG_FORMAT": "json"}
    env.pop("TSUNAGU_NATS_URL", None)
    return env


def _up(data: Path, console: int | None, out: Path) -> subprocess.Popen[bytes]:
    port = [] if console is None else ["--console-port", str(console)]
    return subprocess.Popen(
        [sys.executable, "-m", "tsunagu", "up", "--data-dir", str(data), *port],
        env=_env(), stdout=out.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


@contextmanager
def _listening() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _wait_up(proc: subprocess.Popen[bytes], out: Path) -> str:
    while "next, try" not in out.read_text():
        assert proc.poll() is None, out.read_text()
        time.sleep(0.2)
    return out.read_text()


def _stop(proc: subprocess.Popen[bytes]) -> int:
    os.killpg(proc.pid, signal.SIGINT)
    return proc.wait(60)


def _console(output: str) -> str:
    return re.findall(r"open the console: (\S+)", output)[-1]


@pytest.mark.timeout(240)
def test_two_platforms_side_by_side_and_a_restart_keeps_the_nats_port(tmp_path: Path):
    port = free_port()
    a_out, b_out = tmp_path / "a.log", tmp_path / "b.log"
    a = _up(tmp_path / "a", port, a_out)
    try:
        a_text = _wait_up(a, a_out)
        b = _up(tmp_path / "b", None, b_out)  # the default port: moves if 8780 is taken
        try:
            b_text = _wait_up(b, b_out)
            again = subprocess.run(
                [sys.executable, "-m", "tsunagu", "up", "--data-dir", str(tmp_path / "a")],
                capture_output=True, text=True, timeout=60)
        finally:
            assert _stop(b) == 0
    finally:
        assert _stop(a) == 0
    assert _console(a_text) == f"http://127.0.0.1:{port}"
    assert _console(b_text) != _console(a_text) and _console(b_text).startswith("http://")
    assert (tmp_path / "a" / "nats.url").read_text() != (tmp_path / "b" / "nats.url").read_text()
    assert again.returncode != 0 and "another `tsunagu up` is running" in again.stderr
    url = (tmp_path / "a" / "nats.url").read_text()
    a = _up(tmp_path / "a", port, a_out)
    try:
        _wait_up(a, a_out)
    finally:
        assert _stop(a) == 0
    assert (tmp_path / "a" / "nats.url").read_text() == url
    for log in (a_out, b_out):
        assert "Traceback" not in log.read_text()


def test_the_default_console_port_moves_to_a_free_one_when_taken():
    with _listening() as taken:
        moved = console_port(None, "127.0.0.1", default=taken)
    assert moved not in (taken, 0)


def test_a_console_port_asked_for_is_used_as_given_when_free():
    port = free_port()
    assert console_port(port, "127.0.0.1") == port
    assert console_port(0, "127.0.0.1") == 0  # 0: the console picks a free one itself


def test_a_console_port_asked_for_that_is_taken_is_an_error_naming_it():
    with _listening() as taken, pytest.raises(SystemExit) as raised:
        console_port(taken, "127.0.0.1")
    message = str(raised.value.code)
    assert f"--console-port {taken}" in message and "127.0.0.1" in message
    assert f"ss -ltnp 'sport = :{taken}'" in message  # who holds it


@pytest.mark.timeout(60)
def test_up_with_a_taken_console_port_fails_before_starting_anything(tmp_path: Path):
    with _listening() as taken:
        out = subprocess.run(
            [sys.executable, "-m", "tsunagu", "up", "--data-dir", str(tmp_path / "d"),
             "--console-port", str(taken)],
            env=_env(), capture_output=True, text=True, timeout=50)
    assert out.returncode != 0
    assert f"--console-port {taken} is taken" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "d" / "nats.url").exists()  # no NATS, no services were started
