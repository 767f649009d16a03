"""Small helpers for tests that drive the platform over real NATS."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from nats.aio.client import Client

from contracts.base import Actor
from contracts.directory import AgencyRegistered
from eventstore.codec import new_envelope
from eventstore.commands import request_patiently
from eventstore.store import EventStore
from eventstore.topology import Topology


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
    """Put an agency into the directory directly (the directory import is tested elsewhere)."""
    event = AgencyRegistered(
        agency_id=agency_id,
        name=name or agency_id,
        category=category,
        verified_at=verified_at,
        can_triage=can_triage,
    )
    await store.append([new_envelope(event, Actor(agency_id="operator"))])


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
