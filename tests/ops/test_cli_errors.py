"""What a person sees when the CLI cannot do its job: one clear line, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_command_while_nats_is_down_says_so_in_one_line(tmp_path):
    payload = tmp_path / "p.json"
    payload.write_text('{"command_id": "x"}')
    url = f"nats://127.0.0.1:{_closed_port()}"
    # A real process: nats-py logs through `logging`, which pytest would capture in-process.
    result = subprocess.run(
        [sys.executable, "-m", "tsunagu", "send", "ag-a", "submit_referral",
         "--json", str(payload), "--nats-url", url],
        capture_output=True, text=True, timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"cannot reach NATS at {url}" in " ".join(output.split())
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) <= 2
