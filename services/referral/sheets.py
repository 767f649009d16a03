"""A referral's sheet (つなぐシート) unsealed for reading: personal data decrypted with the
service's key ring, None where the key was destroyed (erased)."""

from __future__ import annotations

from typing import Any

from contracts.common import AttachmentRef
from contracts.envelope import Envelope
from contracts.person import was_erased
from contracts.referral import ReferralPersonal
from eventstore.crypto import envelope_key_ids, sealed_key_ids
from eventstore.service import Runtime
from services.referral.domain import fold_referral, world_date


async def sheet_of(rt: Runtime, referral_id: str) -> tuple[list[Envelope], dict[str, Any] | None]:
    """The referral's history and its current sheet (None if it has none)."""
    assert rt.store is not None and rt.keyring is not None
    history = await rt.store.load("referral", referral_id)
    state = fold_referral(referral_id, ((env.event, world_date(env.occurred_at))
                                        for env in history.envelopes))
    sheet: dict[str, Any] | None = None
    if state.sheet is not None:
        # Linked to a person since erased, the sheet may still be sealed under its
        # submitter's key when that key seals another person's data too (docs/PRIVACY.md):
        # it is not unsealed then.
        person = await rt.store.load("person", state.person_id)
        plain = state.sheet
        if not was_erased(env.event for env in person.envelopes):
            await rt.keyring.prefetch(sealed_key_ids(state.sheet))
            plain = rt.keyring.unseal_event(state.sheet)
        sheet = plain.model_dump(mode="json", exclude={"type", "schema_version"})
        if not isinstance(plain.personal, ReferralPersonal):
            sheet["personal"] = None  # erased (crypto-shredded) or key unavailable
            # An older event's reference is plain, but its filename is the person's too.
            sheet["attachment"] = None
        elif not isinstance(plain.attachment, AttachmentRef):
            sheet["attachment"] = None
    # Who acted: the staff names are sealed in the envelopes (None once erased).
    ids: set[str] = set()
    for env in history.envelopes:
        ids |= envelope_key_ids(env)
    await rt.keyring.prefetch(ids)
    return [rt.keyring.unseal_envelope(env) for env in history.envelopes], sheet
