"""`tsunagu demo`: a realistic, deterministic demo story over two fiscal years.

``DemoWorld`` imagines what happened — agencies, people at every stage, monthly meetings —
as the facts a service would record, in world order. ``tsunagu.ops.demo_send`` then tells
that story to the running services as commands, through the deciders like any agency
would (``load_demo``); nothing here writes to the stream. The same seed gives the same
story and the same command ids, so a second run changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from contracts.base import DomainEvent
from contracts.case import (
    NATIONAL_ASSESSMENT_ITEMS,
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
from contracts.jst import JST
from contracts.meeting import (
    Ask,
    CaseMovedToSupportPlanMeeting,
    CaseTabled,
    ConfidentialityAcknowledged,
    Decision,
    DecisionRecorded,
    ItemAttendance,
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
from tsunagu.ops import demo_world as W

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


#: One ask of an agenda item: (ask, the decision that answers it, reason, lead agency).
Asked = tuple[Ask, Decision, str, str | None]


@dataclass
class Agenda:
    """An item: tabled at ``when`` (or moved in from a 支援会議), with its decisions."""

    when: datetime
    tabled: CaseTabled
    decisions: list[DecisionRecorded]
    moved_in: bool = False
    #: The agencies invited for this case: they attend for this item only.
    invite: tuple[str, ...] = ()


@dataclass
class Meeting:
    meeting_id: str
    kind: MeetingKind
    held_on: date
    members: tuple[str, ...]
    items: list[Agenda] = field(default_factory=list)
    invited: list[tuple[datetime, str]] = field(default_factory=list)
    moved: list[tuple[datetime, CaseMovedToSupportPlanMeeting]] = field(default_factory=list)


class DemoWorld:
    """Generates the whole history in memory, ordered by world time."""

    def __init__(self, seed: int = 7, people: int = 200) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.people = people
        self.items: list[Item] = []
        self._order = 0
        self.meetings: dict[tuple[str, int, int], Meeting] = {}
        self.counts: dict[str, int] = {}
        #: 支援会議 item id -> the agenda item it was moved to.
        self.moved_items: dict[str, Agenda] = {}

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
            self.meetings[key] = Meeting(f"mtg-{short}-{self.meeting_tag}{year}{month:02d}",
                                         kind, held, W.CORE_MEMBERS)
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
        self, case_id: str, kind: MeetingKind, ready: date, asks: list[Asked], *,
        plan: tuple[str, int] | None = None, program: Program | None = None,
        invite: tuple[str, ...] = (), moved: tuple[Meeting, str] | None = None,
    ) -> tuple[Meeting, CaseTabled, list[DecisionRecorded]]:
        """Put the case on the next meeting of ``kind`` (or move it there from the 支援会議
        item ``moved``), asking ``asks``; each is answered by its decision when held."""
        mtg = self.next_meeting(kind, ready)
        n = len(mtg.items) + 1
        item_id = f"{mtg.meeting_id}-i{n:02d}"
        plan_id, version = plan if plan else (None, None)
        tabled = CaseTabled(
            meeting_id=mtg.meeting_id, item_id=item_id, case_id=case_id,
            asks=tuple(a for a, _, _, _ in asks), plan_id=plan_id, plan_version=version,
            program=program,
        )
        decisions = [DecisionRecorded(
            meeting_id=mtg.meeting_id, decision_id=f"{item_id}-d{k}", item_id=item_id,
            case_id=case_id, decision=decision, personal_reason=FreeText(text=reason),
            decided_on=mtg.held_on, plan_id=plan_id, plan_version=version, lead_agency=lead,
            program=program,
        ) for k, (_, decision, reason, lead) in enumerate(asks, start=1)]
        when = at(ready + timedelta(days=1), 11, n % 60)
        mtg.items.append(Agenda(when, tabled, decisions, moved_in=moved is not None,
                                invite=invite))
        if moved is not None:
            source, source_item = moved
            self.moved_items[source_item] = mtg.items[-1]
            source.moved.append((when, CaseMovedToSupportPlanMeeting(
                meeting_id=source.meeting_id, item_id=source_item, case_id=case_id,
                to_meeting_id=mtg.meeting_id)))
        for agency in invite:
            if agency not in mtg.members and agency not in [a for _, a in mtg.invited]:
                mtg.invited.append((when, agency))
        return mtg, tabled, decisions

    # ----- the world -----------------------------------------------------------------
    #: Where person numbers (p-/ref-/case-<first + n>) and participation numbers start,
    #: and whether this world registers the directory: the bench's districts of one city
    #: (bench/history.py) number their own people and meetings and share one directory.
    first_person = 0
    first_participation = 0
    registers_directory = True
    #: Put into meeting ids after the kind (a district's meetings are its own).
    meeting_tag = ""

    def build(self) -> list[Item]:
        if self.registers_directory:
            for agency_id, name, category, triage in W.AGENCIES:
                verified = date(2024, 3, 15) if self.rng.random() < 0.1 else date(2025, 4, 1)
                self.emit(at(W.START - timedelta(days=30), 9), AgencyRegistered(
                    agency_id=agency_id, name=name, category=category, verified_at=verified,
                    can_triage=triage,
                    contact=f"0{self.rng.randint(100, 999)}-00-{self.rng.randint(1000, 9999)}",
                ), "ops", "directory")
        span = (W.END - W.START).days - 10
        for n in range(1, self.people + 1):
            i = self.first_person + n
            start = W.START + timedelta(days=self.rng.randint(0, span))
            if i % 13 == 0:
                self.outreach_first(i, start)
            else:
                self.referral(i, start)
        for j, agency in enumerate(W.PARTICIPATION_AGENCIES * 2, start=1):
            self.participation_for_agency(self.first_participation + j, agency)
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
        route = r.choice(list(ContactRoute))
        if route in (ContactRoute.not_reachable, ContactRoute.via_agency) \
                and not personal.contact_note:  # the sheet says how, or why one cannot
            personal = personal.model_copy(update={"contact_note": "紹介元の機関を通じて連絡する"})
        self.emit(at(day, 9, 30), ReferralSubmitted(
            referral_id=ref_id, person_id=person_id, referring_agency=referrer,
            contact_route=route, concerns=concerns,
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
            assessed_by=coordinator, national_items={
                key: r.choice(values) for key, values in NATIONAL_ASSESSMENT_ITEMS.items()},
            personal=AssessmentPersonal(situation=r.choice(W.SITUATIONS),
                                        outlook="関係機関で役割を分担し、継続的に支援する"),
        ), coordinator, story):
            return
        ready, moved = assessed, None
        if not with_consent:
            mtg, tabled, _ = self.table(
                case_id, MeetingKind.confidential, assessed,
                [(Ask.share_information, Decision.information_shared,
                  "支援会議で情報を共有し、見守りを続ける", None)])
            if r.random() > 0.35 or mtg.held_on > W.END:
                return  # stays at 支援会議 (no consent, no plan)
            consented = mtg.held_on + timedelta(days=r.randint(10, 60))
            if not self.consent(case_id, consent_id, person_id, coordinator, consented, members,
                                story):
                return
            ready, moved = consented + timedelta(days=7), (mtg, tabled.item_id)
        approved = self.plan(case_id, coordinator, ready, members, story, version=1,
                             moved=moved)
        if approved is None:
            return
        first = approved
        if r.random() < 0.1:
            approved = self.plan(case_id, coordinator, approved + timedelta(days=90), members,
                                 story, version=2) or approved
        withdraw = r.random() < 0.04
        end_ready = approved + timedelta(days=r.randint(120, 300))
        # Monitoring and side programmes stay before the ending is tabled (closing ends them).
        self.monitor(case_id, first, members, story, until=end_ready)
        if r.random() < 0.25 and not has_outreach:
            self.enroll(case_id, person_id, Program.outreach, first, coordinator, story, end_ready)
        if r.random() < 0.25:
            self.enroll(case_id, person_id, Program.participation, first, coordinator, story,
                        end_ready)
        if withdraw:
            self.emit(at(first + timedelta(days=30), 17), ConsentWithdrawn(
                case_id=case_id, consent_id=consent_id,
                withdrawn_on=first + timedelta(days=30),
                personal_reason=FreeText(text="本人の申し出")),
                coordinator, story)
            return
        self.ending(case_id, coordinator, end_ready, story)

    def consent(self, case_id: str, consent_id: str, person_id: str, coordinator: str,
                day: date, members: list[str], story: str) -> bool:
        agencies = tuple(dict.fromkeys([*members, *self.rng.sample(W.SUPPORTERS, 3)]))
        return self.emit(at(day, 10, 5), ConsentRecorded(
            case_id=case_id, consent_id=consent_id, person_id=person_id, agencies=agencies,
            purposes=("支援の検討と関係機関での情報共有",),
            method=self.rng.choice(list(ConsentMethod)), obtained_by=coordinator,
            # No end date: later meetings about the case stay covered whenever it is loaded.
            given_on=day, valid_until=None), coordinator, story)

    def plan(self, case_id: str, coordinator: str, ready: date, members: list[str], story: str,
             version: int, moved: tuple[Meeting, str] | None = None) -> date | None:
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
        asks: list[tuple[Ask, Decision, str, str | None]] = [
            (Ask.approve_plan, Decision.approve_plan, "プランの内容が適切であるため承認", None)]
        if version == 1:
            asks.append((Ask.assign_lead, Decision.assign_lead, "主担当を決定", lead))
        mtg, tabled, decisions = self.table(
            case_id, MeetingKind.support_plan, drafted, asks, plan=(plan_id, version),
            program=Program.multi_agency, invite=tuple(role.agency_id for role in roles),
            moved=moved)
        self.emit(at(drafted + timedelta(days=1), 11, 30), PlanTabled(
            case_id=case_id, plan_id=plan_id, version=version, meeting_id=mtg.meeting_id,
            item_id=tabled.item_id), coordinator, story)
        held = mtg.held_on
        if not self.emit(at(held, 15, 30), PlanApproved(
            case_id=case_id, plan_id=plan_id, version=version, program=Program.multi_agency,
            meeting_id=mtg.meeting_id, decision_id=decisions[0].decision_id, approved_on=held),
            W.CORE_MEMBERS[0], story):
            return None
        for role in roles:
            if role.agency_id not in members:
                members.append(role.agency_id)
                self.emit(at(held, 15, 31), MemberJoined(
                    case_id=case_id, agency_id=role.agency_id, joined_on=held,
                    how=MembershipReason.plan_role), W.CORE_MEMBERS[0], story)
        if version == 1:
            self.emit(at(held, 15, 32), LeadAgencyAssigned(
                case_id=case_id, agency_id=lead, meeting_id=mtg.meeting_id,
                decision_id=decisions[1].decision_id, assigned_on=held),
                W.CORE_MEMBERS[0], story)
        return held

    def monitor(self, case_id: str, approved: date, members: list[str], story: str,
                until: date) -> None:
        day = approved
        for n in range(1, 4):
            day = day + timedelta(days=self.rng.randint(45, 100))
            by = members[min(1, len(members) - 1)]
            if day >= until or not self.emit(at(day, 16), MonitoringRecorded(
                case_id=case_id, monitoring_id=f"{case_id}-m{n}", recorded_on=day,
                recorded_by=by, next_monitoring_on=day + timedelta(days=60),
                personal=MonitoringPersonal(progress="面談を継続。生活状況は少しずつ安定している。"),
            ), by, story):
                return

    def enroll(self, case_id: str, person_id: str, program: Program, after: date,
               coordinator: str, story: str, until: date) -> None:
        started = after + timedelta(days=self.rng.randint(5, 60))
        short = "out" if program is Program.outreach else "pa"
        enrollment = f"{case_id}-{short}"
        if self.emit(at(started, 11), EnrollmentStarted(
            case_id=case_id, enrollment_id=enrollment, program=program,
            subject=SubjectRef(person_id=person_id), started_on=started), coordinator, story) \
                and self.rng.random() < 0.4:
            ended = started + timedelta(days=self.rng.randint(60, 200))
            if ended < until:  # otherwise closing the case ends it
                self.emit(at(ended, 11), EnrollmentEnded(
                    case_id=case_id, enrollment_id=enrollment, program=program, ended_on=ended,
                    personal_reason=FreeText(text="目標を達成したため")), coordinator, story)

    def ending(self, case_id: str, coordinator: str, ready: date, story: str) -> None:
        r = self.rng
        roll = r.random()
        if roll < 0.45:
            mtg, _, [d] = self.table(case_id, MeetingKind.support_plan, ready, [
                (Ask.close, Decision.close, r.choice(W.CLOSE_REASONS), None)])
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
            mtg, _, [d] = self.table(case_id, MeetingKind.support_plan, ready, [
                (Ask.suspend, Decision.suspend, r.choice(W.SUSPEND_REASONS), None)])
            self.emit(at(mtg.held_on, 15, 40), CaseSuspended(
                case_id=case_id, suspended_on=mtg.held_on, meeting_id=mtg.meeting_id,
                decision_id=d.decision_id, personal_reason=d.personal_reason),
                W.CORE_MEMBERS[0], story)
        elif roll < 0.62:
            lead = "ag-houkatsu-chuo"
            mtg, _, [d] = self.table(case_id, MeetingKind.support_plan, ready, [
                (Ask.return_to_comprehensive, Decision.return_to_comprehensive,
                 "包括的相談支援で継続して支援するため", lead)])
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
        # Well ahead: every case tabled or moved to it finds it scheduled.
        scheduled = date(year, month, 1) - timedelta(days=45)
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
        for item in mtg.items:
            if not item.moved_in:  # a moved case is put on the agenda by the move itself
                self.emit(item.when, item.tabled, convener, story)
        invited = tuple(a for _, a in mtg.invited)
        # Attendance is per item: the convener for every case, an invitee for its own case.
        per_item = tuple(ItemAttendance(
            item_id=item.tabled.item_id, case_id=item.tabled.case_id,
            agencies=tuple(dict.fromkeys([convener, *item.invite])),
        ) for item in mtg.items)
        if not self.emit(at(mtg.held_on, 14), MeetingHeld(
            meeting_id=mtg.meeting_id, held_on=mtg.held_on,
            attendees=tuple(dict.fromkeys([*mtg.members, *invited])),
            item_attendance=per_item), convener, story):
            return
        for item in mtg.items:
            for decided in item.decisions:
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
