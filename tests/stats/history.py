"""A realistic event history whose truth is seed 004's tables for 2025-11-30 (2024-11-30).

Built from the seed's grids: every counted cell becomes persons with enrollments that are
served in the current window, the prior one, or both — realised in the awkward ways real
data comes: enrolled before the fiscal year and still served, re-enrolled, served in two
programs, two cases for one person, birth dates on band boundaries and on 29 February,
a recorded band contradicted by the birth date, only a recorded band, unknown sex and age,
a sex corrected later, an erased person. Around them, decoys that must not count: enrollments
after D or between the windows, links outside the windows or on cases not served, revised
plans, plans approved outside the windows, meetings not held.

Events are appended directly with the kit (no other service is needed).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from contracts.base import Actor, DomainEvent
from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseOrigin,
    EnrollmentEnded,
    EnrollmentStarted,
    MemberJoined,
    MembershipReason,
    PlanApproved,
    PlanDrafted,
    PlanPersonal,
    PlanRole,
    SubjectPersonal,
)
from contracts.common import AGENCY_CATEGORIES, AgeBand, Concern, Program, Sex, SubjectRef
from contracts.directory import AgencyRegistered, AgencyUpdated
from contracts.envelope import Envelope
from contracts.meeting import Ask, CaseTabled, MeetingHeld, MeetingKind, MeetingScheduled
from contracts.person import PersonDataErased
from contracts.referral import (
    ContactRoute,
    ReferralCorrected,
    ReferralPersonal,
    ReferralSubmitted,
    ReferralTriaged,
    TriageOutcome,
)
from eventstore.codec import new_envelope
from eventstore.crypto import KeyRing
from tests.stats import seed004

JST = timezone(timedelta(hours=9))
D = date(2025, 11, 30)
W = (date(2025, 4, 1), D)
WP = (date(2024, 4, 1), date(2024, 11, 30))
CUR, PRIOR = "cur", "prior"
PROGRAMS = list(Program)
CORE = {  # in every linked set: coordinator, referrers, regular attendees
    "shakyo": "社会福祉協議会",
    "city-fukushi": "その他行政の担当部署",
    "houkatsu-1": "地域包括支援センター",
    "kikan-1": "基幹相談支援センター",
    "jiritsu-1": "自立相談支援機関",
}
DECOYS = [f"decoy{i}" for i in range(8)]
#: Ages that stay in the band for any enrollment start in [2022-04-01, 2025-12-31].
BAND_AGES = {
    AgeBand.under_20: (5, 19), AgeBand.twenties: (20, 29), AgeBand.thirties: (30, 39),
    AgeBand.forties: (40, 49), AgeBand.fifties: (50, 59), AgeBand.sixty_to_64: (60, 64),
    AgeBand.over_65: (65, 95),
}
FIRST_START, LAST_START = date(2022, 4, 1), date(2025, 12, 31)


def in_window(day: date, w: tuple[date, date]) -> bool:
    return w[0] <= day <= w[1]


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=JST)


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass
class Slot:
    """One counted person in one program: which cell and which windows."""

    program: Program
    band: AgeBand
    sex: Sex
    kind: str  # "both" | "cur" | "prior"
    special: str | None = None


@dataclass
class Case:
    case_id: str
    programs: set[Program]
    served: dict[Program, set[str]]  # program -> {"cur", "prior"}
    single: bool = True


@dataclass
class Truth:
    persons: dict = field(default_factory=dict)
    agency_subjects: dict = field(default_factory=dict)
    linked: dict = field(default_factory=dict)  # program -> (set cur, set prior)
    categories: dict = field(default_factory=dict)  # agency -> final category
    plans: dict = field(default_factory=dict)
    meetings: dict = field(default_factory=lambda: {"support_plan": [0, 0], "confidential": [0, 0]})
    closed: list = field(default_factory=lambda: [0, 0])
    erased_person: str = ""


class Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[tuple[DomainEvent, datetime, str]] = []
        self.cases: dict[str, Case] = {}
        self.truth = Truth()
        self.n = 0
        self.erase: list[PersonDataErased] = []

    def emit(self, event: DomainEvent, when: date | datetime, actor: str = "shakyo") -> None:
        self.events.append((event, when if isinstance(when, datetime) else at(when), actor))

    def next_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n:05d}"

    def day_in(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def birth_for(self, band: AgeBand) -> date | None:
        if band == AgeBand.unknown:
            return None
        lo, hi = BAND_AGES[band]
        earliest = years_before(LAST_START, hi + 1) + timedelta(days=1)
        latest = years_before(FIRST_START, lo)
        return self.day_in(earliest, latest)

    # ----- directory -------------------------------------------------------------------
    def directory(self) -> list[str]:
        pool = [f"ag{i:03d}" for i in range(230)]
        registered = date(2022, 1, 10)
        for agency_id, category in CORE.items():
            self.emit(AgencyRegistered(agency_id=agency_id, name=agency_id, category=category,
                                       verified_at=date(2025, 4, 1), can_triage=True), registered)
            self.truth.categories[agency_id] = category
        for i, agency_id in enumerate(pool + DECOYS):
            category = AGENCY_CATEGORIES[i % len(AGENCY_CATEGORIES)]
            self.emit(AgencyRegistered(agency_id=agency_id, name=agency_id, category=category,
                                       verified_at=date(2025, 4, 1)), registered)
            self.truth.categories[agency_id] = category
        # Category changes: a later update wins even when an older one arrives after it.
        for agency_id in pool[:12]:
            newer = "医療機関"
            self.emit(AgencyUpdated(agency_id=agency_id, name=agency_id, category=newer,
                                    verified_at=date(2025, 4, 1)), date(2025, 2, 1))
            self.truth.categories[agency_id] = newer
        self.stale_updates = [
            (AgencyUpdated(agency_id=a, name=a, category="警察", verified_at=date(2024, 4, 1)),
             at(date(2024, 6, 1)), "shakyo")
            for a in pool[:3]
        ]
        return pool

    # ----- persons ---------------------------------------------------------------------
    def slots(self) -> dict[Program, list[Slot]]:
        out: dict[Program, list[Slot]] = {}
        for program, grid in seed004.PERSONS.items():
            slots = []
            for (band, sex), (cur, prior) in grid.items():
                both = min(cur, prior) // 2
                slots += [Slot(program, band, sex, "both") for _ in range(both)]
                slots += [Slot(program, band, sex, "cur") for _ in range(cur - both)]
                slots += [Slot(program, band, sex, "prior") for _ in range(prior - both)]
            self.rng.shuffle(slots)
            out[program] = slots
        return out

    def mark_specials(self, slots: dict[Program, list[Slot]]) -> None:
        wanted = [
            (Program.multi_agency, AgeBand.sixty_to_64, Sex.male, "cur", "turns60_on_start"),
            (Program.multi_agency, AgeBand.fifties, Sex.male, "cur", "day_before_60"),
            (Program.multi_agency, AgeBand.twenties, Sex.female, "cur", "turns20_on_start"),
            (Program.multi_agency, AgeBand.under_20, Sex.female, "cur", "day_before_20"),
            (Program.outreach, AgeBand.sixty_to_64, Sex.female, "cur", "feb29_day_before_65"),
            (Program.outreach, AgeBand.over_65, Sex.male, "cur", "feb29_turns65_mar1"),
            (Program.participation, AgeBand.twenties, Sex.male, "both", "feb29_turns20_leap"),
            (Program.participation, AgeBand.under_20, Sex.female, "prior", "feb29_19"),
            (Program.multi_agency, AgeBand.over_65, Sex.female, "cur", "erased"),
            (Program.multi_agency, AgeBand.forties, Sex.female, "cur", "sex_corrected"),
            (Program.multi_agency, AgeBand.fifties, Sex.female, "cur", "band_contradicted"),
            (Program.multi_agency, AgeBand.thirties, Sex.male, "both", "reenrolled"),
            (Program.outreach, AgeBand.forties, Sex.male, "both", "reenrolled"),
            (Program.multi_agency, AgeBand.over_65, Sex.male, "cur", "two_cases"),
            (Program.multi_agency, AgeBand.fifties, Sex.male, "both", "before_prior_fy"),
            (Program.outreach, AgeBand.over_65, Sex.male, "both", "before_prior_fy"),
        ]
        for program, band, sex, kind, special in wanted:
            slot = next(s for s in slots[program] if (s.band, s.sex, s.kind) == (band, sex, kind)
                        and s.special is None)
            slot.special = special

    def special_birth_and_start(self, special: str) -> tuple[date, date]:
        return {
            "turns60_on_start": (date(1965, 6, 15), date(2025, 6, 15)),
            "day_before_60": (date(1965, 7, 20), date(2025, 7, 19)),
            "turns20_on_start": (date(2005, 4, 10), date(2025, 4, 10)),
            "day_before_20": (date(2005, 9, 1), date(2025, 8, 31)),
            "feb29_day_before_65": (date(1960, 2, 29), date(2025, 2, 28)),
            "feb29_turns65_mar1": (date(1960, 2, 29), date(2025, 3, 1)),
            "feb29_turns20_leap": (date(2004, 2, 29), date(2024, 2, 29)),
            "feb29_19": (date(2004, 2, 29), date(2024, 2, 28)),
        }[special]

    def periods(self, kind: str, i: int) -> list[tuple[date, date | None]]:
        """Enrollment periods for a slot kind, cycling through the awkward variants."""
        r = self.day_in
        variants: list[list[tuple[date, date | None]]]
        if kind == "cur":
            variants = [
                [(r(*W), None)],
                [(r(date(2025, 4, 1), date(2025, 8, 31)), r(date(2025, 9, 1), D))],
                [(r(date(2024, 12, 1), date(2025, 3, 31)), None)],  # before the FY, still served
                [(D, None)],  # starts on D itself
                [(r(date(2024, 12, 1), date(2025, 3, 20)), date(2025, 4, 1))],  # ends on W's day 1
                [(r(*W), r(date(2025, 12, 1), date(2026, 3, 1)))],  # ends after D
            ]
            return variants[i % 6]
        if kind == "prior":
            variants = [
                [(r(*WP), r(date(2024, 12, 1), date(2025, 3, 31)))],
                [(r(date(2023, 4, 1), date(2024, 3, 1)), date(2024, 4, 1))],  # ends on W' day 1
                [(r(date(2024, 4, 1), date(2024, 9, 30)), date(2025, 3, 31))],  # ends before W
                [(r(date(2022, 6, 1), date(2024, 3, 1)), r(date(2024, 6, 1), date(2024, 11, 30)))],
            ]
            return variants[i % 4]
        variants = [
            [(r(date(2022, 4, 1), date(2024, 3, 31)), None)],  # before the prior FY, still served
            [(r(*WP), None)],
            [(r(*WP), r(date(2025, 4, 1), D))],
            [(r(date(2023, 1, 1), date(2024, 3, 31)), date(2025, 4, 1))],
        ]
        return variants[i % 4]

    def person(self, slot: Slot, i: int, partner: Slot | None = None) -> None:
        """One person: sources of sex/age, a case, enrollments (one or two programs)."""
        person_id = self.next_id("p")
        case_id = self.next_id("c")
        programs = [slot.program] + ([partner.program] if partner else [])
        birth: date | None = self.birth_for(slot.band)
        periods = self.periods(slot.kind, i)
        if slot.special == "reenrolled":
            periods = [(self.day_in(date(2024, 4, 10), date(2024, 9, 1)), date(2024, 12, 20)),
                       (self.day_in(date(2025, 4, 10), date(2025, 9, 1)), None)]
        elif slot.special == "before_prior_fy":
            periods = [(date(2022, 5, 9), None)]
        elif slot.special in {"erased", "sex_corrected", "band_contradicted", "two_cases"}:
            periods = [(self.day_in(date(2025, 4, 5), date(2025, 10, 31)), None)]
        elif slot.special:
            birth, start = self.special_birth_and_start(slot.special)
            end = date(2024, 10, 1) if slot.kind == "prior" else None
            periods = [(start, end)]
        variant = i % 3 if slot.band != AgeBand.unknown else 1
        if slot.special:
            variant = 0
        recorded = slot.band if variant in (1, 2) else AgeBand.unknown
        if slot.special == "band_contradicted":
            recorded = AgeBand.forties  # the birth date (50代) wins
        if variant == 1:
            birth = None  # only the recorded band is known
        sex = Sex.unknown if slot.special == "sex_corrected" else slot.sex
        first_start = periods[0][0]
        opened = first_start - timedelta(days=3)
        served = {"both": {CUR, PRIOR}, "cur": {CUR}, "prior": {PRIOR}}[slot.kind]
        case = Case(case_id, set(programs), {p: set(served) for p in programs},
                    single=partner is None and slot.special != "two_cases")
        self.cases[case_id] = case
        if slot.program == Program.outreach and partner is None:
            self.emit(CaseOpened(
                case_id=case_id, subject=SubjectRef(person_id=person_id),
                origin=CaseOrigin.outreach,
                opened_on=opened, coordinator="shakyo", sex=sex, age_band=recorded,
                personal=SubjectPersonal(name="氏名", birth_date=birth),
            ), opened)
        else:
            # The sex-corrected person was first referred as male by mistake.
            first_sex = Sex.male if slot.special == "sex_corrected" else sex
            referral_id = self.referral(person_id, first_sex, recorded, birth, opened, case_id)
            origin = (CaseOrigin.triage if slot.program == Program.multi_agency
                      else CaseOrigin.participation)
            self.emit(CaseOpened(
                case_id=case_id, subject=SubjectRef(person_id=person_id), referral_id=referral_id,
                origin=origin, opened_on=opened, coordinator="shakyo", sex=sex, age_band=recorded,
            ), opened)
            if slot.special == "sex_corrected":
                self.emit(ReferralCorrected(
                    referral_id=referral_id, person_id=person_id, contact_route=ContactRoute.phone,
                    concerns=(Concern.income,), sex=slot.sex, age_band=AgeBand.unknown,
                    personal=ReferralPersonal(summary="訂正", birth_date=birth),
                ), at(opened + timedelta(days=20)))
        enrollment_ids = []
        for program in programs:
            for n, (start, end) in enumerate(periods):
                enrollment_id = self.next_id("e")
                enrollment_ids.append(enrollment_id)
                subject = SubjectRef(person_id=person_id)
                self.emit(EnrollmentStarted(case_id=case_id, enrollment_id=enrollment_id,
                                            program=program, subject=subject,
                                            started_on=start), start)
                if end is not None:
                    self.emit(EnrollmentEnded(case_id=case_id, enrollment_id=enrollment_id,
                                              program=program, ended_on=end, reason="終結"), end)
                if end is not None and n == len(periods) - 1 and program == programs[-1]:
                    self.close(case_id, end)
        if slot.special == "two_cases":  # a second case for the same person: counted once
            second = self.next_id("c")
            self.cases[second] = Case(second, {slot.program}, {slot.program: {CUR}}, single=False)
            start = self.day_in(date(2025, 10, 1), date(2025, 11, 29))
            self.emit(CaseOpened(case_id=second, subject=SubjectRef(person_id=person_id),
                                 origin=CaseOrigin.triage, opened_on=start,
                                 coordinator="shakyo", sex=sex), start)
            self.emit(EnrollmentStarted(case_id=second, enrollment_id=self.next_id("e"),
                                        program=slot.program,
                                        subject=SubjectRef(person_id=person_id),
                                        started_on=start), start)
        if slot.special == "erased":
            self.truth.erased_person = person_id
            self.erase.append(PersonDataErased(
                person_id=person_id, reason="本人の申出", erased_by="operator",
                key_ids=(person_id,), age_bands=dict.fromkeys(enrollment_ids, slot.band),
            ))

    def referral(self, person_id: str, sex: Sex, band: AgeBand, birth: date | None,
                 opened: date, case_id: str) -> str:
        referral_id = self.next_id("r")
        referrer = self.rng.choice(["houkatsu-1", "kikan-1", "jiritsu-1"])
        self.emit(ReferralSubmitted(
            referral_id=referral_id, person_id=person_id, referring_agency=referrer,
            contact_route=ContactRoute.phone, concerns=(Concern.income, Concern.withdrawal),
            sex=sex, age_band=band,
            personal=ReferralPersonal(summary="相談の概要", birth_date=birth),
        ), at(opened - timedelta(days=7)), referrer)
        self.emit(ReferralTriaged(
            referral_id=referral_id, outcome=TriageOutcome.complex, triaged_by="shakyo",
            case_id=case_id, person_id=person_id,
        ), at(opened - timedelta(days=1)))
        return referral_id

    def close(self, case_id: str, on: date) -> None:
        self.emit(CaseClosed(case_id=case_id, closed_on=on, meeting_id="m-close",
                             decision_id=self.next_id("d"), reason="課題が整理された"), on)
        if in_window(on, W):
            self.truth.closed[0] += 1
        if in_window(on, WP):
            self.truth.closed[1] += 1

    def agency_subjects(self, pool: list[str]) -> None:
        cur, prior = seed004.AGENCY_SUBJECTS[Program.participation]
        both = 10
        kinds = ["both"] * both + ["cur"] * (cur - both) + ["prior"] * (prior - both)
        for i, kind in enumerate(kinds):
            agency_id = pool[100 + i]  # also in the directory; a subject, not a link
            case_id = self.next_id("c")
            (start, end), = self.periods(kind, i)
            served = {"both": {CUR, PRIOR}, "cur": {CUR}, "prior": {PRIOR}}[kind]
            self.cases[case_id] = Case(case_id, {Program.participation},
                                       {Program.participation: served})
            subject = SubjectRef(agency_id=agency_id)
            self.emit(CaseOpened(case_id=case_id, subject=subject, origin=CaseOrigin.participation,
                                 opened_on=start, coordinator="shakyo"), start)
            enrollment_id = self.next_id("e")
            self.emit(EnrollmentStarted(case_id=case_id, enrollment_id=enrollment_id,
                                        program=Program.participation, subject=subject,
                                        started_on=start), start)
            if end is not None:
                self.emit(EnrollmentEnded(case_id=case_id, enrollment_id=enrollment_id,
                                          program=Program.participation, ended_on=end,
                                          reason="終了"), end)

    def decoy_persons(self) -> None:
        """Enrolled after D, between the windows, or ended just before W' began."""
        for n, (start, end) in enumerate([
            (date(2025, 12, 1), None), (date(2025, 12, 24), None),
            (date(2024, 12, 5), date(2025, 3, 20)), (date(2024, 12, 1), date(2025, 3, 31)),
            (date(2022, 4, 1), date(2024, 3, 31)), (date(2023, 5, 1), date(2024, 3, 31)),
        ]):
            person_id, case_id = self.next_id("p"), self.next_id("c")
            program = PROGRAMS[n % 3]
            self.cases[case_id] = Case(case_id, {program}, {program: set()})
            self.emit(CaseOpened(case_id=case_id, subject=SubjectRef(person_id=person_id),
                                 origin=CaseOrigin.outreach, opened_on=start,
                                 coordinator="shakyo", sex=Sex.male,
                                 age_band=AgeBand.fifties), start)
            enrollment_id = self.next_id("e")
            self.emit(EnrollmentStarted(case_id=case_id, enrollment_id=enrollment_id,
                                        program=program, subject=SubjectRef(person_id=person_id),
                                        started_on=start), start)
            if end:
                self.emit(EnrollmentEnded(case_id=case_id, enrollment_id=enrollment_id,
                                          program=program, ended_on=end, reason="終了"), end)
            # Linked in W by a decoy agency, but the case is not served in W.
            joined = date(2025, 11, 20)
            self.emit(MemberJoined(case_id=case_id, agency_id=DECOYS[n % len(DECOYS)],
                                   joined_on=joined, how=MembershipReason.invitation), joined)

    # ----- links, plans, meetings ------------------------------------------------------
    def eligible(self, program: Program, window: str, single: bool = True) -> list[str]:
        return sorted(
            c.case_id for c in self.cases.values()
            if program in c.programs and window in c.served[program] and (c.single or not single)
        )

    def links(self, pool: list[str]) -> None:
        targets: dict[Program, tuple[set[str], set[str]]] = {}
        for program in PROGRAMS:
            cur, prior = seed004.LINKED[program]
            sets = []
            for size in (cur, prior):
                sets.append(set(CORE) | set(self.rng.sample(pool, size - len(CORE))))
            targets[program] = (sets[0], sets[1])
        self.truth.linked = targets
        for program, (cur_set, prior_set) in targets.items():
            for window, agencies, w in ((CUR, cur_set, W), (PRIOR, prior_set, WP)):
                cases = self.eligible(program, window)
                for agency_id in sorted(agencies):
                    joined = self.day_in(*w)
                    self.emit(MemberJoined(case_id=self.rng.choice(cases), agency_id=agency_id,
                                           joined_on=joined, how=MembershipReason.invitation),
                              joined)
        # Decoy links: outside the windows, on served cases.
        both_cases = [c for c in self.eligible(Program.multi_agency, CUR)
                      if PRIOR in self.cases[c].served[Program.multi_agency]]
        for day, agency_id in ((date(2025, 12, 10), DECOYS[0]), (date(2025, 3, 15), DECOYS[1]),
                               (date(2024, 3, 31), DECOYS[2]), (date(2024, 12, 1), DECOYS[3])):
            self.emit(MemberJoined(case_id=both_cases[0], agency_id=agency_id, joined_on=day,
                                   how=MembershipReason.invitation), day)
        # A decoy referral handed to one agency (通常案件): no case, so no link.
        self.emit(ReferralSubmitted(
            referral_id="r-ordinary", person_id="p-ordinary", referring_agency=DECOYS[4],
            contact_route=ContactRoute.visit, concerns=(Concern.care,),
            personal=ReferralPersonal(summary="通常案件"),
        ), at(date(2025, 6, 1)), DECOYS[4])
        self.emit(ReferralTriaged(referral_id="r-ordinary", outcome=TriageOutcome.ordinary,
                                  triaged_by="shakyo", assigned_agency=DECOYS[5],
                                  person_id="p-ordinary"), at(date(2025, 6, 2)))

    def plan(self, case_id: str, program: Program, drafted: date, approvals: list[date],
             roles: tuple[str, ...] = ("shakyo", "houkatsu-1"), late_first: bool = False) -> None:
        plan_id = self.next_id("plan")
        events = []
        versions: list[date | None] = list(approvals) or [None]
        for version, approved in enumerate(versions, start=1):
            draft_day = drafted if approved is None or version == 1 else (
                approved - timedelta(days=10))
            self.emit(PlanDrafted(
                case_id=case_id, plan_id=plan_id, version=version, program=program,
                drafted_by="shakyo", drafted_on=draft_day,
                roles=tuple(PlanRole(agency_id=a, role="支援") for a in roles),
                personal=PlanPersonal(long_term_goal="目標", short_term_goals=("短期",),
                                      direction="方向性"),
            ), draft_day)
            if approved is not None:
                events.append((PlanApproved(
                    case_id=case_id, plan_id=plan_id, version=version, program=program,
                    meeting_id="m-plan", decision_id=self.next_id("d"), approved_on=approved,
                ), at(approved), "shakyo"))
        if late_first:
            events.reverse()  # the revision's approval is stored before the first one
        self.events += events

    def plans(self) -> None:
        for program in PROGRAMS:
            cur, prior = seed004.PLANS[program]
            self.truth.plans[program] = (cur, prior)
            cur_cases = self.eligible(program, CUR, single=False)
            prior_cases = self.eligible(program, PRIOR, single=False)
            both = [c for c in cur_cases if c in prior_cases]
            for i in range(cur):
                approved = self.day_in(date(2025, 5, 1), D)
                revised = [approved, approved + timedelta(days=40)] if i == 0 else [approved]
                self.plan(cur_cases[i], program, approved - timedelta(days=20),
                          [d for d in revised], late_first=i == 0)
            for i in range(prior):
                approved = self.day_in(date(2024, 4, 20), date(2024, 11, 30))
                # Revised and approved again in W: still counted once, in W'.
                again = [approved, self.day_in(date(2025, 5, 1), D)] if i % 2 == 0 else [approved]
                self.plan(both[i % len(both)], program, approved - timedelta(days=10), again)
            case = cur_cases[-1]
            self.plan(case, program, date(2025, 3, 1), [date(2025, 3, 10), date(2025, 6, 1)])
            self.plan(case, program, date(2025, 11, 20), [date(2025, 12, 5)])
            self.plan(case, program, date(2024, 12, 1), [date(2024, 12, 20)])
            self.plan(case, program, date(2025, 10, 1), [])  # drafted, never approved
        # A plan of one program on a case in two programs links its roles to that program only.
        dual = [c for c in self.eligible(Program.outreach, CUR, single=False)
                if Program.multi_agency in self.cases[c].programs
                and CUR in self.cases[c].served[Program.multi_agency]]
        only_outreach = sorted(self.truth.linked[Program.outreach][0]
                               - self.truth.linked[Program.multi_agency][0])
        self.plan(dual[0], Program.outreach, date(2025, 7, 1), [],
                  roles=("shakyo", only_outreach[0], only_outreach[1]))

    def meetings(self) -> None:
        schedule: list[tuple[str, date | None]] = []
        for year in (2024, 2025):
            for month in range(4, 13):
                schedule.append(("support_plan", date(year, month, 15)))
            for month in (1, 2, 3):
                schedule.append(("support_plan", date(year, month, 15)))
        schedule += [("confidential", date(2024, m, 20)) for m in (5, 7, 9, 11)]
        schedule += [("confidential", date(2025, m, 25)) for m in (4, 6, 8, 10)]
        schedule += [("confidential", D), ("confidential", date(2024, 3, 31))]
        schedule += [("support_plan", None)]  # scheduled, never held
        for n, (kind, held) in enumerate(schedule):
            meeting_id = f"m{n:03d}"
            planned = held or date(2025, 9, 1)
            self.emit(MeetingScheduled(
                meeting_id=meeting_id, kind=MeetingKind(kind), regular=kind == "support_plan",
                scheduled_for=at(planned, 14), convened_by="shakyo",
                members=("shakyo", "city-fukushi", DECOYS[6]),
            ), at(planned - timedelta(days=14)))
            window = None
            if held and in_window(held, W):
                window = CUR
            elif held and in_window(held, WP):
                window = PRIOR
            cases = self.eligible(PROGRAMS[n % 3], window or CUR, single=False)
            for item, case_id in enumerate(self.rng.sample(cases, 2)):
                self.emit(CaseTabled(meeting_id=meeting_id, item_id=f"i{item}", case_id=case_id,
                                     asks=(Ask.share_information,)),
                          at(planned - timedelta(days=7)))
            if held is None:
                continue
            attendees = ("shakyo", "city-fukushi") if window else ("shakyo", DECOYS[6])
            self.emit(MeetingHeld(meeting_id=meeting_id, held_on=held, attendees=attendees), held)
            for i, w in enumerate((W, WP)):
                if in_window(held, w):
                    self.truth.meetings[kind][i] += 1
        # Held in W, attended by a decoy, discussing only a case not served in W.
        prior_only = [c for c in self.eligible(Program.multi_agency, PRIOR)
                      if CUR not in self.cases[c].served[Program.multi_agency]]
        held = date(2025, 7, 30)
        self.emit(MeetingScheduled(meeting_id="m-extra", kind=MeetingKind.support_plan,
                                   regular=False, scheduled_for=at(held, 14), convened_by="shakyo",
                                   members=("shakyo", DECOYS[7])), held)
        self.emit(CaseTabled(meeting_id="m-extra", item_id="i0", case_id=prior_only[0],
                             asks=(Ask.evaluate,)), held)
        self.emit(MeetingHeld(meeting_id="m-extra", held_on=held, attendees=(DECOYS[7],)), held)
        self.truth.meetings["support_plan"][0] += 1


