"""What operators look at, read straight from JetStream and the services' admin subjects.

Nothing here writes: stream and consumer info come from the JetStream API, liveness and
checkpoints from the services themselves (scatter-gather ``<prefix>.admin.discover`` plus
heartbeats, which also carry which projection belongs to which service).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from eventstore.topology import Topology

#: A service whose last heartbeat is older than this is shown as not alive (beats every 2 s).
ALIVE_WITHIN_S = 6.0


@dataclass
class StreamHealth:
    name: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    replicas: int
    consumers: int
    exists: bool = True


@dataclass
class ProjectionState:
    name: str
    service: str | None
    durable: str
    checkpoint: int | None = None
    applied: int | None = None
    dead_lettered_by_runner: int | None = None
    resyncs: int | None = None  # deliveries lost in transit that the runner read again
    dead_letters: int = 0
    pending: int | None = None
    ack_pending: int | None = None
    redelivered: int | None = None
    consumer: bool = False

    @property
    def lag(self) -> int | None:
        if self.pending is None:
            return None
        return self.pending + (self.ack_pending or 0)


@dataclass
class ServiceState:
    name: str
    pid: int | None = None
    started_at: float | None = None
    heartbeat_age: float | None = None
    instances: int = 0
    projections: list[str] = field(default_factory=list)
    #: The notifier's mail and webhook deliveries by state (pending, failed, sent, dead, …).
    deliveries: dict[str, int] | None = None

    @property
    def alive(self) -> bool:
        return self.heartbeat_age is not None and self.heartbeat_age <= ALIVE_WITHIN_S


@dataclass
class PlatformStatus:
    stream: StreamHealth
    dlq: StreamHealth
    services: list[ServiceState]
    projections: list[ProjectionState]
    taken_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "stream": asdict(self.stream),
            "dlq": asdict(self.dlq),
            "services": [{**asdict(s), "alive": s.alive} for s in self.services],
            "projections": [{**asdict(p), "lag": p.lag} for p in self.projections],
        }


async def stream_health(nc: Client, name: str) -> StreamHealth:
    try:
        info = await nc.jetstream().stream_info(name)
    except NotFoundError:
        return StreamHealth(name, 0, 0, 0, 0, 0, 0, exists=False)
    state = info.state
    return StreamHealth(
        name=name,
        messages=state.messages,
        bytes=state.bytes,
        first_seq=state.first_seq,
        last_seq=state.last_seq,
        replicas=info.config.num_replicas or 1,
        consumers=state.consumer_count,
    )


async def dead_letter_counts(nc: Client, topology: Topology) -> dict[str, int]:
    """Dead letters per projection (the DLQ subject's last token)."""
    try:
        info = await nc.jetstream().stream_info(
            topology.dlq_stream, subjects_filter=topology.dlq_subjects
        )
    except NotFoundError:
        return {}
    return {
        subject.rsplit(".", 1)[-1]: count
        for subject, count in (info.state.subjects or {}).items()
    }


async def discover(nc: Client, topology: Topology, wait: float = 0.5) -> dict[str, dict]:
    """Status of every live service instance: answers to ``admin.discover`` and heartbeats
    seen within ``wait`` seconds, newest per service."""
    found: dict[str, dict] = {}
    counts: dict[str, set[int]] = {}

    async def collect(msg: Msg) -> None:
        with contextlib.suppress(Exception):
            doc = json.loads(msg.data)
            status = doc.get("result", doc) if isinstance(doc, dict) else None
            if not isinstance(status, dict) or "service" not in status:
                return
            name = str(status["service"])
            counts.setdefault(name, set()).add(int(status.get("pid") or 0))
            old = found.get(name)
            if old is None or float(status.get("sent_at") or 0) >= float(old.get("sent_at") or 0):
                found[name] = status

    inbox = nc.new_inbox()
    replies = await nc.subscribe(inbox, cb=collect)
    beats = await nc.subscribe(f"{topology.prefix}.heartbeat.*", cb=collect)
    try:
        await nc.publish(f"{topology.prefix}.admin.discover", b"{}", reply=inbox)
        await asyncio.sleep(wait)
    finally:
        await replies.unsubscribe()
        await beats.unsubscribe()
    for name, status in found.items():
        status["instances"] = len(counts.get(name, ()))
    return found


def services_from(statuses: dict[str, dict], now: float) -> list[ServiceState]:
    out = []
    for name, st in sorted(statuses.items()):
        sent = st.get("sent_at")
        out.append(ServiceState(
            name=name,
            pid=st.get("pid"),
            started_at=st.get("started_at"),
            # Older services send no timestamp: a reply seen just now means alive now.
            heartbeat_age=max(0.0, now - float(sent)) if sent else 0.0,
            instances=int(st.get("instances", 1)),
            projections=sorted(st.get("projections", {})),
            deliveries=st.get("deliveries"),
        ))
    return out


async def platform_status(
    nc: Client, topology: Topology, wait: float = 0.5,
    known: dict[str, dict] | None = None,
) -> PlatformStatus:
    """Everything ``tsunagu status`` and the console show. ``known`` (from a heartbeat
    tracker) replaces the discovery round trip."""
    statuses = known if known is not None else await discover(nc, topology, wait)
    now = time.time()
    services = services_from(statuses, now)
    js = nc.jetstream()
    stream = await stream_health(nc, topology.events_stream)
    dlq = await stream_health(nc, topology.dlq_stream)
    dead = await dead_letter_counts(nc, topology)

    projections: dict[str, ProjectionState] = {}
    for svc_name, st in statuses.items():
        for pname, p in (st.get("projections") or {}).items():
            projections[pname] = ProjectionState(
                name=pname, service=svc_name,
                durable=p.get("durable") or topology.durable(pname),
                checkpoint=p.get("checkpoint"), applied=p.get("applied"),
                dead_lettered_by_runner=p.get("dead_lettered"),
                resyncs=p.get("resyncs"),
            )
    consumers = []
    if stream.exists:
        with contextlib.suppress(NotFoundError):
            consumers = await js.consumers_info(topology.events_stream)
    by_durable = {p.durable: p for p in projections.values()}
    for info in consumers:
        if not info.config.durable_name:
            continue  # ephemeral readers (catch-up, tail, the console): not a projection
        state = by_durable.get(info.name)
        if state is None:
            # A consumer whose service is down: still show its lag.
            desc = info.config.description or ""
            pname = desc.removeprefix("projection ").strip() if desc.startswith("projection ") \
                else info.name
            state = ProjectionState(name=pname, service=None, durable=info.name)
            projections[pname] = state
            by_durable[info.name] = state
        state.consumer = True
        state.pending = info.num_pending or 0
        state.ack_pending = info.num_ack_pending or 0
        state.redelivered = info.num_redelivered or 0
    for pname, count in dead.items():
        if pname not in projections:
            projections[pname] = ProjectionState(
                name=pname, service=None, durable=topology.durable(pname)
            )
        projections[pname].dead_letters = count
    return PlatformStatus(
        stream=stream, dlq=dlq, services=services,
        projections=sorted(projections.values(), key=lambda p: (p.service or "~", p.name)),
    )


class HeartbeatTracker:
    """Keeps the latest status of every service from its heartbeats (the console's view)."""

    def __init__(self, nc: Client, topology: Topology) -> None:
        self.nc = nc
        self.topology = topology
        self.latest: dict[str, dict] = {}
        self._seen: dict[str, float] = {}
        self._sub: Any = None

    async def start(self) -> None:
        async def on_beat(msg: Msg) -> None:
            with contextlib.suppress(Exception):
                status = json.loads(msg.data)
                name = str(status["service"])
                status.setdefault("sent_at", time.time())
                status["instances"] = 1
                self.latest[name] = status

        self._sub = await self.nc.subscribe(f"{self.topology.prefix}.heartbeat.*", cb=on_beat)
        # Seed with a discovery round so the first page is not empty for two seconds.
        for name, status in (await discover(self.nc, self.topology, wait=0.3)).items():
            self.latest.setdefault(name, status)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    def snapshot(self) -> dict[str, dict]:
        return {k: dict(v) for k, v in self.latest.items()}


async def owner_of(nc: Client, topology: Topology, projection: str, wait: float = 0.5) -> str:
    """The service that runs ``projection`` (the heartbeat/discovery says)."""
    for name, status in (await discover(nc, topology, wait)).items():
        if projection in (status.get("projections") or {}):
            return name
    raise LookupError(
        f"no running service owns projection {projection!r}: start it, then retry"
    )
