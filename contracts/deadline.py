"""The deadline a sender puts on a command: the header ``Tsunagu-Deadline``.

Its value is the instant after which the sender no longer wants the command started, as
milliseconds since the Unix epoch (UTC), in decimal digits: ``Date.now() + 2000`` in
JavaScript, ``int(time.time() * 1000) + 2000`` in Python. A service that cannot start the
command before then answers ``busy`` (``details.retry_after_ms``) and does nothing.
Named here, once, because it is part of the public contract (docs/INTEGRATING.md, the
AsyncAPI document); the kit reads it (``eventstore/shedding.py``).
"""

from __future__ import annotations

from typing import Any

DEADLINE_HEADER = "Tsunagu-Deadline"

#: The header as the AsyncAPI document describes a command message's headers.
DEADLINE_HEADER_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9]{13,15}$",
    "description": "Optional. Milliseconds since the Unix epoch (UTC) after which the "
    "sender no longer wants the command started (e.g. now + 2000). A command that cannot "
    "start before it is answered `busy` with `details.retry_after_ms` and nothing is "
    "stored, so the same command (same command_id, same body) may be sent again after that "
    "wait. Without it the service allows 2 s from arrival. A malformed value is refused "
    "(`invalid`, naming the header).",
}
