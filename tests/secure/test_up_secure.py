"""`tsunagu up --secure`: the secured deployment on one machine. An agency is added the
way the printed instructions say (directory import, creds, certificate, all as the admin)
and then acts with its own credentials; without them nothing connects."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nats
import pytest


def tsunagu(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "-m", "tsunagu", *args], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def start_up(data: Path, env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tsunagu", "up", "--secure", "--data-dir", str(data),
         "--console-port", "0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in path.read_text().splitlines())
    return dict(pairs)  # type: ignore[arg-type]


async def first_reply(nc: nats.NATS, subject: str, body: dict, deadline: float) -> dict:
    """The services start after nats-server: ask until one answers."""
    while True:
        try:
            msg = await nc.request(subject, json.dumps(body).encode(), timeout=2)
            return json.loads(msg.data)
        except nats.errors.Error:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.timeout(150)
async def test_up_secure_serves_an_agency_that_connects_with_its_own_credentials(tmp_path: Path):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSUNAGU_")}
    log = (tmp_path / "up.log").open("wb")
    proc = start_up(data, env, log)
    try:
        deadline = time.monotonic() + 90
        while not (data / "nats.url").exists():
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        url = (data / "nats.url").read_text().strip()
        assert url.startswith("tls://127.0.0.1:")
        assert "tsunagu creds issue A" in (tmp_path / "up.log").read_text()
        with pytest.raises((nats.errors.Error, OSError, ssl.SSLError)):  # no credentials
            await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0,
                               connect_timeout=2)

        admin = {**env, **read_env(data / "env" / "admin-deploy.env")}
        csv = tmp_path / "agencies.csv"
        csv.write_text("agency_id,name,category,verified_at\nA,機関A,地域包括支援センター,2026-04-01\n")
        pid = str(next((data / "nats-secure").glob("*/nats.pid")))
        for args in (("directory", "import", str(csv), "--data-dir", str(data)),
                     ("creds", "issue", "A", "--data-dir", str(data), "--reload", pid),
                     ("certs", "issue", "A", "--dir", str(data / "certs"), "--reload", pid)):
            await asyncio.to_thread(tsunagu, *args, env=admin)
        await asyncio.sleep(0.5)  # the reload

        ctx = ssl.create_default_context(cafile=str(data / "certs" / "ca.pem"))
        ctx.load_cert_chain(str(data / "certs" / "client-A.pem"),
                            str(data / "certs" / "client-A-key.pem"))
        nc = await nats.connect(url, nkeys_seed=str(data / "auth" / "creds" / "agency-A.nk"),
                                tls=ctx, inbox_prefix="_INBOX.agency.A")
        try:
            reply = await first_reply(nc, "tsunagu.cmd.A.schedule_meeting", {
                "command_id": "up-secure-1", "kind": "support_plan",
                "scheduled_for": "2026-12-24T10:00:00+09:00", "members": ["A"],
            }, deadline)
            assert "ok" in reply, reply  # served (a non-coordinator may be refused)
            view = await first_reply(nc, "tsunagu.query.A.case_view", {"case_id": "none"},
                                     deadline)
            assert view["ok"] is False
        finally:
            await nc.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(30)
        log.close()
    assert code == 0
