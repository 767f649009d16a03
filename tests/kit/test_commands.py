"""Command execution through the FastStream adapter, over a real server."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from typing import Literal

import nats.errors
import pytest

from contracts.base import Command, DomainEvent, Id, ShortText
from contracts.directory import AgencyUpdated, active_entry
from eventstore.commands import Session, request_patiently
from eventstore.errors import DomainError
from eventstore.preconditions import refuse_unless
from eventstore.service import ServiceSpec, build_app


class RenameAgency(Command):
    """A toy command for the kit's own tests (not part of the public contract)."""

    type: Literal["kit_test_rename"] = "kit_test_rename"
    agency_id: Id
    name: ShortText


async def rename(session: Session, cmd: RenameAgency) -> list[DomainEvent]:
    # A refusal raised by a handler reaches the sender as it is.
    await refuse_unless(session, active_entry(session.agency_id))
    history = await session.load("agency", cmd.agency_id)
    if not history.events:
        raise DomainError(f"agency {cmd.agency_id} not found", code="not_found")
    if history.envelopes[-1].event.name == cmd.name:  # type: ignore[attr-defined]
        raise DomainError("that is already its name", code="unchanged")
    return [
        AgencyUpdated(
            agency_id=cmd.agency_id, name=cmd.name, category="警察", verified_at=date(2025, 4, 1)
        )
    ]


@pytest.fixture
async def service(settings, store):
    await store.append([_reg("hq")])
    spec = ServiceSpec(
        name="kittest",
        commands={"kit_test_rename": (RenameAgency, rename)},
        answer_unknown_commands=True,
    )
    app, runtime = build_app(spec, settings)
    async with app:
        yield runtime


def _reg(agency_id: str):
    from tests.kit.fakes import agency_event

    return agency_event(agency_id, "HQ")


async def request(nc, topology, agency, command, payload) -> dict:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    msg = await nc.request(topology.command_subject(agency, command), body, timeout=5)
    return json.loads(msg.data)


async def test_a_command_is_appended_and_a_retry_returns_the_original_reply(
    service, nc, topology, store
):
    cmd = {"command_id": "cmd-1", "agency_id": "hq", "name": "HQ renamed"}
    first = await request(nc, topology, "hq", "kit_test_rename", cmd)
    again = await request(nc, topology, "hq", "kit_test_rename", cmd)
    assert first["ok"] and not first["replayed"]
    assert again["ok"] and again["replayed"]
    assert again["events"] == first["events"]
    assert len((await store.load("agency", "hq")).events) == 2


async def test_concurrent_commands_on_one_record_are_serialised_by_retries(
    service, nc, topology, store
):
    replies = await asyncio.gather(
        *[
            request(
                nc,
                topology,
                "hq",
                "kit_test_rename",
                {"command_id": f"c{i}", "agency_id": "hq", "name": f"n{i}"},
            )
            for i in range(6)
        ]
    )
    assert all(r["ok"] for r in replies)
    assert len((await store.load("agency", "hq")).events) == 7


@pytest.mark.parametrize(
    ("payload", "code", "fragment"),
    [
        (b"{oops", "invalid", "not JSON"),
        (b"\xff\xfe", "invalid", "UTF-8"),
        (b"[]", "invalid", "JSON object"),
        ({"command_id": "x"}, "invalid", "agency_id"),
        ({"command_id": "x", "agency_id": "hq", "name": "n", "extra": 1}, "invalid", "extra"),
        ({"command_id": "x", "agency_id": "a.b", "name": "n"}, "invalid", "agency_id"),
        (b"{" + b'"name": "' + b"x" * 200_000 + b'"}', "too_large", "limit"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_appends_nothing(
    service, nc, topology, store, payload, code, fragment
):
    reply = await request(nc, topology, "hq", "kit_test_rename", payload)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert fragment in json.dumps(reply["error"])
    assert len((await store.load("agency", "hq")).events) == 1


async def test_a_refused_command_says_why(service, nc, topology):
    reply = await request(
        nc, topology, "hq", "kit_test_rename", {"command_id": "z", "agency_id": "hq", "name": "HQ"}
    )
    assert reply == {
        "ok": False,
        "error": {"code": "unchanged", "message": "that is already its name", "details": None},
    }


async def test_an_agency_not_in_the_directory_is_refused(service, nc, topology):
    reply = await request(
        nc,
        topology,
        "ghost",
        "kit_test_rename",
        {"command_id": "g", "agency_id": "hq", "name": "x"},
    )
    assert reply["error"]["code"] == "forbidden"
    assert "ghost" in reply["error"]["message"]


async def test_an_unknown_command_gets_an_error_reply(service, nc, topology):
    reply = await request(nc, topology, "hq", "no_such_command", {})
    assert reply["error"]["code"] == "unknown_command"


async def test_a_service_on_an_unprovisioned_nats_says_how_to_provision(nats_server, tmp_path):
    from eventstore.settings import Settings

    settings = Settings(nats_url=nats_server.url, prefix="neverprovisioned", data_dir=tmp_path)
    app, _ = build_app(ServiceSpec(name="kittest"), settings)
    with pytest.raises(RuntimeError, match=r"not provisioned.*tsunagu up"):
        await app.start()
    await app.broker.stop()


async def test_a_request_waits_out_no_responders_while_a_service_starts_then_gives_up(nc):
    subject = f"starting.{uuid.uuid4().hex}"

    async def start_late() -> None:
        await asyncio.sleep(0.3)

        async def answer(msg) -> None:
            await msg.respond(b"ok")

        await nc.subscribe(subject, cb=answer)

    late = asyncio.create_task(start_late())
    reply = await request_patiently(nc, subject, b"{}", timeout=2)
    await late
    assert reply.data == b"ok"
    with pytest.raises(nats.errors.NoRespondersError):
        await request_patiently(nc, f"nobody.{uuid.uuid4().hex}", b"{}", patience=0.3)
