"""Erasure down to the disk, and feeds that keep no stale views (issue 15, findings 2 and 7).

A person's history is built with the public commands through the real services; then every
file the platform wrote (nats-server's store, the SQLite files, PostgreSQL's relation files)
is read as raw bytes and searched for the person's strings in UTF-8, UTF-16 LE/BE, Shift_JIS,
JSON escapes and base64, and for the bytes of their data keys: found before, gone after."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import create_engine, text

from contracts.case import NATIONAL_ASSESSMENT_ITEMS
from contracts.common import REDACTED
from contracts.meeting import meeting_text_key
from eventstore import attachments
from tests.helpers import ask, eventually, register_agency, send

log = structlog.get_logger("tests.erasure_on_disk")


def today_jst() -> date:
    return (datetime.now(UTC) + timedelta(hours=9)).date()


def days_ago(n: int) -> str:
    return (today_jst() - timedelta(days=n)).isoformat()


def forms(s: str) -> list[bytes]:
    """The byte forms a string can sit in at rest: UTF-8, UTF-16 LE/BE, Shift_JIS (every
    string here is in JIS X 0208), a JSON
    \\u escape, and base64 of its UTF-8 at each of the three alignments (without the edge
    characters that depend on the bytes around it)."""
    raw = s.encode()
    out = [raw, s.encode("utf-16-le"), s.encode("utf-16-be"), s.encode("shift_jis"),
           json.dumps(s)[1:-1].encode()]
    for pad, drop in ((0, 0), (1, 2), (2, 3)):
        out.append(base64.b64encode(b"\0" * pad + raw)[drop:-4])
    return out


def grep(blobs: dict[str, bytes], needles: dict[str, list[bytes]]) -> dict[str, list[str]]:
    """{what: [where it was found]} for every needle found in any blob."""
    found: dict[str, list[str]] = {}
    for what, variants in needles.items():
        where = [name for name, blob in blobs.items() if any(v in blob for v in variants)]
        if where:
            found[what] = where
    return found


def files_under(*roots: Path) -> dict[str, bytes]:
    out = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                out[str(path)] = path.read_bytes()
    return out


def postgres_files(url: str) -> dict[str, bytes]:
    """The relation files (tables, TOAST, indexes) of the test's schema, read by the server
    (``pg_read_binary_file``, allowed to superusers), after a CHECKPOINT has written every
    dirty page to them."""
    schema = url.rsplit("search_path%3D", 1)[1]
    engine = create_engine(url.split("?")[0].replace("postgresql://", "postgresql+psycopg://"),
                           isolation_level="AUTOCOMMIT")
    out: dict[str, bytes] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            paths = conn.execute(text(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s OR c.oid IN (SELECT reltoastrelid FROM pg_class k "
                "JOIN pg_namespace m ON m.oid = k.relnamespace WHERE m.nspname = :s) "
                "OR c.oid IN (SELECT indexrelid FROM pg_index i JOIN pg_class t "
                "ON t.oid = i.indrelid JOIN pg_namespace m ON m.oid = t.relnamespace "
                "WHERE t.reltoastrelid <> 0 AND i.indrelid IN (SELECT reltoastrelid "
                "FROM pg_class WHERE relnamespace = m.oid) AND m.nspname = :s)"
            ), {"s": schema}).scalars().all()
            for path in paths:
                if path is None:
                    continue
                blob = conn.execute(text("SELECT pg_read_binary_file(:p, 0, "
                                         "(pg_stat_file(:p)).size, true)"), {"p": path}).scalar()
                out[f"postgres:{path}"] = bytes(blob or b"")
    finally:
        engine.dispose()
    assert out, "no relation files of the schema were readable"
    return out


class Person:
    """The person's strings, unique to this run (the nats-server is shared by the session)."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"鰐淵 葵{tag}"
        self.kana = f"ワニブチ アオイ{tag}"
        self.address = f"東京都八王子市鑓水{tag}番地"
        self.phone = f"080-{tag[:4]}-{tag[2:6]}"
        self.birth = "1961-07-23"
        self.summary = f"独居で借金の督促が続く{tag}"
        self.situation = f"家賃滞納五か月と通院中断{tag}"
        self.plan = f"債務整理と通院再開を支える{tag}"
        self.material = f"市民病院の診療記録抜粋{tag}"
        self.document = f"診断書の本文{tag}"
        self.reason = f"本人が家族との同居を始め共有を望まない{tag}"
        self.decision = f"母の入院で見守りが急務{tag}"
        # Free text outside the personal blocks, sealed since: a triage reason, a meeting's
        # title naming the person, a consent's purpose and who obtained it.
        self.triage = f"多重債務と孤立で多機関協働が必要{tag}"
        self.title = f"鰐淵さん世帯の支援検討会議{tag}"
        self.purpose = f"債務整理の相談先との情報共有{tag}"
        self.staff = f"相談支援員 楢崎{tag}"
        # A second つなぐシート, submitted under a new person id and linked to this person.
        self.alias = f"鷲尾 あおい{tag}"
        self.alias_address = f"東京都日野市程久保{tag}番地"

    def strings(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if isinstance(v, str)}


