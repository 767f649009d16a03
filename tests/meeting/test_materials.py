"""A meeting's material may carry a document: it is checked as every attachment is
(eventstore.attachments.verify), against the object's actual bytes, size and type."""

from __future__ import annotations

from eventstore import attachments
from tests.helpers import tampered_object
from tests.meeting.support import COORD

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def test_a_materials_document_must_be_the_uploaded_file_it_names(drv, nc, topology):
    meeting_id = await drv.schedule()
    other = PDF.replace(b"1.7", b"1.6")
    forged = await tampered_object(nc, topology, other, other.replace(b"1 0", b"9 9"))
    await drv.refused(COORD, "share_material", "attachment_mismatch", meeting_id=meeting_id,
                      title="資料", text="別添", attachment=forged)
    missing = {**forged, "sha256": "0" * 64, "object_name": "sha256-" + "0" * 64}
    await drv.refused(COORD, "share_material", "attachment_missing", meeting_id=meeting_id,
                      title="資料", text="別添", attachment=missing)
    ref = await attachments.upload(nc, topology, PDF, "会議資料.pdf")
    await drv.refused(COORD, "share_material", "attachment_type", meeting_id=meeting_id,
                      title="資料", text="別添",
                      attachment={**ref.model_dump(mode="json"), "media_type": "image/png"})
    await drv.ok(COORD, "share_material", meeting_id=meeting_id, title="資料", text="別添",
                 attachment=ref.model_dump(mode="json"))
    materials = await drv.ask(COORD, "meeting_materials", meeting_id=meeting_id)
    assert [m["attachment"]["filename"] for m in materials] == ["会議資料.pdf"]
