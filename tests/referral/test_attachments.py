"""An agency's own sheet instead of filling every field: object store, hash, size, type."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

import pytest
from typer.testing import CliRunner

from contracts.base import Sealed
from eventstore import attachments
from eventstore.crypto import KeyRing
from tests.referral.support import ask, cid, refused, send, sheet, synced
from tsunagu.cli import build

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def xlsx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("evil.exe", "MZ")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "media"),
    [
        (PDF, attachments.PDF),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, attachments.PNG),
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, attachments.JPEG),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 20, attachments.XLS),
        (xlsx(), attachments.XLSX),
        (plain_zip(), None),
        (b"MZ\x90\x00 an executable", None),
        (b"<html>sheet.pdf</html>", None),
    ],
)
def test_the_type_is_decided_by_content_not_by_name(data, media):
    assert attachments.sniff(data) == media


async def test_an_uploaded_sheet_can_replace_the_optional_fields(referral_rt, nc, topology,
                                                                 store):
    ref = await attachments.upload(nc, topology, PDF, "つなぐシート_本人.pdf")
    assert ref.media_type == attachments.PDF and ref.filename == "つなぐシート_本人.pdf"
    body = sheet(attachment=ref.model_dump(mode="json"),
                 personal={"name": None, "kana": None, "birth_date": None, "phone": None,
                           "household": [], "summary": "別添の自機関シートのとおり"})
    reply = await send(nc, topology, "hokatsu-kita", "submit_referral", body)
    assert reply["ok"], reply
    stored = (await store.load("referral", reply["ids"]["referral_id"])).envelopes[0].event
    # The reference is personal (its filename names the person): sealed with the person's key.
    assert isinstance(stored.attachment, Sealed) and stored.attachment.key_id == stored.person_id
    assert "本人".encode() not in stored.model_dump_json().encode()
    ring = await KeyRing.open(nc, topology)
    await ring.prefetch({stored.person_id})
    assert ring.unseal_event(stored).attachment == ref
    await synced(referral_rt, nc, topology)
    box = (await ask(nc, topology, "hokatsu-kita", "inbox"))["result"]["sent"]
    assert box[0]["has_attachment"] is True


async def test_a_reference_to_a_missing_or_altered_object_is_refused(referral_rt, nc, topology):
    ref = await attachments.upload(nc, topology, PDF, "a.pdf")
    missing = ref.model_copy(update={"sha256": "0" * 64, "object_name": "sha256-" + "0" * 64})
    await refused(nc, topology, "hokatsu-kita", "submit_referral",
                  sheet(command_id=cid(), attachment=missing.model_dump(mode="json")),
                  "attachment_missing", "upload it first")
    wrong_size = ref.model_copy(update={"size": ref.size + 1})
    await refused(nc, topology, "hokatsu-kita", "submit_referral",
                  sheet(command_id=cid(), attachment=wrong_size.model_dump(mode="json")),
                  "attachment_mismatch", "does not match")
    wrong_type = ref.model_copy(update={"media_type": attachments.PNG})
    await refused(nc, topology, "hokatsu-kita", "submit_referral",
                  sheet(command_id=cid(), attachment=wrong_type.model_dump(mode="json")),
                  "attachment_type", "not image/png")
    too_big = ref.model_copy(update={"size": attachments.MAX_ATTACHMENT_BYTES + 1})
    await refused(nc, topology, "hokatsu-kita", "submit_referral",
                  sheet(command_id=cid(), attachment=too_big.model_dump(mode="json")),
                  "attachment_too_large", "over the limit")


async def test_an_object_put_behind_the_services_back_is_type_checked(referral_rt, nc,
                                                                      topology):
    import hashlib

    data = b"MZ not a sheet"
    digest = hashlib.sha256(data).hexdigest()
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    await obs.put(attachments.object_name(digest), data)
    ref = {"object_name": attachments.object_name(digest), "sha256": digest,
           "size": len(data), "media_type": attachments.PDF, "filename": "x.pdf"}
    await refused(nc, topology, "hokatsu-kita", "submit_referral",
                  sheet(command_id=cid(), attachment=ref), "attachment_type",
                  "not a PDF, PNG, JPEG or Excel")


async def test_tsunagu_attach_uploads_and_prints_the_reference(nc, topology, settings,
                                                               tmp_path, monkeypatch):
    good, bad = tmp_path / "sheet.xlsx", tmp_path / "sheet.pdf"
    good.write_bytes(xlsx())
    bad.write_bytes(b"#!/bin/sh\necho not a pdf\n")
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 10_000)
    big = tmp_path / "big.pdf"
    big.write_bytes(PDF + b"0" * 20_000)
    runner = CliRunner()

    def cli(path):
        return runner.invoke(build(), ["attach", str(path), "--as", "hokatsu-kita",
                                       "--nats-url", settings.nats_url],
                             env={"TSUNAGU_PREFIX": topology.prefix})

    ok = await asyncio.to_thread(cli, good)
    assert ok.exit_code == 0, ok.output
    ref = json.loads(ok.output)
    assert ref["media_type"] == attachments.XLSX and ref["filename"] == "sheet.xlsx"
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    assert (await obs.get_info(ref["object_name"])).size == ref["size"]
    refused_type = await asyncio.to_thread(cli, bad)
    assert refused_type.exit_code == 1 and "not a PDF" in refused_type.output
    refused_size = await asyncio.to_thread(cli, big)
    assert refused_size.exit_code == 1 and "over the limit" in refused_size.output