class Platform:
    def __init__(self, nc: Any, topology: Any, store: Any) -> None:
        self.nc, self.topology, self.store, self.n = nc, topology, store, 0

    async def ok(self, agency: str, command: str, **payload: Any) -> dict:
        self.n += 1
        reply = await send(self.nc, self.topology, agency, command,
                           {"command_id": f"disk-{self.n}", **payload})
        assert reply["ok"], (command, reply)
        return reply

    async def history(self, p: Person) -> dict[str, str]:
        """つなぐシート with an attached document → 重層案件 → consent → assessment → plan →
        a 支援会議 with the person's item material. Returns the ids."""
        for agency, category, triage in [("fukushi", "その他行政の担当部署", True),
                                         ("hokatsu", "地域包括支援センター", False),
                                         ("shakyo", "社会福祉協議会", False)]:
            await register_agency(self.store, agency, category=category, can_triage=triage)
        items = {name: codes[0] for name, codes in NATIONAL_ASSESSMENT_ITEMS.items()}
        doc = f"%PDF-1.7\n% {p.document}\n%%EOF\n".encode()
        ref = await attachments.upload(self.nc, self.topology, doc, "診断書.pdf", "hokatsu")
        sub = await self.ok(
            "hokatsu", "submit_referral", occurred_at=f"{days_ago(40)}T10:00:00+09:00",
            contact_route="phone", concerns=["income", "debt"], sex="female",
            attachment=ref.model_dump(mode="json"),
            personal={"name": p.name, "kana": p.kana, "birth_date": p.birth,
                      "address": p.address, "phone": p.phone, "summary": p.summary})
        referral_id = sub["ids"]["referral_id"]
        case_id = (await self.ok("fukushi", "triage_referral", referral_id=referral_id,
                                 outcome="complex", triaged_on=days_ago(39),
                                 reason=p.triage, staff=p.staff))["ids"]["case_id"]
        linked = await self.linked_referral(p, case_id)
        applied = await self.ok(
            "fukushi", "record_application", case_id=case_id, applied_on=days_ago(35),
            with_consent=True, consent={"agencies": ["fukushi", "hokatsu", "shakyo"],
                                        "purposes": ["支援調整", p.purpose],
                                        "method": "written", "given_on": days_ago(35),
                                        "obtained_by_staff": p.staff, "form_ref": "同意書-1"})
        assert applied["ok"]
        consent_id = (await self.consent_ids(case_id, 1))[0]
        await self.ok("fukushi", "record_intake_assessment", case_id=case_id,
                      assessed_on=days_ago(30), national_items=items, staff=p.staff,
                      personal={"situation": p.situation})
        await self.ok("fukushi", "draft_plan", case_id=case_id, drafted_on=days_ago(25),
                      roles=[{"agency_id": "shakyo", "role": "家計改善"}],
                      monitoring_on=days_ago(-30),
                      personal={"long_term_goal": p.plan, "short_term_goals": ["家計"],
                                "direction": "見守り"})
        soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        meeting_id = (await self.ok("fukushi", "schedule_meeting", kind="support_plan",
                                    scheduled_for=soon, members=["hokatsu", "shakyo"],
                                    title=p.title)
                      )["ids"]["meeting_id"]
        await self.ok("fukushi", "table_case", meeting_id=meeting_id, case_id=case_id,
                      asks=["assign_lead"])
        await self.ok("fukushi", "share_material", meeting_id=meeting_id, item_id="item-1",
                      title="世帯の状況", text=p.material)
        await self.ok("fukushi", "record_meeting_held", meeting_id=meeting_id,
                      held_on=today_jst().isoformat(), attendees=["fukushi", "hokatsu"])
        await self.ok("fukushi", "record_decision", meeting_id=meeting_id, item_id="item-1",
                      decision="assign_lead", reason=p.decision, lead_agency="hokatsu")
        # A second consent, withdrawn with a reason (free text about the person).
        await self.ok("fukushi", "record_consent", case_id=case_id, agencies=["shakyo"],
                      purposes=["就労支援"], method="written", given_on=days_ago(20),
                      obtained_by_staff=p.staff, form_ref="同意書-2")
        later = await self.consent_ids(case_id, 2)
        await self.ok("fukushi", "withdraw_consent", case_id=case_id, consent_id=later[-1],
                      withdrawn_on=days_ago(10), reason=p.reason)
        opened = (await self.store.load("case", case_id)).envelopes[0].event
        return {"case_id": case_id, "person_id": opened.subject.person_id,
                "consent_id": consent_id, "referral_id": referral_id,
                "meeting_id": meeting_id, "linked_person_id": linked}

    async def linked_referral(self, p: Person, case_id: str) -> str:
        """A sheet from another agency under a new person id, then linked to ``p`` by the
        coordinator (PersonMatchDecided); returns the id it was submitted under."""
        sub = await self.ok(
            "shakyo", "submit_referral", contact_route="visit", concerns=["income"],
            personal={"name": p.alias, "address": p.alias_address, "birth_date": p.birth,
                      "summary": "同じ方と思われる", "phone": p.phone})
        referral_id = sub["ids"]["referral_id"]
        submitted = (await self.store.load("referral", referral_id)).envelopes[0].event
        person_id = (await self.store.load("case", case_id)).envelopes[0].event.subject.person_id

        async def linked() -> bool:  # once the referral service knows the person
            self.n += 1
            reply = await send(self.nc, self.topology, "fukushi", "decide_person_match", {
                "command_id": f"disk-{self.n}", "referral_id": referral_id,
                "candidate_person_id": person_id, "decision": "link"})
            return bool(reply["ok"])

        await eventually(linked, timeout=20)
        return str(submitted.person_id)

    async def consents(self, case_id: str) -> dict:
        return await ask(self.nc, self.topology, "fukushi", "consent_history",
                         {"case_id": case_id})

    async def shown(self, ids: dict[str, str]) -> str:
        """What the coordinator is shown of the meeting and the referral (title, reason)."""
        meetings = await ask(self.nc, self.topology, "fukushi", "meeting_agenda",
                             {"meeting_id": ids["meeting_id"]})
        referral = await ask(self.nc, self.topology, "fukushi", "referral",
                             {"referral_id": ids["referral_id"]})
        return json.dumps([meetings, referral], ensure_ascii=False)

    async def consent_ids(self, case_id: str, count: int) -> list[str]:
        found: list[str] = []

        async def recorded() -> bool:
            reply = await ask(self.nc, self.topology, "fukushi", "consent_history",
                              {"case_id": case_id})
            found[:] = [e["consent_id"] for e in (reply.get("result") or {}).get("events", [])
                        if e.get("consent_id")]
            return len(found) >= count

        await eventually(recorded, timeout=20)
        return found

    async def keys(self, key_ids: list[str]) -> dict[str, list[bytes]]:
        kv = await self.nc.jetstream().key_value(self.topology.key_bucket)
        out = {}
        for key_id in key_ids:
            b64 = (await kv.get(key_id)).value or b""
            out[f"key {key_id}"] = [base64.b64decode(b64), b64]
        return out


