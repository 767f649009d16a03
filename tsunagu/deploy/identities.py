"""Identities (nkey users) kept in an auth directory, and the nats-server ``authorization``
block rendered from them.

The directory holds ``identities.json`` (public keys only; seeds are written once, to the
credentials file handed to the agency, and never kept) and ``auth.conf`` (the accounts
block, ``accounts.py``), which every server's config includes. Revoking removes the user
from ``auth.conf``; a config reload (SIGHUP, see ``reload_servers``) then refuses it and
closes its open connections, with no restart.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import nkeys

from contracts.directory import reserved_agency_id
from eventstore.topology import Topology
from tsunagu.deploy import permissions
from tsunagu.deploy.accounts import render_auth_conf

KINDS = tuple(permissions.ROLES)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # contracts.base.ID_PATTERN


class IdentityError(ValueError):
    """A refused issue/revoke, with a message naming the field and the rule."""


@dataclass
class Identity:
    kind: str
    name: str
    public_key: str
    issued_at: str
    revoked_at: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Issued:
    identity: Identity
    creds_file: Path
    inbox_prefix: str | None


def new_user_seed() -> bytes:
    """A fresh NATS user nkey seed (``SU…``), the format ``nk -gen user`` writes."""
    return bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))


def public_key(seed: bytes) -> str:
    kp = nkeys.from_seed(bytearray(seed))
    try:
        return bytes(kp.public_key).decode()
    finally:
        kp.wipe()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AuthDir:
    def __init__(self, path: Path, topology: Topology) -> None:
        self.path = path
        self.topology = topology

    @property
    def registry_file(self) -> Path:
        return self.path / "identities.json"

    @property
    def auth_conf(self) -> Path:
        return self.path / "auth.conf"

    def load(self) -> dict[str, Identity]:
        if not self.registry_file.exists():
            return {}
        doc = json.loads(self.registry_file.read_text())
        if doc.get("prefix") != self.topology.prefix:
            raise IdentityError(
                f"{self.registry_file} is for prefix {doc.get('prefix')!r}, "
                f"not {self.topology.prefix!r}"
            )
        return {i.key: i for i in (Identity(**d) for d in doc["identities"])}

    def _save(self, identities: dict[str, Identity]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        doc = {
            "prefix": self.topology.prefix,
            "identities": [asdict(i) for i in sorted(identities.values(), key=lambda i: i.key)],
        }
        _write_atomic(self.registry_file, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        _write_atomic(self.auth_conf, render_auth_conf(self.topology, identities.values()))

    def issue(self, kind: str, name: str, out: Path) -> Issued:
        """New key pair for (kind, name); replaces any earlier key of the same identity."""
        if kind not in KINDS:
            raise IdentityError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        if not NAME_PATTERN.match(name):
            raise IdentityError(
                f"name {name!r} must match {NAME_PATTERN.pattern} "
                "(it becomes a subject token and a consumer name)"
            )
        if kind == "agency" and (reserved := reserved_agency_id(name)):
            raise IdentityError(f"agency id {reserved}")
        identities = self.load()
        seed = new_user_seed()
        identity = Identity(kind, name, public_key(seed), _now())
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(seed + b"\n")
        identities[identity.key] = identity
        self._save(identities)
        return Issued(identity, out, client_inbox_prefix(kind, name))

    def revoke(self, kind: str, name: str) -> Identity:
        identities = self.load()
        key = f"{kind}:{name}"
        identity = identities.get(key)
        if identity is None:
            raise IdentityError(f"{kind} {name!r} has no credentials in {self.registry_file}")
        if not identity.active:
            raise IdentityError(f"{kind} {name!r} was already revoked at {identity.revoked_at}")
        identity.revoked_at = _now()
        self._save(identities)
        return identity

    def retire_agencies(self, active: dict[str, bool]) -> list[Identity]:
        """Revoke the credentials of every agency the directory says is retired
        (``active``: agency id -> active, from the event stream). Returns those revoked."""
        identities = self.load()
        retired = [i for i in identities.values()
                   if i.kind == "agency" and i.active and active.get(i.name) is False]
        for identity in retired:
            identity.revoked_at = _now()
        if retired:
            self._save(identities)
        return retired

    def render(self) -> None:
        """(Re)write auth.conf from the registry (e.g. after changing the topology)."""
        self._save(self.load())


def client_inbox_prefix(kind: str, name: str) -> str | None:
    """Services may receive on ``_INBOX.>``; everyone else has a private inbox prefix
    (``_INBOX.agency.<id>``, ``_INBOX.operator.<name>``, ``_INBOX.admin.<name>``): the
    services act on admin requests only from the operator's and admin's inboxes."""
    if kind == "service":
        return None
    return permissions.inbox_prefix(kind, name)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def reload_servers(pid_files: list[Path]) -> list[int]:
    """Ask running nats-servers to reload their config (SIGHUP = ``--signal reload``).
    Returns the pids signalled; a missing or stale pid file is skipped."""
    done = []
    for pid_file in pid_files:
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
            done.append(pid)
    return done
