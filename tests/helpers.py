"""Small helpers for tests that drive the platform over real NATS."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from nats.aio.client import Client

from eventstore.commands import request_patiently
from eventstore.store import EventStore
from eventstore.topology import Topology
from services.referral import directory_file as df
from services.referral.directory_import import import_directory


async def send(nc: Client, topology: Topology, agency: str, command: str, payload: Any) -> dict:
    """Send a command as ``agency`` and return the JSON reply."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, default=str).encode()
    msg = await request_patiently(nc, topology.command_subject(agency, command), body)
    return json.loads(msg.data)


async def ask(
    nc: Client, topology: Topology, agency: str, name: str, args: dict | None = None
) -> dict:
    """Run a query as ``agency`` and return the JSON reply."""
    msg = await request_patiently(
        nc, f"{topology.prefix}.query.{agency}.{name}", json.dumps(args or {}).encode()
    )
    return json.loads(msg.data)


async def register_agency(
    store: EventStore,
    agency_id: str,
    *,
    name: str | None = None,
    category: str = "地域包括支援センター",
    can_triage: bool = False,
    verified_at: date = date(2025, 4, 1),
) -> None:
    """Put an agency into the directory through its door, the operators' directory import
    (a one-row file; the other agencies stay as they are)."""
    row = [agency_id, name or agency_id, category, verified_at.isoformat(),
           "1" if can_triage else "0"]
    await _import(store, [row], extra_categories=(category,))


async def retire_agency(store: EventStore, agency_id: str) -> None:
    """Retire an agency through the directory import: a file listing every other active
    agency as it is, imported with ``retire_missing``."""
    stored = await store.read(store.topology.aggregate_kind_filter("agency"))
    current = df.fold_current((s.seq, s.envelope.event) for s in stored)
    assert agency_id in current and current[agency_id].active, f"{agency_id} is not active"
    rows = [[a.agency_id, a.name, a.category, str(a.verified_at), "1" if a.can_triage else "0"]
            for a in current.values() if a.active and a.agency_id != agency_id]
    categories = tuple({a.category for a in current.values()})
    await _import(store, rows, extra_categories=categories, retire_missing=True)


async def _import(store: EventStore, rows: list[list[str]], **options: Any) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["機関ID", "機関名", "分類", "確認日", "振り分け"])
    writer.writerows(rows)
    result = await import_directory(store.nc, store.topology, "agencies.csv",
                                    out.getvalue().encode(), today=date.today(), **options)
    assert result.ok, result.errors


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true (projections are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def tampered_object(nc: Client, topology: Topology, claimed: bytes, actual: bytes) -> dict:
    """An attachment object named and described (digest, size) as ``claimed`` whose chunks
    hold ``actual`` (same length): a bucket written behind the services' back. Returns the
    reference a sender would give for ``claimed``."""
    import base64
    import hashlib
    import uuid

    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    info = await obs.put(f"decoy-{uuid.uuid4().hex}", actual)
    digest = hashlib.sha256(claimed).hexdigest()
    name = f"sha256-{digest}"
    meta = {**info.as_dict(), "name": name,
            "digest": "SHA-256=" + base64.urlsafe_b64encode(bytes.fromhex(digest)).decode()}
    await nc.jetstream().publish(
        f"$O.{topology.attachment_bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}",
        json.dumps(meta).encode(), headers={"Nats-Rollup": "sub"})
    return {"object_name": name, "sha256": digest, "size": len(claimed),
            "media_type": "application/pdf", "filename": "sheet.pdf"}
