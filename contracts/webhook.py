"""Signed webhooks: how the notifier signs a body and how a receiver checks it.

The signature is HMAC-SHA256 with the agency's secret over ``<timestamp>.<raw body>``; the
headers are ``Tsunagu-Timestamp`` (Unix seconds), ``Tsunagu-Signature: v1=<hex>`` and
``Tsunagu-Idempotency-Key`` (the same on every retry of one feed message). A receiver
recomputes the signature over the bytes it received, refuses a timestamp older than
``TOLERANCE_S`` (a replayed request), and keeps the keys it has processed.

>>> headers = sign("s" * 32, b'{"kind":"meeting_invitation"}', 1_800_000_000, "k1")
>>> verify("s" * 32, b'{"kind":"meeting_invitation"}', headers, now=1_800_000_010)
True
>>> verify("s" * 32, b'{"kind":"other"}', headers, now=1_800_000_010)
False
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP = "Tsunagu-Timestamp"
SIGNATURE = "Tsunagu-Signature"
IDEMPOTENCY_KEY = "Tsunagu-Idempotency-Key"
#: A request older (or newer) than this is refused as a replay.
TOLERANCE_S = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def sign(secret: str, body: bytes, timestamp: int, idempotency_key: str) -> dict[str, str]:
    """The headers of one delivery attempt."""
    return {TIMESTAMP: str(timestamp), SIGNATURE: signature(secret, body, timestamp),
            IDEMPOTENCY_KEY: idempotency_key, "Content-Type": "application/json"}


def verify(secret: str, body: bytes, headers: Mapping[str, str], now: float,
           tolerance: int = TOLERANCE_S) -> bool:
    """Whether ``body`` was signed with ``secret`` within ``tolerance`` seconds of ``now``."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lower.get(TIMESTAMP.lower(), ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp)
    return hmac.compare_digest(expected, lower.get(SIGNATURE.lower(), ""))
