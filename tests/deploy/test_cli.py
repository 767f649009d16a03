"""`tsunagu creds issue/revoke` end to end: directory check, auth.conf, server reload."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from eventstore.provision import provision
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.helpers import register_agency, retire_agency
from tsunagu.cli import build
from tsunagu.deploy.cluster import LocalCluster
from tsunagu.deploy.identities import AuthDir


@pytest.fixture
def node(tmp_path: Path):
    topo = Topology(prefix=f"k{uuid.uuid4().hex[:8]}")
    auth = AuthDir(tmp_path / "auth", topo)
    admin = auth.issue("admin", "deploy", tmp_path / "admin.nk").creds_file
    cluster = LocalCluster(tmp_path / "nodes", size=1, auth_conf=auth.auth_conf)
    cluster.start()
    yield cluster, auth, admin
    cluster.stop()


async def cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, build(), list(args), env=env)
    return result.exit_code, result.output


async def test_creds_issue_checks_the_directory_and_revoke_takes_effect_on_reload(node):
    cluster, auth, admin = node
    topo = auth.topology
    nc = await nats.connect(cluster.urls[0], nkeys_seed=str(admin))
    await provision(nc, topo)
    store = EventStore(nc, topo)
    await register_agency(store, "A")
    await register_agency(store, "Z")
    await retire_agency(store, "Z")
    env = {"TSUNAGU_NATS_URL": cluster.urls[0], "TSUNAGU_NATS_NKEY_SEED": str(admin),
           "TSUNAGU_PREFIX": topo.prefix, "TSUNAGU_AUTH_DIR": str(auth.path)}
    pid = ["--reload", str(cluster.nodes[0].pid_file)]
    creds = auth.path.parent / "A.nk"

    code, out = await cli("creds", "issue", "ghost", *pid, env=env)
    assert code == 2 and "not in the agency directory" in out
    code, out = await cli("creds", "issue", "Z", *pid, env=env)
    assert code == 2 and "retired" in out
    code, out = await cli("creds", "issue", "bad.name", "--no-check-directory", env=env)
    assert code == 2 and "must match" in out
    for reserved in ("operator", "ops", "admin", "migrate", "casefile", "system"):
        code, out = await cli("creds", "issue", reserved, "--no-check-directory", env=env)
        assert code == 2 and "reserved for the platform" in out, out
    assert set(auth.load()) == {"admin:deploy"}  # nothing issued by the refusals

    code, out = await cli("creds", "issue", "A", "--out", str(creds), *pid, env=env)
    assert code == 0, out
    assert "TSUNAGU_NATS_INBOX_PREFIX=_INBOX.agency.A" in out
    # The platform made A's feed consumer: the agency may pull from it, not create it.
    info = await nc.jetstream().consumer_info(topo.feed_stream, "feed-A")
    assert info.config.filter_subject == f"{topo.prefix}.feed.A.>"
    a = await _connect_after_reload(cluster.urls[0], creds)
    await a.publish(topo.command_subject("A", "noop"), b"{}")
    await a.flush()

    code, out = await cli("creds", "revoke", "A", *pid, env=env)
    assert code == 0, out
    await _closed(a)
    with pytest.raises((nats.errors.Error, OSError)):
        await nats.connect(cluster.urls[0], nkeys_seed=str(creds), allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2)
    code, out = await cli("creds", "revoke", "A", env=env)
    assert code == 2 and "already revoked" in out
    code, out = await cli("creds", "list", env=env)
    listed = {i["name"]: i["revoked_at"] for i in json.loads(out)}
    assert listed["deploy"] is None and listed["A"] is not None
    await nc.close()


async def test_creds_sync_revokes_the_credentials_of_agencies_retired_in_the_directory(node):
    cluster, auth, admin = node
    topo = auth.topology
    nc = await nats.connect(cluster.urls[0], nkeys_seed=str(admin))
    await provision(nc, topo)
    store = EventStore(nc, topo)
    for agency in ("A", "B"):
        await register_agency(store, agency)
    env = {"TSUNAGU_NATS_URL": cluster.urls[0], "TSUNAGU_NATS_NKEY_SEED": str(admin),
           "TSUNAGU_PREFIX": topo.prefix, "TSUNAGU_AUTH_DIR": str(auth.path)}
    pid = ["--reload", str(cluster.nodes[0].pid_file)]
    creds = {a: auth.path.parent / f"{a}.nk" for a in ("A", "B")}
    for agency, path in creds.items():
        code, out = await cli("creds", "issue", agency, "--out", str(path), *pid, env=env)
        assert code == 0, out
    b = await _connect_after_reload(cluster.urls[0], creds["B"], "B")

    code, out = await cli("creds", "sync", *pid, env=env)
    assert code == 0 and "no credentials of retired agencies" in out  # nothing retired yet
    await retire_agency(store, "B")
    code, out = await cli("creds", "sync", *pid, env=env)
    assert code == 0 and "revoked agency B" in out and "agency A" not in out, out
    await _closed(b)  # the retired agency's connection is closed at the reload
    a = await _connect_after_reload(cluster.urls[0], creds["A"], "A")  # A still works
    await a.close()
    listed = {i.name: i.revoked_at for i in auth.load().values() if i.kind == "agency"}
    assert listed["A"] is None and listed["B"] is not None
    await nc.close()


async def _closed(nc: nats.NATS) -> None:
    async def wait() -> None:
        while not nc.is_closed:  # noqa: ASYNC110 (nats.py exposes no closed event)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), 10)


async def _connect_after_reload(url: str, creds, agency: str = "A") -> nats.NATS:
    """A reload signal is handled asynchronously: the new user exists a moment later, and a
    connection accepted while the server still applies the new accounts may be closed as it
    finishes (seen once in CI: EOF right after connecting). A connection counts once it has
    answered two pings a moment apart."""
    for _ in range(50):
        nc = None
        try:
            nc = await nats.connect(url, nkeys_seed=str(creds),
                                    inbox_prefix=f"_INBOX.agency.{agency}",
                                    allow_reconnect=False)
            await nc.flush(timeout=2)
            await asyncio.sleep(0.2)
            await nc.flush(timeout=2)
            return nc
        except (nats.errors.Error, OSError):
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()
            await asyncio.sleep(0.1)
    raise AssertionError("the issued credentials were never accepted")
