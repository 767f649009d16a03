"""Agencies' own documents in the JetStream object store, referenced from events by sha256:
uploaded and checked here, for every service that accepts one (a referral's sheet, a case's
assessment sheet, a meeting's material).

The type is decided by content sniffing, never by the file name. Objects are named by their
digest, so the same file uploaded twice is one object and a reference cannot be re-pointed.
A reference is checked against the object's actual bytes, never against what the store's
object info claims (whoever can write the bucket writes that too).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import PurePath

from nats.aio.client import Client
from nats.js.api import ObjectMeta
from nats.js.errors import DigestMismatchError, NotFoundError, ObjectNotFoundError

from contracts.common import AttachmentRef
from eventstore.errors import DomainError, InvalidInput
from eventstore.topology import Topology

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS = "application/vnd.ms-excel"
ALLOWED = (PDF, PNG, JPEG, XLSX, XLS)


def sniff(data: bytes) -> str | None:
    """The media type from the content's magic bytes, or None if not an allowed type."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2 compound file (.xls)
        return XLS
    if data.startswith(b"PK\x03\x04"):
        # Any zip is not a workbook: require the parts of an OOXML spreadsheet.
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            return XLSX
    return None


def check_content(data: bytes, field: str = "attachment") -> str:
    """Size limit and type check; returns the sniffed media type."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            f"{field}: {len(data)} bytes is over the limit of {MAX_ATTACHMENT_BYTES} bytes",
            code="attachment_too_large", details={"field": field, "rule": "max_size"},
        )
    if not data:
        raise InvalidInput(f"{field}: the file is empty", code="attachment_type",
                           details={"field": field, "rule": "allowed_type"})
    media = sniff(data)
    if media is None:
        raise InvalidInput(
            f"{field}: the content is not a PDF, PNG, JPEG or Excel (xlsx/xls) file",
            code="attachment_type", details={"field": field, "rule": "allowed_type"},
        )
    return media


def object_name(sha256: str) -> str:
    return f"sha256-{sha256}"


async def upload(
    nc: Client, topology: Topology, data: bytes, filename: str, uploaded_by: str | None = None
) -> AttachmentRef:
    """Check and store a file; returns the reference to put into a referral."""
    media = check_content(data)
    digest = hashlib.sha256(data).hexdigest()
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    name = object_name(digest)
    try:
        info = await obs.get_info(name)
        stored = info.size == len(data)
    except (ObjectNotFoundError, NotFoundError):
        stored = False
    if not stored:
        meta = ObjectMeta(name=name, description=f"uploaded by {uploaded_by or 'unknown'}")
        await obs.put(name, data, meta=meta)
    return AttachmentRef(
        object_name=name, sha256=digest, size=len(data), media_type=media,
        filename=PurePath(filename).name[:200] or "attachment",
    )


async def verify(nc: Client, topology: Topology, ref: AttachmentRef) -> None:
    """The referenced object exists, its bytes are what the reference says (sha256 and size),
    it is within the size limit and an allowed type, and the type it declares."""
    if ref.size > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            f"attachment.size: {ref.size} bytes is over the limit of {MAX_ATTACHMENT_BYTES}",
            code="attachment_too_large", details={"field": "attachment.size", "rule": "max_size"},
        )
    if ref.object_name != object_name(ref.sha256):
        raise InvalidInput(
            "attachment.object_name: must be 'sha256-<sha256>' (as `tsunagu attach` prints)",
            details={"field": "attachment.object_name", "rule": "named_by_digest"},
        )
    if len(ref.sha256) != 64 or any(c not in "0123456789abcdef" for c in ref.sha256):
        raise InvalidInput("attachment.sha256: must be 64 lowercase hex digits",
                           details={"field": "attachment.sha256", "rule": "hex_digest"})
    data = await _read(nc, topology, ref.object_name)
    if hashlib.sha256(data).hexdigest() != ref.sha256 or len(data) != ref.size:
        raise _mismatch()
    media = check_content(data)
    if media != ref.media_type:
        raise InvalidInput(
            f"attachment.media_type: the content is {media}, not {ref.media_type}",
            code="attachment_type", details={"field": "attachment.media_type",
                                             "rule": "matches_content"},
        )


async def _read(nc: Client, topology: Topology, name: str) -> bytes:
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    try:
        result = await obs.get(name)
    except (ObjectNotFoundError, NotFoundError) as exc:
        raise DomainError(
            f"attachment: no object {name} in the attachment store; upload it first "
            "(tsunagu attach FILE --as AGENCY)",
            code="attachment_missing", details={"field": "attachment", "rule": "uploaded"},
        ) from exc
    except DigestMismatchError as exc:  # the chunks are not what the object's info says
        raise _mismatch() from exc
    return bytes(result.data or b"")


def _mismatch() -> DomainError:
    return DomainError(
        "attachment: the stored object does not match the reference's sha256/size",
        code="attachment_mismatch", details={"field": "attachment", "rule": "digest"},
    )
