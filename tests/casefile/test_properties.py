"""Property-based: any mix of agency commands and meeting decisions on one case, each decided
against the history the earlier accepted ones built, is accepted (events that fold cleanly)
or refused with a domain error — never another exception — and the lifecycle rules hold:
a meeting decision is applied at most once, a plan is approved only after it was tabled at
that meeting, a closed case takes nothing but a reopening (and is never closed again before
it is reopened); and opening a case from any OpenCase either refuses or opens one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.base import DomainEvent
from contracts.case import (
    NATIONAL_ASSESSMENT_ITEMS,
    AssessmentPersonal,
    MonitoringPersonal,
    PlanApproved,
    PlanPersonal,
    PlanRole,
    PlanTabled,
    SubjectPersonal,
)
from contracts.commands_casefile import (
    DraftPlan,
    EndEnrollment,
    InviteMember,
    OpenCase,
    RecordIntakeAssessment,
    RecordMonitoring,
    ReopenCase,
    StartEnrollment,
)
from contracts.common import AgeBand, Program, Sex, SubjectRef
from contracts.consent import ConsentMethod, ConsentRecorded, ConsentWithdrawn
from contracts.meeting import (
    CaseTabled,
    Decision,
    DecisionRecorded,
    ItemAttendance,
    MeetingHeld,
    MeetingKind,
)
from eventstore.errors import DomainError
from services.casefile import decisions, domain

TODAY = date(2025, 10, 1)
AGENCIES = st.sampled_from(["hq", "city", "npo", "clinic"])
ACTORS = st.sampled_from(["hq", "hq", "hq", "city", "npo"])  # mostly the coordinator
DATES = st.dates(TODAY - timedelta(days=200), TODAY)
PROGRAMS = st.sampled_from(list(Program))
GOOD_ITEMS = {k: v[0] for k, v in NATIONAL_ASSESSMENT_ITEMS.items()}
ITEMS = st.just(GOOD_ITEMS) | st.dictionaries(
    st.sampled_from([*NATIONAL_ASSESSMENT_ITEMS, "nope"]), st.sampled_from(["single", "x"]),
    max_size=4)
PLAN = PlanPersonal(long_term_goal="自立", short_term_goals=("通院",), direction="伴走")
SUBJECTS = st.sampled_from([None, SubjectRef(person_id="p1"), SubjectRef(agency_id="npo"),
                            SubjectRef(person_id="p2")])
C: dict[str, Any] = {"command_id": st.just("c"), "case_id": st.just("k1")}
COMMANDS = st.one_of(
    st.builds(RecordIntakeAssessment, **C, assessed_on=DATES, national_items=ITEMS,
              personal=st.none() | st.just(AssessmentPersonal(situation="状況"))),
    st.builds(DraftPlan, **C, plan_id=st.none() | st.sampled_from(["pl1", "pl2"]),
              program=PROGRAMS, drafted_on=DATES,
              roles=st.lists(st.builds(PlanRole, agency_id=AGENCIES, role=st.just("見守り")),
                             min_size=1, max_size=3).map(tuple),
              monitoring_on=st.none() | DATES, personal=st.just(PLAN)),
    st.builds(RecordMonitoring, **C, program=PROGRAMS, recorded_on=DATES,
              next_monitoring_on=st.none() | DATES,
              personal=st.just(MonitoringPersonal(progress="経過"))),
    st.builds(StartEnrollment, **C, program=PROGRAMS, subject=SUBJECTS, started_on=DATES),
    st.builds(EndEnrollment, **C, enrollment_id=st.sampled_from(["k1-e1", "k1-e2", "k1-e3"]),
              ended_on=DATES, reason=st.just("終結")),
    st.builds(InviteMember, **C, agency_id=AGENCIES, joined_on=DATES),
    st.builds(ReopenCase, **C, reopened_on=DATES, reason=st.just("再燃")),
    # Valid-looking variants, so that histories reach plans, tabling and approval often.
    st.builds(RecordIntakeAssessment, **C, assessed_on=DATES, national_items=st.just(GOOD_ITEMS),
              personal=st.just(AssessmentPersonal(situation="状況"))),
    st.builds(DraftPlan, **C, plan_id=st.none() | st.just("pl1"),
              program=st.just(Program.outreach), drafted_on=DATES,
              roles=st.just((PlanRole(agency_id="clinic", role="通院同行"),)),
              personal=st.just(PLAN)),
    st.builds(RecordMonitoring, **C, program=st.just(Program.outreach), recorded_on=DATES,
              personal=st.just(MonitoringPersonal(progress="経過"))),
)
MEETINGS = st.sampled_from(["m1", "m2"])
KINDS = st.sampled_from([MeetingKind.support_plan, MeetingKind.support_plan,
                         MeetingKind.confidential, None])
TABLINGS = st.builds(
    CaseTabled, meeting_id=MEETINGS, item_id=st.sampled_from(["i1", "i2", "i3"]),
    case_id=st.just("k1"), asks=st.just(("approve_plan",)),
    plan_id=st.sampled_from(["pl1", "pl1", "pl2", None]),
    plan_version=st.none() | st.integers(1, 3),
)
DECISIONS = st.builds(
    DecisionRecorded, meeting_id=MEETINGS, decision_id=st.sampled_from(["d1", "d2", "d3", "d4"]),
    item_id=st.just("i1"), case_id=st.just("k1"),
    decision=st.sampled_from([Decision.approve_plan, *Decision]),
    reason=st.just("協議"), decided_on=DATES, plan_id=st.sampled_from(["pl1", "pl1", None]),
    plan_version=st.none() | st.integers(1, 3), lead_agency=st.none() | AGENCIES,
)
CONSENT = st.sampled_from([
    ConsentRecorded(case_id="k1", consent_id="cs1", person_id="p1", agencies=("hq", "city"),
                    purposes=("支援",), method=ConsentMethod.written, obtained_by="hq",
                    given_on=TODAY - timedelta(days=300)),
    ConsentWithdrawn(case_id="k1", consent_id="cs1", withdrawn_on=TODAY - timedelta(days=20)),
])
STEPS = st.lists(st.one_of(
    st.tuples(st.just("command"), COMMANDS, ACTORS),
    st.tuples(st.just("command"), COMMANDS, ACTORS),
    st.tuples(st.just("tabled"), TABLINGS, KINDS),
    st.tuples(st.just("decided"), DECISIONS, KINDS),
    st.tuples(st.just("attended"), st.lists(AGENCIES, max_size=3), DATES),
    st.tuples(st.just("consent"), CONSENT),
), max_size=18)


#: The steps of a plan's life; the test shuffles them with random steps, in any order.
PLAN_LIFE = [
    ("command", DraftPlan(command_id="c", case_id="k1", program=Program.outreach,
                          drafted_on=TODAY - timedelta(days=100),
                          roles=(PlanRole(agency_id="clinic", role="通院同行"),),
                          personal=PLAN), "hq"),
    ("tabled", CaseTabled(meeting_id="m1", item_id="i1", case_id="k1",
                          asks=("approve_plan",), plan_id="pl1"), MeetingKind.support_plan),
    ("decided", DecisionRecorded(meeting_id="m1", decision_id="d1", item_id="i1",
                                 case_id="k1", decision=Decision.approve_plan, reason="承認",
                                 decided_on=TODAY - timedelta(days=90), plan_id="pl1"),
     MeetingKind.support_plan),
    ("command", RecordMonitoring(command_id="c", case_id="k1", program=Program.outreach,
                                 recorded_on=TODAY - timedelta(days=30),
                                 personal=MonitoringPersonal(progress="経過")), "hq"),
    ("decided", DecisionRecorded(meeting_id="m2", decision_id="d9", item_id="i9",
                                 case_id="k1", decision=Decision.close, reason="終結",
                                 decided_on=TODAY - timedelta(days=10)),
     MeetingKind.support_plan),
]


@st.composite
def shuffled_steps(draw: st.DrawFn) -> list[Any]:
    """A plan's life and random steps, interleaved in any order."""
    return draw(st.permutations(PLAN_LIFE + draw(STEPS)))


