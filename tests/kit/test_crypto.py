"""Personal data is sealed per subject; destroying the key makes it unreadable everywhere."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.base import Actor, Sealed
from contracts.common import AttachmentRef, Concern
from contracts.referral import ContactRoute, ReferralPersonal, ReferralSubmitted
from eventstore.codec import encode, new_envelope
from eventstore.crypto import KeyRing, envelope_key_ids
from eventstore.errors import DomainError


def referral(person_id: str = "p1") -> ReferralSubmitted:
    return ReferralSubmitted(
        referral_id="r1",
        person_id=person_id,
        referring_agency="a1",
        contact_route=ContactRoute.phone,
        concerns=(Concern.debt,),
        personal=ReferralPersonal(
            name="山田花子", birth_date=date(1980, 2, 29), summary="家賃滞納"
        ),
    )


async def test_a_sealed_event_carries_no_plaintext_and_unseals_with_the_key(nc, topology, store):
    ring = await KeyRing.open(nc, topology)
    sealed = await ring.seal_event(referral())
    assert isinstance(sealed.personal, Sealed) and sealed.personal.key_id == "p1"
    raw = encode(new_envelope(sealed, Actor(agency_id="a1")))
    assert "山田".encode() not in raw and b"1980" not in raw
    await store.append([new_envelope(sealed, Actor(agency_id="a1"))])

    other = await KeyRing.open(nc, topology)  # another service, same bucket
    stored = (await store.load("referral", "r1")).events[0].envelope.event
    await other.prefetch({"p1"})
    plain = other.unseal_event(stored)
    assert plain.personal.name == "山田花子"


async def test_after_the_key_is_destroyed_nobody_can_unseal(nc, topology, store):
    ring = await KeyRing.open(nc, topology)
    sealed = await ring.seal_event(referral("p2"))
    await ring.destroy("p2")
    fresh = await KeyRing.open(nc, topology)
    await fresh.prefetch({"p2"})
    assert isinstance(fresh.unseal_event(sealed).personal, Sealed)
    entry_count = 0
    kv = await nc.jetstream().key_value(topology.key_bucket)
    try:
        await kv.get("p2")
        entry_count = 1
    except Exception:
        pass
    assert entry_count == 0


async def test_each_subject_has_its_own_key(nc, topology):
    ring = await KeyRing.open(nc, topology)
    a = await ring.seal_event(referral("pa"))
    b = await ring.seal_event(referral("pb"))
    await ring.destroy("pa")
    assert isinstance(ring.unseal_event(a).personal, Sealed)
    assert ring.unseal_event(b).personal.name == "山田花子"


async def test_a_destroyed_key_is_never_created_again(nc, topology):
    """A fresh key under an erased subject's id would record new data about them."""
    ring = await KeyRing.open(nc, topology)
    await ring.seal_event(referral("p3"))
    await ring.destroy("p3")
    fresh = await KeyRing.open(nc, topology)  # another service: nothing cached
    with pytest.raises(DomainError) as refused:
        await fresh.seal_event(referral("p3"))
    assert refused.value.code == "person_erased" and "p3" in refused.value.message
    assert await fresh.get("p3") is None
    assert isinstance((await fresh.seal_event(referral("p4"))).personal, Sealed)


async def test_an_attachment_reference_is_sealed_like_a_personal_block(nc, topology):
    ref = AttachmentRef(object_name="sha256-ab", sha256="ab", size=3,
                        media_type="application/pdf", filename="山田花子_シート.pdf")
    ring = await KeyRing.open(nc, topology)
    sealed = await ring.seal_event(referral().model_copy(update={"attachment": ref}))
    assert isinstance(sealed.attachment, Sealed) and sealed.attachment.key_id == "p1"
    assert "山田".encode() not in encode(new_envelope(sealed, Actor(agency_id="a1")))
    assert ring.unseal_event(sealed).attachment == ref


async def test_a_staff_name_is_sealed_in_the_envelope_and_dropped_once_the_key_is_destroyed(
    nc, topology, store
):
    ring = await KeyRing.open(nc, topology)
    staff = await ring.seal_staff("p1", "相談員 楢崎")
    env = new_envelope(await ring.seal_event(referral()), Actor(agency_id="a1"))
    env = env.model_copy(update={"sealed_staff": staff})
    assert "楢崎".encode() not in encode(env) and env.actor.staff is None
    other = await KeyRing.open(nc, topology)
    await other.prefetch(envelope_key_ids(env))
    assert other.unseal_envelope(env).actor.staff == "相談員 楢崎"
    await ring.destroy("p1")
    # Nothing more is recorded about an erased person, not even who acted.
    assert await ring.seal_staff("p1", "相談員 楢崎") is None
    assert KeyRing(ring.kv).unseal_envelope(env).actor.staff is None