@dataclass
class History:
    envelopes: list[Envelope]
    truth: Truth


async def build_history(keyring: KeyRing, seed: int = 4) -> History:
    """Generate, seal personal blocks (per-subject keys), erase one person (destroying the
    key before anything is read), and wrap everything in envelopes."""
    b = Builder(random.Random(seed))
    pool = b.directory()
    slots = b.slots()
    b.mark_specials(slots)
    # Pair some multi-agency and outreach slots: one person, one case, two programs.
    outreach_free = [s for s in slots[Program.outreach] if s.special is None]
    partners: dict[int, Slot] = {}
    for s in slots[Program.multi_agency]:
        if len(partners) == 8 or s.special or s.band == AgeBand.unknown:
            continue
        key = (s.band, s.sex, s.kind)
        match = next((o for o in outreach_free if (o.band, o.sex, o.kind) == key), None)
        if match:
            outreach_free.remove(match)
            partners[id(s)] = match
    paired = {id(p) for p in partners.values()}
    i = 0
    for program in PROGRAMS:
        for slot in slots[program]:
            if id(slot) in paired:
                continue
            b.person(slot, i, partners.get(id(slot)))
            i += 1
    b.agency_subjects(pool)
    b.decoy_persons()
    b.links(pool)
    b.plans()
    b.meetings()
    b.events += b.stale_updates
    for person in seed004.PERSONS:
        b.truth.persons[person] = seed004.PERSONS[person]
        b.truth.agency_subjects[person] = seed004.AGENCY_SUBJECTS[person]
    envelopes = []
    for event, when, actor in b.events:
        sealed = await keyring.seal_event(event)
        envelopes.append(new_envelope(sealed, Actor(agency_id=actor), occurred_at=when))
    for erased in b.erase:
        for key_id in erased.key_ids:
            await keyring.destroy(key_id)
        envelopes.append(new_envelope(erased, Actor(agency_id="operator"),
                                      occurred_at=at(date(2025, 11, 25))))
    return History(envelopes, b.truth)


def expected_categories(truth: Truth, program: Program) -> dict[str, tuple[int, int]]:
    cur, prior = truth.linked[program]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for agency_id in cur:
        counts[truth.categories[agency_id]][0] += 1
    for agency_id in prior:
        counts[truth.categories[agency_id]][1] += 1
    return {c: (v[0], v[1]) for c, v in counts.items()}