def decide_command(state: domain.CaseState, cmd: Any, actor: str, consent: list[DomainEvent],
                   n: int) -> list[DomainEvent]:
    if isinstance(cmd, RecordIntakeAssessment):
        return domain.decide_assessment(state, actor, f"a{n}", cmd)
    if isinstance(cmd, DraftPlan):
        new_id = f"pl{len({pid for pid, _ in state.plans}) + 1}"
        return domain.decide_draft_plan(state, actor, new_id, cmd, consent, TODAY)
    if isinstance(cmd, RecordMonitoring):
        return domain.decide_monitoring(state, actor, f"mo{n}", cmd)
    if isinstance(cmd, StartEnrollment):
        return domain.decide_start_enrollment(state, actor, cmd)
    if isinstance(cmd, EndEnrollment):
        return domain.decide_end_enrollment(state, actor, cmd)
    if isinstance(cmd, InviteMember):
        return domain.decide_invite(state, actor, cmd)
    assert isinstance(cmd, ReopenCase)
    return domain.decide_reopen(state, actor, cmd)


ASSESS = RecordIntakeAssessment(command_id="c", case_id="k1", assessed_on=TODAY - timedelta(
    days=230), national_items=GOOD_ITEMS, personal=AssessmentPersonal(situation="状況"))
OPEN = OpenCase(command_id="c", program=Program.outreach, subject=SubjectRef(person_id="p1"),
                opened_on=TODAY - timedelta(days=250))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["nothing", "opened", "opened with consent", "ready for a plan"]),
       shuffled_steps())
