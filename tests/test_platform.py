"""`tsunagu up` on a fresh data dir: embedded NATS, the stream, every service; Ctrl-C stops all."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import psutil
import pytest

from tsunagu.services import SERVICES


async def _status(url: str, prefix: str, service: str) -> dict:
    nc = await nats.connect(url, inbox_prefix="_INBOX.operator.test")  # admin: operators only
    try:
        msg = await nc.request(f"{prefix}.admin.{service}.status", b"{}", timeout=2)
        return json.loads(msg.data)
    finally:
        await nc.close()


@pytest.mark.timeout(120)
def test_up_starts_nats_and_every_service_and_ctrl_c_stops_them_all(tmp_path: Path):
    data = tmp_path / "data"
    env = {**os.environ, "TSUNAGU_LOG_FORMAT": "json"}
    env.pop("TSUNAGU_NATS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsunagu", "up", "--data-dir", str(data), "--console-port", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (data / "nats.url").exists():
            assert proc.poll() is None, "tsunagu up exited early"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        url = (data / "nats.url").read_text().strip()
        assert url.startswith("nats://127.0.0.1:") and not url.endswith(":4222")
        alive = {}
        while time.monotonic() < deadline and len(alive) < len(SERVICES):
            for service in SERVICES:
                try:
                    reply = asyncio.run(_status(url, "tsunagu", service))
                    alive[service] = reply["result"]["pid"]
                except Exception:
                    time.sleep(0.2)
        assert set(alive) == set(SERVICES)
        for service in SERVICES:
            assert (data / f"{service}.sqlite").exists()
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= len(SERVICES) + 1  # the services and nats-server
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(30)
    assert code == 0
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
