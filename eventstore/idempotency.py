"""Exact idempotency: the key, the fingerprint, and the receipt kept with them.

The idempotency key is (sender agency, ``command_id``); the fingerprint says whether the
body resent under that key is the one first stored. It covers the whole command as
validated, so key order and omitted defaults do not matter, and any change of type or of a
field (``staff`` and ``occurred_at`` included: they are part of what is recorded) does.

Two places know a key was used. Every event records its causing command and the
fingerprint, so a retry finds them in the histories its handler loads (always, crash or
not). And the executor keeps a receipt per key in a KV bucket (fingerprint and reply,
written after the append), so a key reused for a command on *other* records, or of another
type, is recognised too. The JetStream Msg-Id is not part of this: it is each event's own
UUIDv7 and only stops a publish the client library resent from being stored twice, so two
agencies' events never share one.

Example::

    digest = fingerprint(cmd)   # "sha256:<hex>"; with a data key "hmac-sha256:<key id>:<hex>"
    receipts = await Receipts.open(nc, topology)
    await receipts.get("hokatsu", "cmd-1")  # None, or the Receipt of the first command
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from contracts.base import Command
from contracts.envelope import Envelope
from eventstore.crypto import KeyRing, sealed_key_ids
from eventstore.errors import CommandIdReused
from eventstore.topology import Topology


def canonical_body(command: Command) -> bytes:
    """The command as validated (defaults filled in, strings as the contract normalises
    them), keys sorted: payloads that mean the same command give the same bytes."""
    doc = command.model_dump(mode="json")
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(command: Command, key_id: str | None = None, key: bytes | None = None) -> str:
    """Digest of the whole command (type, command_id, staff, occurred_at and every field).
    Keyed with the data key of the person the command's events seal data about, when there
    is one: the body holds their personal data, and once their key is destroyed no one can
    test guesses against the digest. The key's id is part of the result, so a retry that
    finds only some of the command's events still knows which key to use."""
    body = canonical_body(command)
    if key_id is None or key is None:
        return "sha256:" + hashlib.sha256(body).hexdigest()
    return f"hmac-sha256:{key_id}:" + hmac.new(key, body, hashlib.sha256).hexdigest()


def fingerprint_key_id(envelopes: list[Envelope]) -> str | None:
    """Whose key keys the fingerprint: the first sealed block of the command's events."""
    for env in envelopes:
        key_ids = sealed_key_ids(env.event)
        if key_ids:
            return min(key_ids)
    return None


async def same_command(
    keyring: KeyRing, agency_id: str, command: Command, stored: str | None,
    first_events: list[dict[str, Any]], first_type: str | None = None,
) -> None:
    """Return if ``command`` is the command first stored under its key; else refuse it."""
    key_id = stored.split(":")[1] if stored and stored.startswith("hmac-sha256:") else None
    key = await keyring.get(key_id) if key_id else None
    # Events stored before fingerprints existed, or whose person was erased since (the key
    # is gone), cannot be compared: the original reply stands, nothing is appended.
    if stored is None or (key_id is not None and key is None):
        return
    if hmac.compare_digest(stored, fingerprint(command, key_id, key)):
        return
    raise CommandIdReused(
        f"command_id {command.command_id!r} was already used by {agency_id} for another "
        f"command ({first_type or 'a different type or body'}); a new command needs a new "
        "command_id",
        details={"command_id": command.command_id, "agency_id": agency_id,
                 "type": command.type, "first_type": first_type,
                 "first_events": first_events},
    )


@dataclass(frozen=True)
class Receipt:
    """What the first command under a key was, and what it was answered."""

    type: str
    fingerprint: str
    reply: dict[str, Any]


class Receipts:
    """Receipts by (agency, command_id) in the commands bucket; only services reach it."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, nc: Client, topology: Topology) -> Receipts:
        return cls(await nc.jetstream().key_value(topology.command_bucket))

    @staticmethod
    def _key(agency_id: str, command_id: str) -> str:
        # Both are single subject tokens (ID_PATTERN): the key cannot be forged by either.
        return f"{agency_id}.{command_id}"

    async def get(self, agency_id: str, command_id: str) -> Receipt | None:
        try:
            entry = await self.kv.get(self._key(agency_id, command_id))
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if not entry.value:
            return None
        doc = json.loads(entry.value)
        return Receipt(doc["type"], doc["fingerprint"], doc["reply"])

    async def put(self, agency_id: str, command_id: str, receipt: Receipt) -> None:
        doc = {"type": receipt.type, "fingerprint": receipt.fingerprint, "reply": receipt.reply}
        await self.kv.put(self._key(agency_id, command_id), json.dumps(doc).encode())