def test_case_deciders_and_meeting_decisions_refuse_only_with_domain_errors(start, steps):
    # Most runs start further along, so that plans, tabling and approval are reached often.
    history: list[DomainEvent] = [] if start == "nothing" else domain.decide_open(
        "k1", "hq", OPEN)
    consent: list[DomainEvent] = [
        ConsentRecorded(case_id="k1", consent_id="cs0", person_id="p1", agencies=("hq",),
                        purposes=("支援",), method=ConsentMethod.oral, obtained_by="hq",
                        given_on=TODAY - timedelta(days=240))
    ] if start in ("opened with consent", "ready for a plan") else []
    if start == "ready for a plan":
        history += domain.decide_assessment(domain.fold("k1", history), "hq", "a0", ASSESS)
    tabled: set[tuple[str, str, int]] = set()  # (meeting, plan, version) tabled
    for n, step in enumerate(steps):
        state = domain.fold("k1", history)
        try:
            match step:
                case ("command", cmd, actor):
                    events = decide_command(state, cmd, actor, consent, n)
                case ("tabled", tabling, kind):  # kind None: an event stored without one
                    events = decisions.decide_tabling(
                        state, tabling.model_copy(update={"meeting_kind": kind}))
                    assert kind is MeetingKind.support_plan or "PlanTabled" not in {
                        e.type for e in events}, "a plan tabled outside a 重層的支援会議"
                case ("decided", decision, kind):
                    events = decisions.decide_decision(
                        state, decision.model_copy(update={"meeting_kind": kind}),
                        decisions.DecisionFacts(tuple(consent)))
                case ("attended", attendees, held_on):
                    held = MeetingHeld(
                        meeting_id="m", held_on=held_on, attendees=tuple(attendees) or ("hq",),
                        item_attendance=(ItemAttendance(item_id="i", case_id="k1",
                                                        agencies=tuple(attendees)),))
                    events = decisions.decide_attendance(state, held)
                case ("consent", event):
                    consent.append(event)
                    continue
        except DomainError as exc:
            assert exc.message
            continue
        for event in events:
            assert isinstance(event, DomainEvent) and event.aggregate_id() == "k1"
            if isinstance(event, PlanTabled):
                tabled.add((event.meeting_id, event.plan_id, event.version))
            if isinstance(event, PlanApproved):  # only what was tabled at that meeting
                assert (event.meeting_id, event.plan_id, event.version) in tabled
            if event.type == "CaseClosed":
                assert state.status is not domain.Status.closed
        if state.status is domain.Status.closed:  # a closed case takes only a reopening
            kinds = {e.type for e in events}
            assert kinds <= {"CaseReopened", "EnrollmentStarted", "DecisionNotApplied"}, events
            assert "CaseReopened" in kinds or "EnrollmentStarted" not in kinds, events
        history += events
        domain.fold("k1", history)  # folds without raising

    # Each decision (or tabling: its item id, unique within its meeting) judged at most once.
    applied = [(getattr(e, "meeting_id", None), getattr(e, "decision_id", None))
               for e in history if e.type in (
                   "PlanApproved", "LeadAgencyAssigned", "CaseClosed", "CaseSuspended",
                   "CaseReturnedToComprehensive", "DecisionNotApplied")]
    assert len(applied) == len(set(applied)), applied


OPEN_SUBJECTS = st.builds(SubjectRef, person_id=st.none() | st.just("p1"),
                          agency_id=st.none() | st.just("npo"))
OPENINGS = st.builds(
    OpenCase, command_id=st.just("c"), program=st.sampled_from([Program.outreach,
                                                                Program.participation]),
    subject=OPEN_SUBJECTS,
    opened_on=DATES, sex=st.sampled_from(list(Sex)), age_band=st.sampled_from(list(AgeBand)),
    personal=st.none() | st.just(SubjectPersonal(name="山田 花子")),
    reason=st.none() | st.just("訪問"),
)


@settings(max_examples=150, deadline=None)
@given(OPENINGS, ACTORS)
def test_opening_a_case_refuses_with_a_domain_error_or_opens_one_its_opener_is_member_of(
    cmd, actor
):
    try:
        events = domain.decide_open("k1", actor, cmd)
    except DomainError as exc:
        assert exc.message
        return
    state = domain.fold("k1", events)
    assert state.opened and state.status is domain.Status.open and state.coordinator == actor
    assert actor in state.members and state.subject == cmd.subject
    assert [e.program for e in state.open_enrollments()] == [cmd.program]
    # An agency as subject (a person not yet identified) only for 参加支援, with no personal data.
    if cmd.subject.agency_id is not None:
        assert cmd.program is Program.participation and cmd.personal is None
