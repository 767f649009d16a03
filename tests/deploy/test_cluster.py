"""A 3-node cluster (TLS between nodes and to clients, R3, sync always) from the wheel's
nats-server: the stream leader is killed mid-flow and restarted; nothing acknowledged is
lost and the projection and a command service end complete."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import uuid
from pathlib import Path

import nats
import pytest

from eventstore.db import make_engine
from eventstore.projection import ProjectionRunner, RunnerOptions
from eventstore.provision import StreamPolicy, provision
from eventstore.service import ServiceSpec, build_app
from eventstore.settings import Settings
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.helpers import register_agency
from tests.kit.fakes import CountingProjection, agency_event
from tests.kit.test_commands import RenameAgency, rename
from tsunagu.deploy.certs import CertPaths, generate
from tsunagu.deploy.cluster import LocalCluster

FAST = RunnerOptions(batch=50, fetch_timeout=0.2, backoff=(0.01, 0.02, 0.05))
EVENTS = 120
COMMANDS = 12


def client_tls(certs: CertPaths) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    ctx.load_cert_chain(str(certs.client_cert("client")), str(certs.client_key("client")))
    return ctx


@pytest.fixture
def cluster(tmp_path: Path):
    certs = generate(tmp_path / "certs")
    c = LocalCluster(tmp_path / "cluster", size=3, certs=certs)
    c.start()
    yield c, certs
    c.stop()


async def until_ok(call, deadline_s: float = 60.0):  # type: ignore[no-untyped-def]
    """Retry through the fail-over (no leader, reconnecting, a lost ack): the same
    message id / command id makes each retry idempotent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while True:
        try:
            return await call()
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_killing_the_stream_leader_mid_flow_loses_no_acknowledged_event(
    cluster, tmp_path: Path
):
    nodes, certs = cluster
    tls = client_tls(certs)
    nc = await nats.connect(servers=nodes.urls, tls=tls, max_reconnect_attempts=-1,
                            reconnect_time_wait=0.1)
    topo = Topology(prefix=f"c{uuid.uuid4().hex[:8]}")
    await until_ok(lambda: provision(nc, topo, StreamPolicy(replicas=3)), 30)
    js = nc.jetstream()
    info = await js.stream_info(topo.events_stream)
    assert info.config.num_replicas == 3

    store = EventStore(nc, topo, timeout=2)
    await register_agency(store, "hq")
    engine = make_engine(f"sqlite:///{tmp_path / 'proj.sqlite'}")
    projection = CountingProjection()
    runner = ProjectionRunner(nc, topo, projection, engine, options=FAST)
    await runner.start()

    # The kit's command service, on its own connection, given all three nodes by env-style URL.
    settings = Settings(
        nats_url=",".join(nodes.urls), prefix=topo.prefix, data_dir=tmp_path / "svc",
        nats_tls_ca=certs.ca, nats_tls_cert=certs.client_cert("client"),
        nats_tls_key=certs.client_key("client"),
    )
    app, _ = build_app(
        ServiceSpec(name="kittest", commands={"kit_test_rename": (RenameAgency, rename)}),
        settings,
    )
    await app.start()

    acked: list[str] = []
    replies: list[dict] = []
    killed: list[str] = []

    async def write() -> None:
        for i in range(EVENTS):
            env = agency_event(f"a{i}", f"n{i}")
            # The subject: every append the store acknowledged survives the leader's death.
            await until_ok(lambda env=env: store.append([env]))
            acked.append(str(env.event_id))
            if i == EVENTS // 3:
                leader = (await js.stream_info(topo.events_stream)).cluster.leader
                node = next(n for n in nodes.nodes if n.config.name == leader)
                node.kill()
                killed.append(leader)

    async def command(i: int) -> None:
        body = json.dumps({"command_id": f"cmd-{i}", "agency_id": "hq", "name": f"HQ {i}"})

        async def once() -> dict:
            msg = await nc.request(topo.command_subject("hq", "kit_test_rename"),
                                   body.encode(), timeout=3)
            reply = json.loads(msg.data)
            if not reply.get("ok"):
                raise RuntimeError(reply)
            return reply

        await asyncio.sleep(0.02 * i)
        replies.append(await until_ok(once))

    try:
        await asyncio.gather(write(), *[command(i) for i in range(COMMANDS)])
        assert killed, "the leader was never killed"
        # Bring the dead node back; it rejoins and catches up from its own disk and peers.
        dead = next(n for n in nodes.nodes if n.config.name == killed[0])
        dead.spawn()
        dead.wait_ready(30)

        stored = await store.read(topo.events_subjects)
        ids = [str(s.envelope.event_id) for s in stored]
        assert len(ids) == len(set(ids)), "an event was stored twice"
        assert set(acked) <= set(ids), "an acknowledged event was lost"
        hq = await store.load("agency", "hq")
        assert len(hq.events) == 1 + COMMANDS  # each command once, despite the retries
        assert {r["command_id"] for r in replies} == {f"cmd-{i}" for i in range(COMMANDS)}

        await runner.wait_for(stored[-1].seq, timeout=60)
        with engine.begin() as conn:
            rows = {r[0]: r[1] for r in projection.rows(conn)}
        assert rows["hq"] == 1 + COMMANDS
        assert all(rows[f"a{i}"] == 1 for i in range(EVENTS))

        async def replicas_current() -> bool:
            cl = (await js.stream_info(topo.events_stream)).cluster
            return cl is not None and all(r.current for r in cl.replicas or [])

        await until_ok(lambda: _assert(replicas_current()), 30)
    finally:
        await runner.stop()
        with contextlib.suppress(Exception):
            await app.stop()
        engine.dispose()
        await nc.close()


async def _assert(check) -> None:  # type: ignore[no-untyped-def]
    if not await check:
        raise AssertionError("not yet")


def test_a_cluster_whose_port_was_taken_meanwhile_starts_on_other_ports(tmp_path: Path):
    """Ports are picked free when the cluster is laid out; another process on the host may
    take one before the node binds it (seen when test sessions run side by side)."""
    import socket

    cluster = LocalCluster(tmp_path / "nodes", size=1)
    taken = cluster.nodes[0].config.http_port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        try:
            cluster.start(timeout=20)
            assert cluster.nodes[0].running and cluster.nodes[0].config.http_port != taken
            first_log = tmp_path / "nodes" / "n1" / "nats.1.log"
            assert "address already in use" in first_log.read_text()
        finally:
            cluster.stop()


def test_a_port_answered_by_another_server_is_not_taken_for_our_node(tmp_path: Path):
    """The squatter may be another session's nats-server: its /healthz answers 200 before
    our node has even failed. Ready means our node answers (its own store directory)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class OtherServer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"jetstream": {"config": {"store_dir": "/elsewhere"}}}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    cluster = LocalCluster(tmp_path / "nodes", size=1)
    taken = cluster.nodes[0].config.http_port
    other = HTTPServer(("127.0.0.1", taken), OtherServer)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        cluster.start(timeout=20)
        node = cluster.nodes[0]
        assert node.running and node.config.http_port != taken
    finally:
        cluster.stop()
        other.shutdown()
        other.server_close()
