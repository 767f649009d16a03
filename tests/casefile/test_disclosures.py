"""Casefile deliveries are recorded: a feed view with personal data gets its disclosure record
in the same outbox transaction, naming fields and the basis; a redacted view gets none."""

from __future__ import annotations

import json
from datetime import date

from contracts.base import Actor
from contracts.case import CaseOpened, CaseOrigin, MemberJoined, MembershipReason, SubjectPersonal
from contracts.common import SubjectRef
from contracts.consent import ConsentMethod, ConsentRecorded
from eventstore.codec import new_envelope
from eventstore.db import kit_metadata, make_engine
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from services.casefile import tables
from services.casefile.disclosures import personal_fields
from services.casefile.projection import CasefileProjection

D = date(2026, 5, 1)


def _events() -> list:
    actor = Actor(agency_id="shakyo")
    return [new_envelope(e, actor) for e in (
        CaseOpened(case_id="c1", subject=SubjectRef(person_id="p1"), origin=CaseOrigin.outreach,
                   opened_on=D, coordinator="shakyo",
                   personal=SubjectPersonal(name="山田花子", phone="090-1234-5678")),
        MemberJoined(case_id="c1", agency_id="shakyo", joined_on=D,
                     how=MembershipReason.opened),
        MemberJoined(case_id="c1", agency_id="hokatsu", joined_on=D,
                     how=MembershipReason.invitation),
        ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1", agencies=("shakyo",),
                        purposes=("支援調整",), method=ConsentMethod.written,
                        obtained_by="shakyo", given_on=D),
    )]


def test_a_feed_view_with_personal_data_is_recorded_in_the_same_outbox_transaction(db_url):
    engine = make_engine(db_url)
    kit_metadata.create_all(engine)
    tables.metadata.create_all(engine)
    ctx = ApplyContext(None)
    with engine.begin() as conn:
        for seq, env in enumerate(_events(), start=1):
            ctx.seq = seq
            CasefileProjection(Topology("tx")).apply(conn, env, ctx)
        ctx.finish(conn)
    engine.dispose()
    feeds = {m["msg_id"]: m for m in ctx._outbox if m["subject"].endswith(".case")}
    records = [json.loads(m["data"]) for m in ctx._outbox if ".disclosure." in m["subject"]]
    assert sorted(feeds) == ["feed-hokatsu-c1-4", "feed-shakyo-c1-4"]
    # Only the covered agency's view carries personal data, so only it is recorded.
    [record] = records
    assert record["record_id"] == "feed-shakyo-c1-4" and record["channel"] == "feed"
    assert (record["agency"], record["person_id"], record["case_id"]) == ("shakyo", "p1", "c1")
    assert record["fields"] == ["subject.name", "subject.phone"]
    assert record["basis"]["kind"] == "consent" and record["basis"]["consent_id"] == "k1"
    assert "山田" not in json.dumps(records, ensure_ascii=False)


def test_a_redacted_view_names_no_personal_fields():
    assert personal_fields({"case_id": "c1", "redacted": True,
                            "subject": {"personal": {"name": "山田花子"}}}) == []


def test_personal_fields_name_each_section_and_skip_empty_values():
    view = {"redacted": False,
            "subject": {"personal": {"name": "山田花子", "kana": None}},
            "plans": [{"personal": {"long_term_goal": "自立"}}],
            "assessments": [{"personal": {"situation": "滞納"}, "attachment": {"x": 1}}],
            "monitoring": [{"personal": None}]}
    assert personal_fields(view) == ["assessment.attachment", "assessment.situation",
                                     "plan.long_term_goal", "subject.name"]
