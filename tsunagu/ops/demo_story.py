"""Each fact of the demo's story as the command an agency sends for it (see demo_send).

``Story.tell`` takes one story's facts of one round, in order. Facts the services derive
themselves (the case a triage opens, what a meeting's decision does to a case) send
nothing: the command that causes them does.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from contracts.base import DomainEvent
from contracts.case import CaseOpened, CaseOrigin
from contracts.common import Program, reason_of, text_of
from contracts.consent import ConsentRecorded, consent_text
from contracts.meeting import Decision
from tsunagu.ops.demo import DemoWorld, Item

if TYPE_CHECKING:
    from tsunagu.ops.demo_send import Sender

#: Facts the services record themselves, in reaction to another command.
DERIVED = {"MemberJoined", "PlanTabled", "PlanApproved", "LeadAgencyAssigned", "CaseClosed",
           "CaseSuspended", "CaseReturnedToComprehensive"}
#: Decisions the casefile applies to the case (the story waits for it).
APPLIED = {Decision.approve_plan, Decision.assign_lead, Decision.close, Decision.suspend,
           Decision.return_to_comprehensive}


def directory_csv(events: list[DomainEvent]) -> bytes:
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["機関ID", "機関名", "分類", "確認日", "振り分け", "連絡先"])
    for e in events:
        d = e.model_dump(mode="json")
        rows.writerow([d["agency_id"], d["name"], d["category"], d["verified_at"],
                       "はい" if d["can_triage"] else "いいえ", d.get("contact") or ""])
    return out.getvalue().encode()


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json", exclude_none=True) if value is not None else None


class Story:
    """Tells the world's facts as commands through one ``Sender``."""

    def __init__(self, sender: Sender, world: DemoWorld) -> None:
        self.s = sender
        self.world = world
        self.refs = sender.refs
        self.keys: dict[int, str] = {}
        self.stories: dict[str, list[Item]] = {}
        self.position: dict[int, int] = {}
        #: world case id -> the story (person) it belongs to
        self.case_story: dict[str, str] = {}
        for it in world.items:  # command ids: seed, size, story and place in the story
            told = self.stories.setdefault(it.story, [])
            self.position[it.order] = len(told)
            told.append(it)
            short = it.story.removeprefix("demo-")
            self.keys[it.order] = f"d{world.seed}x{world.people}-{short}-{len(told)}"
            case_id = getattr(it.event, "case_id", None)
            if case_id and not it.story.startswith("demo-mtg"):
                self.case_story.setdefault(case_id, it.story)
        self.first_enrollment: dict[str, str] = {}  # world case id -> its opening enrollment
        self.consumed: set[int] = set()

    def lanes(self, it: Item) -> set[str]:
        """What must be told in world order with this fact: its own story, and for a
        meeting's fact about a case, that case's story (and a move's target meeting)."""
        e: Any = it.event
        lanes = {it.story}
        case_id = getattr(e, "case_id", None)
        if case_id in self.case_story:
            lanes.add(self.case_story[case_id])
        if e.type == "CaseMovedToSupportPlanMeeting":
            lanes.add(f"demo-{e.to_meeting_id}")
        return lanes

    async def tell(self, it: Item) -> None:
        if it.order not in self.consumed and it.event.type not in DERIVED:
            await self.apply(it, self.stories[it.story][self.position[it.order] + 1:])

    async def send(self, it: Item, command: str, agency: str | None = None,
                   **body: Any) -> dict[str, Any]:
        body["occurred_at"] = it.when.isoformat()
        return await self.s.send(agency or it.actor, command, body, self.keys[it.order])

    async def apply(self, it: Item, later: list[Item]) -> None:
        e: Any = it.event
        handler = getattr(self, f"on_{e.type}", None)
        if handler is None:
            raise ValueError(f"the demo has no command for {e.type}")
        await handler(it, e, later)

    def ref(self, world_id: str | None) -> str | None:
        return None if world_id is None else self.refs[world_id]

    # ---- referrals and cases ---------------------------------------------------------
    async def on_ReferralSubmitted(self, it: Item, e: Any, later: list[Item]) -> None:
        reply = await self.send(
            it, "submit_referral", contact_route=e.contact_route, concerns=e.concerns,
            suspected_abuse=e.suspected_abuse, sex=e.sex, age_band=e.age_band,
            personal=_dump(e.personal))
        self.refs[e.referral_id] = reply["ids"]["referral_id"]

    async def on_ReferralWithdrawn(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "withdraw_referral", referral_id=self.ref(e.referral_id),
                        reason=reason_of(e))

    async def on_ReferralTriaged(self, it: Item, e: Any, later: list[Item]) -> None:
        reply = await self.send(
            it, "triage_referral", referral_id=self.ref(e.referral_id), outcome=e.outcome,
            triaged_on=e.triaged_on, assigned_agency=e.assigned_agency,
            reason=reason_of(e) if e.outcome.value == "returned" else None)
        if e.case_id:
            await self._opened(e.case_id, reply)

    async def _opened(self, world_case: str, reply: dict[str, Any]) -> None:
        self.refs[world_case] = reply["ids"]["case_id"]
        [started] = await self.s.created(reply, "EnrollmentStarted")
        self.first_enrollment[world_case] = started.enrollment_id  # type: ignore[attr-defined]

    async def on_CaseOpened(self, it: Item, e: CaseOpened, later: list[Item]) -> None:
        if e.origin is CaseOrigin.triage:
            return  # opened by the triage
        enrollment = next(x.event for x in later if x.event.type == "EnrollmentStarted")
        program = Program.outreach if e.origin is CaseOrigin.outreach else Program.participation
        reply = await self.send(
            it, "open_case", program=program, subject=_dump(e.subject), opened_on=e.opened_on,
            sex=e.sex, age_band=e.age_band, personal=_dump(e.personal),
            reason=getattr(enrollment, "reason", None))
        await self._opened(e.case_id, reply)

    async def on_EnrollmentStarted(self, it: Item, e: Any, later: list[Item]) -> None:
        opening = self.first_enrollment.pop(e.case_id, None)
        if opening is not None:  # started with the case
            self.refs[e.enrollment_id] = opening
            return
        reply = await self.send(it, "start_enrollment", case_id=self.ref(e.case_id),
                                program=e.program, started_on=e.started_on, reason=reason_of(e))
        [started] = await self.s.created(reply, "EnrollmentStarted")
        self.refs[e.enrollment_id] = started.enrollment_id  # type: ignore[attr-defined]

    async def on_EnrollmentEnded(self, it: Item, e: Any, later: list[Item]) -> None:
        if e.enrollment_id not in self.refs or reason_of(e) == "終結":
            return  # ended by the case's closure
        await self.send(it, "end_enrollment", case_id=self.ref(e.case_id),
                        enrollment_id=self.ref(e.enrollment_id), ended_on=e.ended_on,
                        reason=reason_of(e))

    async def on_ApplicationRecorded(self, it: Item, e: Any, later: list[Item]) -> None:
        scope = None
        if e.with_consent:  # the consent given with the application
            given = next(x for x in later if isinstance(x.event, ConsentRecorded))
            self.consumed.add(given.order)
            c: Any = given.event
            scope = {"agencies": c.agencies, "purposes": _purposes(c), "method": c.method,
                     "given_on": c.given_on, "valid_until": c.valid_until,
                     **_obtained(c)}
        reply = await self.send(it, "record_application", case_id=self.ref(e.case_id),
                                applied_on=e.applied_on, with_consent=e.with_consent,
                                consent=scope)
        if e.with_consent:
            await self._consent(f"{e.case_id}-c1", reply)

    async def _consent(self, world_id: str, reply: dict[str, Any]) -> None:
        [recorded] = await self.s.created(reply, "ConsentRecorded")
        self.refs[world_id] = recorded.consent_id  # type: ignore[attr-defined]

    async def on_ConsentRecorded(self, it: Item, e: Any, later: list[Item]) -> None:
        reply = await self.send(it, "record_consent", case_id=self.ref(e.case_id),
                                agencies=e.agencies, purposes=_purposes(e), method=e.method,
                                given_on=e.given_on, valid_until=e.valid_until,
                                **_obtained(e))
        await self._consent(e.consent_id, reply)

    async def on_ConsentRefused(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "record_consent_refusal", case_id=self.ref(e.case_id),
                        refused_on=e.refused_on, reason=reason_of(e))

    async def on_ConsentWithdrawn(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "withdraw_consent", case_id=self.ref(e.case_id),
                        consent_id=self.ref(e.consent_id), withdrawn_on=e.withdrawn_on,
                        reason=reason_of(e))

    async def on_IntakeAssessmentRecorded(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "record_intake_assessment", case_id=self.ref(e.case_id),
                        assessed_on=e.assessed_on, national_items=e.national_items,
                        personal=_dump(e.personal))

    async def on_PlanDrafted(self, it: Item, e: Any, later: list[Item]) -> None:
        reply = await self.send(
            it, "draft_plan", case_id=self.ref(e.case_id),
            plan_id=self.ref(e.plan_id) if e.version > 1 else None, program=e.program,
            drafted_on=e.drafted_on, roles=[_dump(r) for r in e.roles],
            monitoring_on=e.monitoring_on, personal=_dump(e.personal))
        [drafted] = await self.s.created(reply, "PlanDrafted")
        self.refs[e.plan_id] = drafted.plan_id  # type: ignore[attr-defined]

    async def on_MonitoringRecorded(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "record_monitoring", case_id=self.ref(e.case_id),
                        recorded_on=e.recorded_on, next_monitoring_on=e.next_monitoring_on,
                        personal=_dump(e.personal))

    async def on_CaseReopened(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "reopen_case", case_id=self.ref(e.case_id),
                        reopened_on=e.reopened_on, reason=reason_of(e))

    # ---- meetings --------------------------------------------------------------------
    async def on_MeetingScheduled(self, it: Item, e: Any, later: list[Item]) -> None:
        reply = await self.send(it, "schedule_meeting", kind=e.kind,
                                scheduled_for=e.scheduled_for.isoformat(),
                                members=e.members, title=text_of(e, "title"))
        self.refs[e.meeting_id] = reply["ids"]["meeting_id"]

    async def on_ConfidentialityAcknowledged(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "acknowledge_confidentiality", agency=e.agency_id,
                        meeting_id=self.ref(e.meeting_id))

    async def on_MemberInvited(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "invite_member", meeting_id=self.ref(e.meeting_id),
                        agency_id=e.agency_id)

    async def on_CaseTabled(self, it: Item, e: Any, later: list[Item]) -> None:
        reply = await self.send(it, "table_case", meeting_id=self.ref(e.meeting_id),
                                case_id=self.ref(e.case_id), asks=e.asks,
                                plan_id=self.ref(e.plan_id), plan_version=e.plan_version)
        await self._tabled(e, reply)

    async def _tabled(self, e: Any, reply: dict[str, Any]) -> None:
        [tabled] = await self.s.created(reply, "CaseTabled")
        self.refs[e.item_id] = tabled.item_id  # type: ignore[attr-defined]
        if e.plan_id is not None:  # the casefile records the plan as tabled
            await self.s.await_reaction(self.refs[e.case_id], reply, "CaseTabled")

    async def on_CaseMovedToSupportPlanMeeting(self, it: Item, e: Any, later: list[Item]
                                               ) -> None:
        target = self.world.moved_items[e.item_id].tabled
        reply = await self.send(
            it, "move_case_to_support_plan_meeting", meeting_id=self.ref(e.meeting_id),
            item_id=self.ref(e.item_id), to_meeting_id=self.ref(e.to_meeting_id),
            asks=target.asks, plan_id=self.ref(target.plan_id),
            plan_version=target.plan_version)
        await self._tabled(target, reply)

    async def on_MeetingHeld(self, it: Item, e: Any, later: list[Item]) -> None:
        items = [{"item_id": self.ref(a.item_id), "agencies": a.agencies}
                 for a in e.item_attendance or () if a.item_id in self.refs]
        await self.send(it, "record_meeting_held", meeting_id=self.ref(e.meeting_id),
                        held_on=e.held_on, attendees=e.attendees, item_attendees=items)

    async def on_DecisionRecorded(self, it: Item, e: Any, later: list[Item]) -> None:
        reply = await self.send(it, "record_decision", meeting_id=self.ref(e.meeting_id),
                                item_id=self.ref(e.item_id), decision=e.decision,
                                reason=reason_of(e), lead_agency=e.lead_agency)
        if e.decision in APPLIED:
            await self.s.await_reaction(self.refs[e.case_id], reply, "DecisionRecorded")

    async def on_ResourceGapRecorded(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "record_resource_gap", meeting_id=self.ref(e.meeting_id),
                        description=text_of(e, "description"))

    async def on_MinutesRecorded(self, it: Item, e: Any, later: list[Item]) -> None:
        await self.send(it, "record_minutes", meeting_id=self.ref(e.meeting_id),
                        text=e.personal.text)


def _purposes(consent: Any) -> tuple[str, ...]:
    text = consent_text(consent)
    return text.purposes if text else ()


def _obtained(consent: Any) -> dict[str, Any]:
    """Who obtained a consent and its signed form: the rules require both (written)."""
    text = consent_text(consent)
    staff = (text.obtained_by_staff if text else None) or "相談支援員（デモ）"
    form = text.form_ref if text else None
    if form is None and getattr(consent, "method", None) == "written":
        form = f"同意書-{consent.given_on:%Y%m%d}"
    return {"obtained_by_staff": staff, "form_ref": form}
