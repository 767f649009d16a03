"""The command fingerprint: what makes a resent ``command_id`` the same command.

The idempotency key is (sender agency, ``command_id``); the fingerprint says whether the
body resent under that key is the one first stored. It covers the whole command as
validated, so key order and omitted defaults do not matter, and any change of type or of a
field (``staff`` and ``occurred_at`` included: they are part of what is recorded) does.

Example::

    digest = fingerprint(cmd, key=None)   # "sha256:…"; with a data key "hmac-sha256:…"
"""

from __future__ import annotations

import hashlib
import hmac
import json

from contracts.base import Command
from contracts.envelope import Envelope
from eventstore.crypto import sealed_key_ids


def canonical_body(command: Command) -> bytes:
    """The command as validated (defaults filled in, strings as the contract normalises
    them), keys sorted: payloads that mean the same command give the same bytes."""
    doc = command.model_dump(mode="json")
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(command: Command, key: bytes | None) -> str:
    """Digest of the whole command (type, command_id, staff, occurred_at and every field).
    Keyed with the data key of the person the command's events seal data about, when there
    is one: the body holds their personal data, and once their key is destroyed no one can
    test guesses against the digest."""
    body = canonical_body(command)
    if key is None:
        return "sha256:" + hashlib.sha256(body).hexdigest()
    return "hmac-sha256:" + hmac.new(key, body, hashlib.sha256).hexdigest()


def fingerprint_key_id(envelopes: list[Envelope]) -> str | None:
    """Whose key keys the fingerprint: the first sealed block of the command's events."""
    for env in envelopes:
        key_ids = sealed_key_ids(env.event)
        if key_ids:
            return min(key_ids)
    return None