async def _projected(nc: Any, topology: Any, ids: dict[str, str], p: Person) -> bool:
    reply = await ask(nc, topology, "fukushi", "case_view", {"case_id": ids["case_id"]})
    if not (reply["ok"] and p.plan in json.dumps(reply, ensure_ascii=False)):
        return False
    mat = await ask(nc, topology, "fukushi", "meeting_materials",
                    {"meeting_id": ids["meeting_id"]})
    decided = await ask(nc, topology, "fukushi", "case_decisions", {"case_id": ids["case_id"]})
    return (mat["ok"] and p.material in json.dumps(mat, ensure_ascii=False)
            and p.decision in json.dumps(decided, ensure_ascii=False))


@pytest.mark.timeout(180)
async def test_after_erasure_no_byte_of_the_person_is_left_on_disk(
    nc, topology, store, services, service_db, nats_server, tmp_path
):
    rt = await services("referral", "casefile", "meeting", "stats")
    p, platform = Person(), Platform(nc, topology, store)
    ids = await platform.history(p)
    await eventually(lambda: _projected(nc, topology, ids, p), timeout=30)
    needles = {what: forms(s) for what, s in p.strings().items()}
    needles.update(await platform.keys([ids["person_id"], ids["case_id"],
                                        ids["linked_person_id"],
                                        meeting_text_key(ids["meeting_id"])]))

    def on_disk() -> dict[str, bytes]:
        blobs = files_under(Path(nats_server.store_dir), tmp_path)
        if service_db.startswith("postgresql"):
            blobs.update(postgres_files(service_db))
        return blobs

    before = grep(on_disk(), needles)
    if service_db.startswith("postgresql"):  # the relation files are really read
        in_tables = grep(postgres_files(service_db), needles)
        assert {"name", "plan", "material"} <= set(in_tables), in_tables
    # Sealed in the events from the start, and no projection keeps them: readable through
    # the platform before erasure, never as plain bytes. The triage reason and the meeting's
    # title are kept by the referral and meeting projections (for their views), and so is
    # the staff member who acted last on the referral (sealed in the events' envelopes).
    sealed_only = {"reason", "purpose"}
    assert set(before) == set(needles) - sealed_only, f"not on disk: {set(needles) - set(before)}"
    consents = json.dumps(await platform.consents(ids["case_id"]), ensure_ascii=False)
    assert p.reason in consents and p.purpose in consents and p.staff in consents
    assert p.title in await platform.shown(ids)

    await platform.ok("operator", "erase_person_data", person_id=ids["person_id"],
                      reason="本人からの削除請求")
    # Each service scrubs its own database once it has applied the erasure; the casefile
    # shredder does so last, after the feed, the documents and the keys.
    reactors = [rt["casefile"].runners["casefile_shredder"].reactor] + [
        rt[name].runners[f"{name}_scrubber"].reactor for name in ("referral", "meeting", "stats")]
    await eventually(lambda: all(r.scrubbed for r in reactors), timeout=90)
    started = time.monotonic()
    after = grep(on_disk(), needles)
    log.info("disk grep", files=len(on_disk()), seconds=round(time.monotonic() - started, 2))
    assert after == {}, f"still on disk after erasure: {after}"
    shown = json.dumps(await platform.consents(ids["case_id"]), ensure_ascii=False)
    assert "consent_id" in shown and p.reason not in shown and REDACTED in shown
    assert p.purpose not in shown and p.staff not in shown
    views = await platform.shown(ids)
    assert p.title not in views and p.triage not in views and REDACTED in views


