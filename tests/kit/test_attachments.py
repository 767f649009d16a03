"""The one attachment check (eventstore/attachments.py) every service calls: against the
object's actual bytes, the size limit and the sniffed type, on a real object store."""

from __future__ import annotations

import pytest

from contracts.common import AttachmentRef
from eventstore import attachments
from eventstore.errors import DomainError
from tests.helpers import tampered_object

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def refusal(nc, topology, ref: AttachmentRef | dict) -> tuple[str, str]:
    ref = ref if isinstance(ref, AttachmentRef) else AttachmentRef(**ref)
    with pytest.raises(DomainError) as raised:
        await attachments.verify(nc, topology, ref)
    return raised.value.code, raised.value.message


async def test_an_uploaded_file_verifies(nc, topology):
    ref = await attachments.upload(nc, topology, PDF, "dir/シート.pdf")
    assert ref.filename == "シート.pdf" and ref.media_type == attachments.PDF
    await attachments.verify(nc, topology, ref)


async def test_the_stored_digest_is_not_trusted_the_bytes_are_read(nc, topology):
    ref = await tampered_object(nc, topology, PDF, PDF.replace(b"1 0", b"9 9"))
    assert await refusal(nc, topology, ref) == (
        "attachment_mismatch", "attachment: the stored object does not match the reference's "
        "sha256/size")


async def test_a_reference_claiming_more_than_the_limit_is_refused_before_reading(nc, topology):
    ref = {"object_name": "sha256-" + "a" * 64, "sha256": "a" * 64, "filename": "x.pdf",
           "size": attachments.MAX_ATTACHMENT_BYTES + 1, "media_type": attachments.PDF}
    code, message = await refusal(nc, topology, ref)
    assert code == "attachment_too_large" and "over the limit" in message


async def test_a_file_over_the_limit_is_refused_whatever_its_reference_says(
    nc, topology, monkeypatch
):
    ref = await attachments.upload(nc, topology, PDF + b"0" * 200, "big.pdf")
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 100)
    code, _ = await refusal(nc, topology, ref)
    assert code == "attachment_too_large"


async def test_a_digest_that_is_not_hex_is_refused_as_invalid(nc, topology):
    ref = {"object_name": "sha256-" + "z" * 64, "sha256": "z" * 64, "size": 3,
           "media_type": attachments.PDF, "filename": "x.pdf"}
    code, message = await refusal(nc, topology, ref)
    assert code == "invalid" and "64 lowercase hex digits" in message


async def test_an_object_named_other_than_its_digest_is_refused(nc, topology):
    ref = await attachments.upload(nc, topology, PDF, "a.pdf")
    code, message = await refusal(nc, topology,
                                  ref.model_copy(update={"object_name": "sheet.pdf"}))
    assert code == "invalid" and "sha256-<sha256>" in message
