"""Crypto-shredding: personal blocks are sealed with a per-subject AES-256-GCM key.

Keys live in a JetStream KV bucket that only services can read, never in the event
stream. Destroying a key makes every copy of that subject's personal data unreadable:
in the stream, in replays, in any rebuilt projection.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import types
import typing
from typing import Any, TypeVar

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.aio.client import Client
from nats.js.errors import APIError, KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from contracts.base import DomainEvent, PersonalData, Sealed
from contracts.envelope import Envelope, StaffName
from eventstore.errors import DomainError
from eventstore.topology import Topology

E = TypeVar("E", bound=DomainEvent)
log = structlog.get_logger("tsunagu.crypto")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seal(block: PersonalData, key_id: str, key: bytes) -> Sealed:
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, block.model_dump_json().encode(), key_id.encode())
    return Sealed(key_id=key_id, nonce=_b64(nonce), ciphertext=_b64(ct))


def unseal(sealed: Sealed, cls: type[PersonalData], key: bytes) -> PersonalData:
    plain = AESGCM(key).decrypt(
        base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), sealed.key_id.encode()
    )
    return cls.model_validate_json(plain)


@functools.cache
def personal_fields(cls: type[DomainEvent]) -> dict[str, type[PersonalData]]:
    """Fields of an event class typed ``SomePersonalData | Sealed`` (per class, once: it is
    asked twice per event a projection reads). Callers must not modify the result."""
    out: dict[str, type[PersonalData]] = {}
    for name, field in cls.model_fields.items():
        ann = field.annotation
        if typing.get_origin(ann) in (typing.Union, types.UnionType):
            for arg in typing.get_args(ann):
                if isinstance(arg, type) and issubclass(arg, PersonalData):
                    out[name] = arg
    return out


def key_id_of(event: DomainEvent) -> str:
    """Whose key seals the event's personal data (the event decides: ``personal_key_id``)."""
    return event.personal_key_id()


class KeyRing:
    """Reads and creates data keys; caches them. ``get_cached`` is sync for use inside a
    projection's worker thread after ``prefetch``."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self._cache: dict[str, bytes | None] = {}

    @classmethod
    async def open(cls, nc: Client, topology: Topology) -> KeyRing:
        return cls(await nc.jetstream().key_value(topology.key_bucket))

    async def get(self, key_id: str) -> bytes | None:
        if key_id not in self._cache:
            try:
                entry = await self.kv.get(key_id)
                self._cache[key_id] = base64.b64decode(entry.value) if entry.value else None
            except (KeyNotFoundError, KeyDeletedError):
                return None  # not cached: a key may be created later
        return self._cache[key_id]

    async def get_or_create(self, key_id: str) -> bytes:
        key = await self.get(key_id)
        if key is not None:
            return key
        new = AESGCM.generate_key(bit_length=256)
        try:
            # Not kv.create: it re-creates a purged key. A destroyed subject's id must never
            # get a fresh key: that would record new data about an erased person, and its old
            # ciphertext would no longer fail cleanly as "key gone".
            await self.kv.update(key_id, _b64(new).encode(), last=0)
        except KeyWrongLastSequenceError:
            existing = await self.get(key_id)  # lost a race with another writer?
            if existing is None:
                raise DomainError(
                    f"{key_id}: personal data about it can no longer be recorded: its key was "
                    "destroyed when the person's data was erased", code="person_erased",
                ) from None
            return existing
        self._cache[key_id] = new
        return new

    async def destroy(self, key_id: str) -> None:
        """Crypto-shred: erase the key's bytes, then purge it (the purge marker is what
        ``get_or_create`` sees, so the id never gets a new key). A purge alone leaves the
        key's record in the bucket's block file; ``STREAM.MSG.DELETE`` (with erase, the
        default) overwrites it with random bytes first."""
        try:
            entry = await self.kv.get(key_id)
        except (KeyNotFoundError, KeyDeletedError):
            entry = None  # destroyed before (at-least-once): only the purge again
        if entry is not None and entry.revision:
            js = self.kv._js
            try:
                await js.delete_msg(self.kv._stream, entry.revision)
            except APIError as exc:  # a bucket provisioned before erasure was allowed
                log.error("key purged but not erased", code="key_not_erased",
                          error=exc.description)
        await self.kv.purge(key_id)
        self._cache[key_id] = None

    def forget(self, key_id: str) -> None:
        self._cache[key_id] = None

    def get_cached(self, key_id: str) -> bytes | None:
        return self._cache.get(key_id)

    async def prefetch(self, key_ids: set[str]) -> None:
        # Concurrently: a batch of new subjects is one round trip, not one per key.
        await asyncio.gather(*(self.get(key_id) for key_id in key_ids - self._cache.keys()))

    async def seal_event(self, event: E) -> E:
        fields = personal_fields(type(event))
        updates: dict[str, Any] = {}
        for name in fields:
            value = getattr(event, name)
            if isinstance(value, PersonalData):
                key_id = key_id_of(event)
                updates[name] = seal(value, key_id, await self.get_or_create(key_id))
        return event.model_copy(update=updates) if updates else event

    async def seal_staff(self, key_id: str, staff: str | None) -> Sealed | None:
        """A staff member's name sealed with ``key_id`` (None without one, or when that key
        was destroyed: nothing may be recorded about an erased person, not even who)."""
        if not staff:
            return None
        try:
            key = await self.get_or_create(key_id)
        except DomainError:
            return None
        return seal(StaffName(name=staff), key_id, key)

    def unseal_envelope(self, env: Envelope) -> Envelope:
        """The envelope with its event's blocks and the staff name unsealed where the keys
        exist (``prefetch(envelope_key_ids(env))`` first)."""
        event = self.unseal_event(env.event)
        updates: dict[str, Any] = {} if event is env.event else {"event": event}
        if env.sealed_staff is not None:
            key = self.get_cached(env.sealed_staff.key_id)
            if key is not None:
                staff = unseal(env.sealed_staff, StaffName, key)
                assert isinstance(staff, StaffName)
                updates["actor"] = env.actor.model_copy(update={"staff": staff.name})
        return env.model_copy(update=updates) if updates else env

    def unseal_event(self, event: E) -> E:
        """Plain personal blocks where the key exists; ``Sealed`` left as is otherwise."""
        updates: dict[str, Any] = {}
        for name, cls in personal_fields(type(event)).items():
            value = getattr(event, name)
            if isinstance(value, Sealed):
                key = self.get_cached(value.key_id)
                if key is not None:
                    updates[name] = unseal(value, cls, key)
        return event.model_copy(update=updates) if updates else event


def sealed_key_ids(event: DomainEvent) -> set[str]:
    return {
        v.key_id
        for name in personal_fields(type(event))
        if isinstance(v := getattr(event, name), Sealed)
    }


def envelope_key_ids(env: Envelope) -> set[str]:
    """The keys an envelope's sealed parts need: its event's blocks and the staff name."""
    ids = sealed_key_ids(env.event)
    if env.sealed_staff is not None:
        ids.add(env.sealed_staff.key_id)
    return ids
