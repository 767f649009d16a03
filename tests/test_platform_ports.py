"""Two `tsunagu up` on one host, and restarts: each data dir keeps its NATS port, a busy
console port is not claimed twice, one data dir runs one platform, Ctrl-C prints no traceback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tsunagu.runtime import free_port


def _up(data: Path, console_port: int, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TSUNAGU_LOG_FORMAT": "json"}
    env.pop("TSUNAGU_NATS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tsunagu", "up", "--data-dir", str(data),
         "--console-port", str(console_port)],
        env=env, stdout=out.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


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
        b = _up(tmp_path / "b", port, b_out)
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
    assert _console(b_text) != _console(a_text)
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