@pytest.mark.timeout(120)
async def test_after_withdrawal_a_new_feed_consumer_reads_no_earlier_full_view(
    nc, topology, store, services, service_db
):
    await services("referral", "casefile", "meeting")
    p, platform = Person(), Platform(nc, topology, store)
    ids = await platform.history(p)
    js = nc.jetstream()
    feed = f"{topology.prefix}.feed.hokatsu.>"

    async def agency_saw_the_person() -> bool:
        try:
            msg = await js.get_last_msg(topology.feed_stream,
                                        topology.feed_subject("hokatsu", ids["case_id"], "case"))
        except Exception:
            return False
        return p.name in (msg.data or b"").decode()

    await eventually(agency_saw_the_person, timeout=30)
    await platform.ok("fukushi", "withdraw_consent", case_id=ids["case_id"],
                      consent_id=ids["consent_id"], withdrawn_on=today_jst().isoformat())

    async def redacted() -> bool:
        msg = await js.get_last_msg(topology.feed_stream,
                                    topology.feed_subject("hokatsu", ids["case_id"], "case"))
        return p.name not in (msg.data or b"").decode()

    await eventually(redacted, timeout=30)
    # The agency recreates its consumer from the start of its feed and reads everything.
    sub = await js.pull_subscribe(feed, stream=topology.feed_stream, config=ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL, inactive_threshold=30))
    info = await sub.consumer_info()
    msgs = await sub.fetch(info.num_pending, timeout=5) if info.num_pending else []
    bodies = [(m.data or b"").decode() for m in msgs]
    assert bodies, "the agency's feed is empty"
    assert not [b for b in bodies if p.name in b or p.plan in b], "an earlier full view"
    await sub.unsubscribe()


async def test_dead_letters_about_an_erased_person_are_erased_from_disk(
    nc, topology, nats_server
):
    from services.casefile.erasure import erase_dead_letters

    js = nc.jetstream()
    tag = uuid.uuid4().hex[:8]
    gone, kept = f"鰐淵さんの終結理由{tag}", f"別の人の記録{tag}"
    for case_id, note in (("c-9", gone), ("c-8", kept)):
        await js.publish(topology.dlq_subject("casefile"), json.dumps(
            {"reason": note}, ensure_ascii=False).encode(), headers={
            "Tsunagu-Subject": topology.event_subject("case", case_id, "CaseClosed"),
            "Tsunagu-Error": f"failed: {note}"})
    assert await erase_dead_letters(js, topology, {"p-1", "c-9"}) == 1
    files = b"".join(files_under(Path(nats_server.store_dir) / "jetstream").values())
    assert gone.encode() not in files and kept.encode() in files
