"""`tsunagu demo`: a realistic, deterministic demo history appended straight to the stream.

Services are not involved (each builds its projections from the stream as usual): the
demo writes well-formed contract events with the kit — personal blocks sealed, new
aggregates appended with expected sequence 0, every batch atomic (≤ 1,000 events). The
same seed gives the same events with the same ids, so a second run finds them present and
appends nothing.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from nats.aio.client import Client

from contracts.base import Actor, DomainEvent
from contracts.case import (
    AssessmentPersonal,
    CaseClosed,
    CaseOpened,
    CaseOrigin,
    CaseReopened,
    CaseReturnedToComprehensive,
    CaseSuspended,
    EnrollmentEnded,
    EnrollmentStarted,
    IntakeAssessmentRecorded,
    LeadAgencyAssigned,
    MemberJoined,
    MembershipReason,
    MonitoringPersonal,
    MonitoringRecorded,
    PlanApproved,
    PlanDrafted,
    PlanPersonal,
    PlanRole,
    PlanTabled,
    SubjectPersonal,
)
from contracts.common import (
    AgeBand,
    Concern,
    FreeText,
    Program,
    Sex,
    SubjectRef,
    age_band_for_age,
    age_on,
)
from contracts.consent import (
    ApplicationRecorded,
    ConsentMethod,
    ConsentRecorded,
    ConsentRefused,
    ConsentWithdrawn,
)
from contracts.directory import AgencyRegistered
from contracts.envelope import Envelope
from contracts.meeting import (
    Ask,
    CaseMovedToSupportPlanMeeting,
    CaseTabled,
    ConfidentialityAcknowledged,
    Decision,
    DecisionRecorded,
    MeetingHeld,
    MeetingKind,
    MeetingScheduled,
    MemberInvited,
    MinutesPersonal,
    MinutesRecorded,
    ResourceGapRecorded,
)
from contracts.referral import (
    ContactRoute,
    HouseholdMember,
    ReferralPersonal,
    ReferralSubmitted,
    ReferralTriaged,
    ReferralWithdrawn,
    TriageOutcome,
)
from eventstore.codec import new_envelope
from eventstore.crypto import KeyRing
from eventstore.errors import ConcurrencyConflict
from eventstore.store import DuplicateAppend, EventStore
from eventstore.topology import Topology
from tsunagu.ops import demo_world as W

JST = timezone(timedelta(hours=9))
BATCH = 1000


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST)


@dataclass
class Item:
    when: datetime
    order: int
    event: DomainEvent
    actor: str
    story: str


@dataclass
class Meeting:
    meeting_id: str
    kind: MeetingKind
    held_on: date
    members: tuple[str, ...]
    items: list[tuple[datetime, CaseTabled, DecisionRecorded]] = field(default_factory=list)
    invited: list[tuple[datetime, str]] = field(default_factory=list)
    moved: list[tuple[datetime, CaseMovedToSupportPlanMeeting]] = field(default_factory=list)


class DemoWorld:
    """Generates the whole history in memory, ordered by world time."""

    def __init__(self, seed: int = 7, people: int = 200) -> None:
        self.rng = random.Random(seed)
        self.people = people
        self.items: list[Item] = []
        self._order = 0
        self.meetings: dict[tuple[str, int, int], Meeting] = {}
        self.counts: dict[str, int] = {}

    # ----- plumbing ------------------------------------------------------------------
    def emit(self, when: datetime, event: DomainEvent, actor: str, story: str) -> bool:
        if when.date() > W.END:
            return False  # the world has not got there yet
        self._order += 1
        self.items.append(Item(when, self._order, event, actor, story))
        return True

    def meeting(self, kind: MeetingKind, year: int, month: int) -> Meeting:
        key = (kind.value, year, month)
        if key not in self.meetings:
            short = "sp" if kind is MeetingKind.support_plan else "cf"
            held = (W.third_wednesday if kind is MeetingKind.support_plan
                    else W.second_tuesday)(year, month)
            self.meetings[key] = Meeting(f"mtg-{short}-{year}{month:02d}", kind, held,
                                         W.CORE_MEMBERS)
        return self.meetings[key]

    def next_meeting(self, kind: MeetingKind, after: date) -> Meeting:
        y, m = after.year, after.month
        for _ in range(24):
            mtg = self.meeting(kind, y, m)
            if mtg.held_on >= after + timedelta(days=3):
                return mtg
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        raise AssertionError("no meeting found")

    def table(
        self, case_id: str, kind: MeetingKind, ready: date, ask: Ask, decision: Decision,
        reason: str, *, plan: tuple[str, int] | None = None, lead: str | None = None,
        program: Program | None = None, invite: tuple[str, ...] = (),
    ) -> tuple[Meeting, CaseTabled, DecisionRecorded]:
        mtg = self.next_meeting(kind, ready)
        n = len(mtg.items) + 1
        item_id = f"{mtg.meeting_id}-i{n:02d}"
        tabled = CaseTabled(
            meeting_id=mtg.meeting_id, item_id=item_id, case_id=case_id, asks=(ask,),
            plan_id=plan[0] if plan else None, plan_version=plan[1] if plan else None,
            program=program,
        )
        decided = DecisionRecorded(
            meeting_id=mtg.meeting_id, decision_id=f"{item_id}-d", item_id=item_id,
            case_id=case_id, decision=decision, personal_reason=FreeText(text=reason),
            decided_on=mtg.held_on,
            plan_id=plan[0] if plan else None, plan_version=plan[1] if plan else None,
            lead_agency=lead, program=program,
        )
        when = at(ready + timedelta(days=1), 11, n % 60)
        mtg.items.append((when, tabled, decided))
        for agency in invite:
            if agency not in mtg.members and agency not in [a for _, a in mtg.invited]:
                mtg.invited.append((when, agency))
        return mtg, tabled, decided

    # ----- the world -----------------------------------------------------------------
    def build(self) -> list[Item]:
        for agency_id, name, category, triage in W.AGENCIES:
            verified = date(2024, 3, 15) if self.rng.random() < 0.1 else date(2025, 4, 1)
            self.emit(at(W.START - timedelta(days=30), 9), AgencyRegistered(
                agency_id=agency_id, name=name, category=category, verified_at=verified,
                can_triage=triage,
                contact=f"0{self.rng.randint(100, 999)}-00-{self.rng.randint(1000, 9999)}",
            ), "ops", "directory")
        span = (W.END - W.START).days - 10
        for i in range(1, self.people + 1):
            start = W.START + timedelta(days=self.rng.randint(0, span))
            if i % 13 == 0:
                self.outreach_first(i, start)
            else:
                self.referral(i, start)
        for i, agency in enumerate(W.PARTICIPATION_AGENCIES * 2, start=1):
            self.participation_for_agency(i, agency)
        self.emit_meetings()
        self.items.sort(key=lambda it: (it.when, it.order))
        for it in self.items:
            self.counts[it.event.type] = self.counts.get(it.event.type, 0) + 1
        return self.items

    def person(self, i: int) -> tuple[str, Sex, date, ReferralPersonal]:
        r = self.rng
        sex = r.choices([Sex.male, Sex.female, Sex.unknown], [48, 48, 4])[0]
        age = r.choice([r.randint(14, 19), r.randint(20, 39), r.randint(40, 64),
                        r.randint(65, 90)])
        birth = date(2025 - age, r.randint(1, 12), r.randint(1, 28))
        if i % 50 == 0:
            birth = date(1964, 2, 29)  # a leap-day birthday on the 60-64 band boundary
        f = r.randrange(len(W.FAMILY))
        given, kana = r.choice(W.GIVEN_M if sex is Sex.male else W.GIVEN_F)
        personal = ReferralPersonal(
            name=f"{W.FAMILY[f]} {given}", kana=f"{W.FAMILY_KANA[f]} {kana}", birth_date=birth,
            address=(f"{r.choice(W.TOWNS)}{r.randint(1, 5)}丁目"
                     f"{r.randint(1, 30)}-{r.randint(1, 20)}"),
            phone=f"090-{r.randint(1000, 9999)}-{r.randint(1000, 9999)}",
            household=(HouseholdMember(relation=r.choice(["母", "父", "子", "配偶者"])),),
            summary=r.choice(W.SITUATIONS),
            contact_note="日中は在宅" if r.random() < 0.7 else None,
        )
        return f"p-{i:04d}", sex, birth, personal

    def referral(self, i: int, day: date) -> None:
        r = self.rng
        person_id, sex, birth, personal = self.person(i)
        ref_id, story = f"ref-{i:04d}", f"demo-{i:04d}"
        referrer = r.choice(W.REFERRERS)
        coordinator = r.choice(W.COORDINATORS)
        abuse = r.random() < 0.05
        band = age_band_for_age(age_on(birth, day)) if r.random() < 0.8 else AgeBand.unknown
        concerns = tuple(sorted(set(r.sample(list(Concern), r.randint(1, 3))),
                                key=lambda c: c.value))
        if abuse:
            concerns = tuple(sorted({*concerns, Concern.abuse_dv}, key=lambda c: c.value))
        self.emit(at(day, 9, 30), ReferralSubmitted(
            referral_id=ref_id, person_id=person_id, referring_agency=referrer,
            contact_route=r.choice(list(ContactRoute)), concerns=concerns,
            suspected_abuse=abuse, sex=sex, age_band=band, personal=personal,
        ), referrer, story)
        roll = r.random()
        triaged = day + timedelta(days=r.randint(2, 10))
        if roll < 0.04:
            return  # still waiting for triage
        if roll < 0.06:
            self.emit(at(triaged), ReferralWithdrawn(
                referral_id=ref_id, reason="本人が他市へ転居したため"), referrer, story)
            return
        if abuse:
            self.emit(at(triaged), ReferralTriaged(
                referral_id=ref_id, outcome=TriageOutcome.abuse_response, triaged_by=coordinator,
                person_id=person_id, reason="虐待の疑いがあるため虐待対応へ"), coordinator, story)
            return
        if roll < 0.12:
            self.emit(at(triaged), ReferralTriaged(
                referral_id=ref_id, outcome=TriageOutcome.returned, triaged_by=coordinator,
                person_id=person_id, reason="本人の状況の記載が不足しているため"),
                coordinator, story)
            return
        if roll < 0.26:
            self.emit(at(triaged), ReferralTriaged(
                referral_id=ref_id, outcome=TriageOutcome.ordinary, triaged_by=coordinator,
                assigned_agency=r.choice(W.SUPPORTERS), person_id=person_id,
                reason="単独の機関で対応できるため"), coordinator, story)
            return
        case_id = f"case-{i:04d}"
        self.emit(at(triaged), ReferralTriaged(
            referral_id=ref_id, outcome=TriageOutcome.complex, triaged_by=coordinator,
            case_id=case_id, person_id=person_id, reason="複合的な課題があるため"),
            coordinator, story)
        self.emit(at(triaged, 10, 1), CaseOpened(
            case_id=case_id, subject=SubjectRef(person_id=person_id), referral_id=ref_id,
            origin=CaseOrigin.triage, opened_on=triaged, coordinator=coordinator, sex=sex,
            age_band=band), coordinator, story)
        for how, agency in ((MembershipReason.triage, coordinator),
                            (MembershipReason.referral, referrer)):
            if how is MembershipReason.referral and agency == coordinator:
                continue
            self.emit(at(triaged, 10, 2), MemberJoined(
                case_id=case_id, agency_id=agency, joined_on=triaged, how=how),
                coordinator, story)
        self.emit(at(triaged, 10, 3), EnrollmentStarted(
            case_id=case_id, enrollment_id=f"{case_id}-ma", program=Program.multi_agency,
            subject=SubjectRef(person_id=person_id), started_on=triaged), coordinator, story)
        self.case_story(i, case_id, person_id, coordinator, triaged, story)

    def outreach_first(self, i: int, day: date) -> None:
        """Outreach met the person before 多機関協働 was involved."""
        person_id, sex, birth, personal = self.person(i)
        case_id, story = f"case-{i:04d}", f"demo-{i:04d}"
        coordinator = "ag-shakyo"
        self.emit(at(day), CaseOpened(
            case_id=case_id, subject=SubjectRef(person_id=person_id), origin=CaseOrigin.outreach,
            opened_on=day, coordinator=coordinator, sex=sex,
            age_band=age_band_for_age(age_on(birth, day)),
            personal=SubjectPersonal(name=personal.name, kana=personal.kana, birth_date=birth,
                                     address=personal.address),
        ), coordinator, story)
        self.emit(at(day, 10, 1), MemberJoined(
            case_id=case_id, agency_id=coordinator, joined_on=day, how=MembershipReason.triage),
            coordinator, story)
        self.emit(at(day, 10, 2), EnrollmentStarted(
            case_id=case_id, enrollment_id=f"{case_id}-out", program=Program.outreach,
            subject=SubjectRef(person_id=person_id), started_on=day,
            personal_reason=FreeText(text="訪問で把握（アウトリーチ先行）")), coordinator, story)
        if self.rng.random() < 0.6:
            joined = day + timedelta(days=self.rng.randint(20, 90))
            self.emit(at(joined), EnrollmentStarted(
                case_id=case_id, enrollment_id=f"{case_id}-ma", program=Program.multi_agency,
                subject=SubjectRef(person_id=person_id), started_on=joined), coordinator, story)
            self.case_story(i, case_id, person_id, coordinator, joined, story,
                            has_outreach=True)

    def case_story(self, i: int, case_id: str, person_id: str, coordinator: str, opened: date,
                   story: str, has_outreach: bool = False) -> None:
        r = self.rng
        applied = opened + timedelta(days=r.randint(3, 20))
        with_consent = r.random() < 0.75
        if not self.emit(at(applied), ApplicationRecorded(
            case_id=case_id, person_id=person_id, applied_on=applied, with_consent=with_consent),
            coordinator, story):
            return
        members = [coordinator]
        consent_id = f"{case_id}-c1"
        if with_consent:
            self.consent(case_id, consent_id, person_id, coordinator, applied, members, story)
        elif r.random() < 0.5:
            self.emit(at(applied, 10, 5), ConsentRefused(
                case_id=case_id, person_id=person_id, refused_on=applied,
                personal_reason=FreeText(text="情報共有を望まないため")), coordinator, story)
        assessed = applied + timedelta(days=r.randint(5, 20))
        if not self.emit(at(assessed, 13), IntakeAssessmentRecorded(
            case_id=case_id, assessment_id=f"{case_id}-a1", assessed_on=assessed,
            assessed_by=coordinator,
            personal=AssessmentPersonal(situation=r.choice(W.SITUATIONS),
                                        outlook="関係機関で役割を分担し、継続的に支援する"),
        ), coordinator, story):
            return
        ready = assessed
        if not with_consent:
            mtg, _, decided = self.table(
                case_id, MeetingKind.confidential, assessed, Ask.share_information,
                Decision.information_shared, "支援会議で情報を共有し、見守りを続ける")
            if r.random() > 0.35 or mtg.held_on > W.END:
                return  # stays at 支援会議 (no consent, no plan)
            consented = mtg.held_on + timedelta(days=r.randint(10, 60))
            if not self.consent(case_id, consent_id, person_id, coordinator, consented, members,
                                story):
                return
            target = self.next_meeting(MeetingKind.support_plan, consented + timedelta(days=10))
            mtg.moved.append((at(consented, 16), CaseMovedToSupportPlanMeeting(
                meeting_id=mtg.meeting_id, item_id=decided.item_id, case_id=case_id,
                to_meeting_id=target.meeting_id)))
            ready = consented + timedelta(days=7)
        approved = self.plan(case_id, coordinator, ready, members, story, version=1)
        if approved is None:
            return
        self.monitor(case_id, approved, members, story)
        if r.random() < 0.25 and not has_outreach:
            self.enroll(case_id, person_id, Program.outreach, approved, coordinator, story)
        if r.random() < 0.25:
            self.enroll(case_id, person_id, Program.participation, approved, coordinator, story)
        if r.random() < 0.1:
            approved = self.plan(case_id, coordinator, approved + timedelta(days=90), members,
                                 story, version=2) or approved
        if r.random() < 0.04:
            self.emit(at(approved + timedelta(days=30)), ConsentWithdrawn(
                case_id=case_id, consent_id=consent_id,
                withdrawn_on=approved + timedelta(days=30),
                personal_reason=FreeText(text="本人の申し出")),
                coordinator, story)
            return
        self.ending(case_id, coordinator, approved + timedelta(days=r.randint(120, 300)), story)

    def consent(self, case_id: str, consent_id: str, person_id: str, coordinator: str,
                day: date, members: list[str], story: str) -> bool:
        agencies = tuple(dict.fromkeys([*members, *self.rng.sample(W.SUPPORTERS, 3)]))
        return self.emit(at(day, 10, 5), ConsentRecorded(
            case_id=case_id, consent_id=consent_id, person_id=person_id, agencies=agencies,
            purposes=("支援の検討と関係機関での情報共有",),
            method=self.rng.choice(list(ConsentMethod)), obtained_by=coordinator,
            # Valid past the demo's end, so later meetings about the case stay covered.
            given_on=day, valid_until=day + timedelta(days=1100)), coordinator, story)

    def plan(self, case_id: str, coordinator: str, ready: date, members: list[str], story: str,
             version: int) -> date | None:
        r = self.rng
        plan_id = f"{case_id}-plan"
        drafted = ready + timedelta(days=r.randint(2, 10))
        agencies = dict.fromkeys([coordinator, *r.sample(W.SUPPORTERS, r.randint(1, 3))])
        roles = tuple(PlanRole(agency_id=a, role=r.choice(W.ROLES), frequency="月1回")
                      for a in agencies)
        if not self.emit(at(drafted, 14), PlanDrafted(
            case_id=case_id, plan_id=plan_id, version=version, program=Program.multi_agency,
            drafted_by=coordinator, drafted_on=drafted, roles=roles,
            monitoring_on=drafted + timedelta(days=90),
            personal=PlanPersonal(long_term_goal=r.choice(W.GOALS),
                                  short_term_goals=tuple(r.sample(W.SHORT_GOALS, 2)),
                                  direction="本人の意向を尊重し、関係機関で役割を分担する"),
        ), coordinator, story):
            return None
        lead = roles[min(1, len(roles) - 1)].agency_id
        mtg, tabled, decided = self.table(
            case_id, MeetingKind.support_plan, drafted, Ask.approve_plan, Decision.approve_plan,
            "プランの内容が適切であるため承認", plan=(plan_id, version),
            program=Program.multi_agency, invite=tuple(role.agency_id for role in roles))
        self.emit(at(drafted + timedelta(days=1), 11, 30), PlanTabled(
            case_id=case_id, plan_id=plan_id, version=version, meeting_id=mtg.meeting_id,
            item_id=tabled.item_id), coordinator, story)
        held = mtg.held_on
        if not self.emit(at(held, 15, 30), PlanApproved(
            case_id=case_id, plan_id=plan_id, version=version, program=Program.multi_agency,
            meeting_id=mtg.meeting_id, decision_id=decided.decision_id, approved_on=held),
            W.CORE_MEMBERS[0], story):
            return None
        for role in roles:
            if role.agency_id not in members:
                members.append(role.agency_id)
                self.emit(at(held, 15, 31), MemberJoined(
                    case_id=case_id, agency_id=role.agency_id, joined_on=held,
                    how=MembershipReason.plan_role), W.CORE_MEMBERS[0], story)
        if version == 1:
            _, _, lead_decision = self.table(
                case_id, MeetingKind.support_plan, drafted, Ask.assign_lead,
                Decision.assign_lead, "主担当を決定", lead=lead)
            self.emit(at(held, 15, 32), LeadAgencyAssigned(
                case_id=case_id, agency_id=lead, meeting_id=mtg.meeting_id,
                decision_id=lead_decision.decision_id, assigned_on=held),
                W.CORE_MEMBERS[0], story)
        return held

    def monitor(self, case_id: str, approved: date, members: list[str], story: str) -> None:
        day = approved
        for n in range(1, 4):
            day = day + timedelta(days=self.rng.randint(45, 100))
            by = members[min(1, len(members) - 1)]
            if not self.emit(at(day, 16), MonitoringRecorded(
                case_id=case_id, monitoring_id=f"{case_id}-m{n}", recorded_on=day,
                recorded_by=by, next_monitoring_on=day + timedelta(days=60),
                personal=MonitoringPersonal(progress="面談を継続。生活状況は少しずつ安定している。"),
            ), by, story):
                return

    def enroll(self, case_id: str, person_id: str, program: Program, after: date,
               coordinator: str, story: str) -> None:
        started = after + timedelta(days=self.rng.randint(5, 60))
        short = "out" if program is Program.outreach else "pa"
        enrollment = f"{case_id}-{short}"
        if self.emit(at(started, 11), EnrollmentStarted(
            case_id=case_id, enrollment_id=enrollment, program=program,
            subject=SubjectRef(person_id=person_id), started_on=started), coordinator, story) \
                and self.rng.random() < 0.4:
            ended = started + timedelta(days=self.rng.randint(60, 200))
            self.emit(at(ended, 11), EnrollmentEnded(
                case_id=case_id, enrollment_id=enrollment, program=program, ended_on=ended,
                personal_reason=FreeText(text="目標を達成したため")), coordinator, story)

    def ending(self, case_id: str, coordinator: str, ready: date, story: str) -> None:
        r = self.rng
        roll = r.random()
        if roll < 0.45:
            mtg, _, d = self.table(case_id, MeetingKind.support_plan, ready, Ask.close,
                                   Decision.close, r.choice(W.CLOSE_REASONS))
            if self.emit(at(mtg.held_on, 15, 40), CaseClosed(
                case_id=case_id, closed_on=mtg.held_on, meeting_id=mtg.meeting_id,
                decision_id=d.decision_id, personal_reason=d.personal_reason),
                W.CORE_MEMBERS[0], story):
                for suffix, program in (("ma", Program.multi_agency),):
                    self.emit(at(mtg.held_on, 15, 41), EnrollmentEnded(
                        case_id=case_id, enrollment_id=f"{case_id}-{suffix}", program=program,
                        ended_on=mtg.held_on, reason="終結"), W.CORE_MEMBERS[0], story)
                if r.random() < 0.1:
                    back = mtg.held_on + timedelta(days=r.randint(30, 120))
                    self.emit(at(back), CaseReopened(
                        case_id=case_id, reopened_on=back,
                        personal_reason=FreeText(text="生活状況が再び不安定になったため")),
                        coordinator, story)
        elif roll < 0.55:
            mtg, _, d = self.table(case_id, MeetingKind.support_plan, ready, Ask.suspend,
                                   Decision.suspend, r.choice(W.SUSPEND_REASONS))
            self.emit(at(mtg.held_on, 15, 40), CaseSuspended(
                case_id=case_id, suspended_on=mtg.held_on, meeting_id=mtg.meeting_id,
                decision_id=d.decision_id, personal_reason=d.personal_reason),
                W.CORE_MEMBERS[0], story)
        elif roll < 0.62:
            lead = "ag-houkatsu-chuo"
            mtg, _, d = self.table(case_id, MeetingKind.support_plan, ready,
                                   Ask.return_to_comprehensive, Decision.return_to_comprehensive,
                                   "包括的相談支援で継続して支援するため", lead=lead)
            self.emit(at(mtg.held_on, 15, 40), CaseReturnedToComprehensive(
                case_id=case_id, lead_agency=lead, returned_on=mtg.held_on,
                meeting_id=mtg.meeting_id, decision_id=d.decision_id,
                personal_reason=d.personal_reason),
                W.CORE_MEMBERS[0], story)

    def participation_for_agency(self, i: int, agency: str) -> None:
        """参加支援 consulted by an agency about someone not yet identified (関係機関)."""
        r = self.rng
        day = W.START + timedelta(days=r.randint(0, (W.END - W.START).days - 5))
        case_id, story = f"case-pa-{i:02d}", f"demo-pa-{i:02d}"
        self.emit(at(day), CaseOpened(
            case_id=case_id, subject=SubjectRef(agency_id=agency),
            origin=CaseOrigin.participation, opened_on=day, coordinator="ag-shakyo"),
            "ag-shakyo", story)
        self.emit(at(day, 10, 1), EnrollmentStarted(
            case_id=case_id, enrollment_id=f"{case_id}-pa", program=Program.participation,
            subject=SubjectRef(agency_id=agency), started_on=day,
            personal_reason=FreeText(text="関係機関からの相談（本人未特定）")), "ag-shakyo",
            story)
        if r.random() < 0.5:
            ended = day + timedelta(days=r.randint(30, 150))
            self.emit(at(ended), EnrollmentEnded(
                case_id=case_id, enrollment_id=f"{case_id}-pa", program=Program.participation,
                ended_on=ended, personal_reason=FreeText(text="地域の居場所につないだため")),
                "ag-shakyo", story)

    def emit_meetings(self) -> None:
        for (_, year, month), mtg in sorted(self.meetings.items()):
            self.emit_meeting(mtg, year, month)
        # Meetings with nothing tabled are held too (定例), so every month has both kinds.
        for year, month in W.months(W.START, W.END):
            for kind in MeetingKind:
                key = (kind.value, year, month)
                if key not in self.meetings:
                    self.emit_meeting(self.meeting(kind, year, month), year, month)

    def emit_meeting(self, mtg: Meeting, year: int, month: int) -> None:
        convener = "ag-fukushi-soudan"
        story = f"demo-{mtg.meeting_id}"
        scheduled = date(year, month, 1) - timedelta(days=6)
        title = ("重層的支援会議（定例）" if mtg.kind is MeetingKind.support_plan
                 else "支援会議（定例・非公開）")
        self.emit(at(scheduled, 9), MeetingScheduled(
            meeting_id=mtg.meeting_id, kind=mtg.kind, regular=True,
            series_id=f"series-{mtg.kind.value}", scheduled_for=at(mtg.held_on, 14),
            convened_by=convener, members=mtg.members, title=f"{title} {year}年{month}月",
        ), convener, story)
        if mtg.kind is MeetingKind.confidential:
            for agency in mtg.members:
                self.emit(at(scheduled, 9, 30), ConfidentialityAcknowledged(
                    meeting_id=mtg.meeting_id, agency_id=agency, acknowledged_on=scheduled),
                    agency, story)
        for when, agency in mtg.invited:
            self.emit(when, MemberInvited(meeting_id=mtg.meeting_id, agency_id=agency),
                      convener, story)
        for when, tabled, _ in mtg.items:
            self.emit(when, tabled, convener, story)
        invited = tuple(a for _, a in mtg.invited)
        if not self.emit(at(mtg.held_on, 14), MeetingHeld(
            meeting_id=mtg.meeting_id, held_on=mtg.held_on,
            attendees=tuple(dict.fromkeys([*mtg.members, *invited]))), convener, story):
            return
        for _, _, decided in mtg.items:
            self.emit(at(mtg.held_on, 15), decided, convener, story)
        if mtg.kind is MeetingKind.support_plan and month in (3, 9):
            self.emit(at(mtg.held_on, 15, 50), ResourceGapRecorded(
                meeting_id=mtg.meeting_id, gap_id=f"{mtg.meeting_id}-gap",
                description="ひきこもりの若者が通える日中の居場所が不足している"), convener, story)
        self.emit(at(mtg.held_on, 17), MinutesRecorded(
            meeting_id=mtg.meeting_id, recorded_by=convener,
            personal=MinutesPersonal(text=f"{len(mtg.items)}件を協議した。"),
        ), convener, story)
        for when, moved in mtg.moved:
            self.emit(when, moved, convener, story)


def _event_id(rng: random.Random, when: datetime) -> uuid.UUID:
    """A UUIDv7 from the world time and the seeded random: time-ordered and repeatable."""
    ms = int(when.timestamp() * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) \
        | rng.getrandbits(62)
    return uuid.UUID(int=value)


def envelopes(items: list[Item], seed: int) -> list[Envelope]:
    rng = random.Random(seed * 7919 + 1)
    out = []
    for it in items:
        env = new_envelope(it.event, Actor(agency_id=it.actor, staff="デモ担当"),
                           occurred_at=it.when, correlation_id=it.story)
        eid = _event_id(rng, it.when)
        out.append(env.model_copy(update={"event_id": eid, "causation_id": str(eid)}))
    return out


async def _seal(keyring: KeyRing, env: Envelope) -> Envelope:
    sealed = await keyring.seal_event(env.event)
    return env if sealed is env.event else env.model_copy(update={"event": sealed})


async def _already_there(store: EventStore, batch: list[Envelope],
                         last: dict[tuple[str, str], int]) -> bool:
    """After a conflict: are exactly these events stored (a second run)? Updates ``last``."""
    ids = {env.event_id for env in batch}
    found: set[uuid.UUID] = set()
    for key in {(e.aggregate, e.aggregate_id) for e in batch}:
        history = await store.load(*key)
        last[key] = history.last_seq
        found |= {s.envelope.event_id for s in history.events} & ids
    if found == ids:
        return True
    raise ConcurrencyConflict(
        "the stream already holds other events for the demo's ids (a different --seed or "
        "--people, or real data): load the demo into a fresh data directory",
        details={"present": len(found), "batch": len(ids)},
    )


async def load_demo(nc: Client, topology: Topology, seed: int = 7, people: int = 200,
                    batch: int = BATCH) -> dict[str, Any]:
    started = time.perf_counter()
    world = DemoWorld(seed, people)
    envs = envelopes(world.build(), seed)
    store = EventStore(nc, topology, timeout=30)
    keyring = await KeyRing.open(nc, topology)
    last: dict[tuple[str, str], int] = {}
    appended = skipped = 0
    for start in range(0, len(envs), batch):
        chunk = envs[start:start + batch]
        keys = {(e.aggregate, e.aggregate_id) for e in chunk}
        expected = {k: last.get(k, 0) for k in keys}
        sealed = [await _seal(keyring, e) for e in chunk]
        try:
            seqs = await store.append(sealed, expected)
        except (ConcurrencyConflict, DuplicateAppend):
            await _already_there(store, chunk, last)
            skipped += len(chunk)
            continue
        for env, seq in zip(chunk, seqs, strict=True):
            last[(env.aggregate, env.aggregate_id)] = seq
        appended += len(chunk)
    return {
        "appended": appended, "skipped": skipped, "events": len(envs),
        "agencies": len(W.AGENCIES), "people": people,
        "meetings": len(world.meetings), "by_type": dict(sorted(world.counts.items())),
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
