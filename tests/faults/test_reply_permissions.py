"""A service answers its callers with nothing but nats-server's response permission
(``allow_responses``), as in the secured deployment (issue #14, finding 3).

nats-server grants a responder the right to publish once to a request's reply subject. A
connection that holds two subscriptions matching one command (the command's own and a
catch-all for unknown commands) got its reply refused as a Publish Violation: the command
ran, the agency never heard back. This runs the referral service as a user that may *not*
publish to ``_INBOX.>`` and an agency that may only publish its commands and read its own
inbox, on a nats-server of its own with that authorization block."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest

from eventstore.natsserver import NatsServer
from eventstore.provision import provision
from eventstore.settings import Settings
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.helpers import register_agency

pytestmark = pytest.mark.timeout(90)
PREFIX = "tsecured"


def authorization(prefix: str) -> str:
    platform = [f"{prefix}.>", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$KV.>", "$O.>"]
    users = [
        {"user": "admin", "password": "admin-pw",
         "permissions": {"publish": [">"], "subscribe": [">"]}},
        # Like tsunagu.deploy.permissions.service: no publish on _INBOX.>, replies only
        # through the response permission.
        {"user": "svc", "password": "svc-pw",
         "permissions": {"publish": {"allow": platform}, "subscribe": {"allow": [">"]},
                         "allow_responses": True}},
        {"user": "agency-a", "password": "a-pw",
         "permissions": {"publish": {"allow": [f"{prefix}.cmd.A.>", f"{prefix}.query.A.>"]},
                         "subscribe": {"allow": ["_INBOX.agency.A.>"]}}},
    ]
    return "authorization " + json.dumps({"users": users}) + "\n"


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(store_dir=tmp_path_factory.mktemp("nats-secured"),
                        extra_config=authorization(PREFIX))
    server.start()
    yield server
    server.stop()


def url(server: NatsServer, user: str, password: str) -> str:
    return f"nats://{user}:{password}@127.0.0.1:{server.port}"


@pytest.fixture
async def platform(secured_server: NatsServer, tmp_path: Path) -> AsyncIterator[Settings]:
    admin = await nats.connect(url(secured_server, "admin", "admin-pw"))
    topology = Topology(PREFIX)
    await provision(admin, topology)
    await register_agency(EventStore(admin, topology), "A")
    await admin.close()
    yield Settings(nats_url=url(secured_server, "svc", "svc-pw"), prefix=PREFIX,
                   data_dir=tmp_path / "data")


async def test_the_referral_service_answers_an_agency_through_the_response_permission(
    platform: Settings, secured_server: NatsServer
):
    from eventstore.service import build_app
    from tsunagu.services import spec_factory

    app, _ = build_app(spec_factory("referral")(platform), platform)
    await app.start()
    agency = await nats.connect(url(secured_server, "agency-a", "a-pw"),
                                inbox_prefix="_INBOX.agency.A")
    try:
        topo = Topology(PREFIX)
        sheet = {"command_id": "sec-1",
                 "contact_route": "phone", "concerns": ["income"],
                 "personal": {"summary": "相談", "birth_date": "1975-04-02",
                              "phone": "090-1234-5678"}}
        msg = await agency.request(topo.command_subject("A", "submit_referral"),
                                   json.dumps(sheet).encode(), timeout=10)
        assert json.loads(msg.data)["ok"] is True, msg.data
        msg = await agency.request(topo.command_subject("A", "no_such_command"), b"{}",
                                   timeout=10)
        assert json.loads(msg.data)["error"]["code"] == "unknown_command"
        msg = await agency.request(f"{PREFIX}.query.A.inbox", b"{}", timeout=10)
        assert "ok" in json.loads(msg.data)
    finally:
        await agency.close()
        await app.stop()


# ----- agencies in their own account: replies arrive as _R_.… --------------------------
ACCOUNT_PREFIX = "taccounts"


def accounts(prefix: str) -> str:
    platform = {
        "jetstream": "enabled",
        "users": [{"user": "admin", "password": "admin-pw"},
                  {"user": "svc", "password": "svc-pw"}],
        "exports": [{"service": f"{prefix}.cmd.A.>"}, {"service": f"{prefix}.query.A.>"}],
    }
    agency = {
        "users": [{"user": "agency-a", "password": "a-pw"}],
        "imports": [{"service": {"account": "PLATFORM", "subject": f"{prefix}.cmd.A.>"}},
                    {"service": {"account": "PLATFORM", "subject": f"{prefix}.query.A.>"}}],
    }
    return "accounts " + json.dumps({"PLATFORM": platform, "AGENCY_A": agency}) + "\n"


@pytest.fixture(scope="module")
def accounts_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(store_dir=tmp_path_factory.mktemp("nats-accounts"),
                        extra_config=accounts(ACCOUNT_PREFIX))
    server.start()
    yield server
    server.stop()


async def test_an_agency_in_its_own_account_is_answered_on_the_reply_nats_server_maps(
    accounts_server: NatsServer, tmp_path: Path
):
    """The request crosses the account boundary through the service import; nats-server
    hands the service a reply subject ``_R_.…`` in the platform's account. A service that
    answers *only* ``_R_.`` here still answers the agency, commands and queries alike."""
    from eventstore.service import build_app
    from tsunagu.services import spec_factory

    admin = await nats.connect(url(accounts_server, "admin", "admin-pw"))
    topo = Topology(ACCOUNT_PREFIX)
    await provision(admin, topo)
    await register_agency(EventStore(admin, topo), "A")
    await admin.close()
    settings = Settings(nats_url=url(accounts_server, "svc", "svc-pw"), prefix=ACCOUNT_PREFIX,
                        data_dir=tmp_path / "data", reply_prefixes=("_R_.",))
    app, runtime = build_app(spec_factory("referral")(settings), settings)
    await app.start()
    agency = await nats.connect(url(accounts_server, "agency-a", "a-pw"))
    try:
        msg = await agency.request(topo.command_subject("A", "no_such_command"), b"{}",
                                   timeout=10)
        assert json.loads(msg.data)["error"]["code"] == "unknown_command"
        msg = await agency.request(f"{ACCOUNT_PREFIX}.query.A.inbox", b"{}", timeout=10)
        assert "ok" in json.loads(msg.data)
        assert runtime.refused_replies == 0
    finally:
        await agency.close()
        await app.stop()


def _overlap(a: str, b: str) -> bool:
    """Whether some subject matches both subscriptions (``*`` one token, ``>`` the rest)."""
    ta, tb = a.split("."), b.split(".")
    for i, (x, y) in enumerate(zip(ta, tb, strict=False)):
        if x == ">" or y == ">":
            return True
        if x != y and "*" not in (x, y):
            return False
        if i == min(len(ta), len(tb)) - 1:
            return len(ta) == len(tb)
    return False


async def test_no_two_subscriptions_of_a_service_connection_match_one_request(services):
    """The rule behind the test above, for every service: on the connection a service
    answers from, each request subject matches one subscription."""
    from tsunagu.services import SERVICES

    runtimes = await services(*SERVICES)
    for name, runtime in runtimes.items():
        subjects = [s.subject for s in runtime.broker.connection._subs.values()
                    if not s.subject.startswith("_INBOX.")]
        pairs = [(a, b) for i, a in enumerate(subjects) for b in subjects[i + 1:]
                 if _overlap(a, b)]
        assert pairs == [], (name, pairs)
