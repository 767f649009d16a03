"""An agency's own assessment sheet is checked as a referral's sheet is: the object's actual
bytes (not what its stored info claims), the size limit and the type sniffed from content."""

from __future__ import annotations

import hashlib

import pytest

from tests.casefile.world import World, assessment_payload
from tests.helpers import tampered_object

PDF = b"%PDF-1.4 our own intake sheet\n%%EOF\n"


@pytest.fixture
async def world(nc, store, topology, services) -> World:
    world = await World(nc, store, topology).setup(services)
    await services("casefile")
    await world.triaged_case()
    return world


def ref_of(data: bytes, media_type: str = "application/pdf") -> dict:
    digest = hashlib.sha256(data).hexdigest()
    return {"object_name": f"sha256-{digest}", "sha256": digest, "size": len(data),
            "media_type": media_type, "filename": "intake.pdf"}


async def put(nc, topology, data: bytes) -> dict:
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    ref = ref_of(data)
    await obs.put(ref["object_name"], data)
    return ref


async def record(world: World, command_id: str, ref: dict) -> dict:
    return await world.send("hokatsu", "record_intake_assessment",
                            assessment_payload(command_id, personal=None, attachment=ref))


async def test_a_sheet_whose_bytes_are_not_the_referenced_digest_is_refused(world, nc,
                                                                            topology):
    claimed = PDF
    actual = PDF.replace(b"intake", b"forged")
    ref = await tampered_object(nc, topology, claimed, actual)
    reply = await record(world, "a1", ref)
    assert reply["error"]["code"] == "attachment_mismatch", reply
    assert (await world.case_events()).count("IntakeAssessmentRecorded") == 0


async def test_a_sheet_that_is_not_an_allowed_type_is_refused(world, nc, topology):
    ref = await put(nc, topology, b"MZ\x90\x00 an executable, not a sheet")
    reply = await record(world, "a1", ref)
    assert reply["error"]["code"] == "attachment_type", reply
    assert "not a PDF, PNG, JPEG or Excel" in reply["error"]["message"]


async def test_a_sheet_whose_declared_type_is_not_its_content_is_refused(world, nc, topology):
    ref = await put(nc, topology, PDF)
    reply = await record(world, "a1", {**ref, "media_type": "image/png"})
    assert reply["error"]["code"] == "attachment_type", reply
    assert "not image/png" in reply["error"]["message"]


async def test_a_sheet_over_the_size_limit_is_refused(world, nc, topology, monkeypatch):
    from eventstore import attachments

    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 1000)
    ref = await put(nc, topology, PDF + b"0" * 2000)
    reply = await record(world, "a1", ref)
    assert reply["error"]["code"] == "attachment_too_large", reply
    assert "over the limit" in reply["error"]["message"]


async def test_a_sheet_that_is_what_it_says_is_accepted(world, nc, topology):
    reply = await record(world, "a1", await put(nc, topology, PDF))
    assert reply["ok"], reply
    assert (await world.case_events()).count("IntakeAssessmentRecorded") == 1
