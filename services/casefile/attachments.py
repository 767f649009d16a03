"""An agency's own assessment sheet, in the JetStream object store (uploaded the same way
as a referral's sheet: named ``sha256-<digest>``). Casefile only checks the reference."""

from __future__ import annotations

import base64

from nats.aio.client import Client
from nats.js.errors import NotFoundError, ObjectNotFoundError

from contracts.common import AttachmentRef
from eventstore.errors import DomainError, InvalidInput
from eventstore.topology import Topology


async def verify(nc: Client, topology: Topology, ref: AttachmentRef) -> None:
    """The object exists and is what the reference says (digest and size, from its info)."""
    if ref.object_name != f"sha256-{ref.sha256}":
        raise InvalidInput(
            "attachment.object_name: must be 'sha256-<sha256>' (as `tsunagu attach` prints)",
            details={"field": "attachment.object_name", "rule": "named_by_digest"},
        )
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    try:
        info = await obs.get_info(ref.object_name)
    except (ObjectNotFoundError, NotFoundError) as exc:
        raise DomainError(
            f"attachment: no object {ref.object_name} in the attachment store; upload it first",
            code="attachment_missing", details={"field": "attachment", "rule": "uploaded"},
        ) from exc
    try:
        digest = "SHA-256=" + base64.urlsafe_b64encode(bytes.fromhex(ref.sha256)).decode()
    except ValueError as exc:
        raise InvalidInput("attachment.sha256: must be 64 hex digits",
                           details={"field": "attachment.sha256"}) from exc
    if info.size != ref.size or info.digest != digest:
        raise DomainError(
            "attachment: the stored object does not match the reference's sha256/size",
            code="attachment_mismatch", details={"field": "attachment", "rule": "digest"},
        )
