"""Erasure deletes the erased person's documents from the attachment object store.

Which: every object referenced by the person's referrals (theirs, or the one that opened one
of their cases), by their cases' events and by the material of their cases' agenda items —
unless a record about someone else references the same object too (objects are named by
their digest, so one file attached twice is one object).

References are personal (sealed with the erased keys), so they are read *before* the keys
are destroyed: the shredder deletes first and destroys keys after. Deleting is idempotent, so
a shredder that runs again (at-least-once) finds the objects gone and goes on.
"""

from __future__ import annotations

from nats.aio.client import Client
from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import OBJ_CHUNKS_PRE_TEMPLATE, OBJ_STREAM_TEMPLATE

from contracts.base import DomainEvent, Sealed
from contracts.case import CaseEvent, CaseOpened
from contracts.common import AttachmentRef
from contracts.meeting import CaseTabled, MaterialShared
from contracts.person import PersonDataErased
from contracts.referral import ReferralCorrected, ReferralSubmitted
from eventstore.crypto import KeyRing, sealed_key_ids
from eventstore.scrub import erase_subject
from eventstore.store import EventStore
from eventstore.topology import Topology

#: Events that may carry an attachment reference (aggregate, type).
ATTACHING = (
    ("referral", "ReferralSubmitted"),
    ("referral", "ReferralCorrected"),
    ("case", "IntakeAssessmentRecorded"),
    ("meeting", "MaterialShared"),
)


class _Owners:
    """What belongs to the erased person: their cases, referrals and agenda items."""

    def __init__(self, erased: PersonDataErased, opened: list[CaseOpened],
                 tabled: list[CaseTabled]) -> None:
        self.person_id = erased.person_id
        self.keys = set(erased.key_ids)
        self.cases = {o.case_id for o in opened if o.case_id in self.keys}
        # The event names the referrals linked to the person too (PersonMatchDecided).
        self.referrals = ({o.referral_id for o in opened if o.case_id in self.cases}
                          | set(erased.referral_ids))
        self.items = {(t.meeting_id, t.item_id): t.case_id for t in tabled}

    def owns(self, event: DomainEvent, raw: object) -> bool:
        if isinstance(raw, Sealed) and raw.key_id in self.keys:
            return True
        if isinstance(event, ReferralSubmitted | ReferralCorrected):
            return event.person_id == self.person_id or event.referral_id in self.referrals
        if isinstance(event, CaseEvent):
            return event.case_id in self.cases
        if isinstance(event, MaterialShared):
            case_id = event.case_id or self.items.get((event.meeting_id, event.item_id or ""))
            return case_id in self.cases
        return False


async def objects_to_delete(
    store: EventStore, keyring: KeyRing, erased: PersonDataErased
) -> set[str]:
    """Object names only the erased person's records reference (needs their keys)."""
    topo = store.topology
    opened = [s.envelope.event for s in await store.read(topo.event_subject("case", "*",
                                                                            "CaseOpened"))]
    tabled = [s.envelope.event for s in await store.read(topo.event_subject("meeting", "*",
                                                                            "CaseTabled"))]
    owners = _Owners(erased, [e for e in opened if isinstance(e, CaseOpened)],
                     [e for e in tabled if isinstance(e, CaseTabled)])
    events: list[DomainEvent] = []
    for aggregate, event_type in ATTACHING:
        stored = await store.read(topo.event_subject(aggregate, "*", event_type))
        events += [s.envelope.event for s in stored
                   if getattr(s.envelope.event, "attachment", None) is not None]
    key_ids: set[str] = set()
    for event in events:
        key_ids |= sealed_key_ids(event)
    await keyring.prefetch(key_ids)
    mine: set[str] = set()
    kept: set[str] = set()
    for event in events:
        raw = getattr(event, "attachment", None)
        ref = getattr(keyring.unseal_event(event), "attachment", None)
        if not isinstance(ref, AttachmentRef):
            continue  # its key is gone: erased before, and its objects with it
        (mine if owners.owns(event, raw) else kept).add(ref.object_name)
    return mine - kept


async def delete_object(nc: Client, topology: Topology, name: str) -> bool:
    """Delete one object, its chunks erased (overwritten in nats-server's block files, not
    just purged, which leaves the bytes there); False when it was already gone."""
    js = nc.jetstream()
    obs = await js.object_store(topology.attachment_bucket)
    try:
        info = await obs.get_info(name, show_deleted=True)
    except (ObjectNotFoundError, NotFoundError):
        return False
    # Erased before the object is marked deleted, and again when it already was: an
    # earlier run may have stopped in between. Erasing an empty subject is harmless.
    bucket = topology.attachment_bucket
    await erase_subject(js, OBJ_STREAM_TEMPLATE.format(bucket=bucket),
                        OBJ_CHUNKS_PRE_TEMPLATE.format(bucket=bucket, obj=info.nuid))
    if not info.deleted:
        await obs.delete(name)
    return not info.deleted
