"""The real command mix for the end-to-end benchmark: persons going through the program.

Each person is a *flow*: the commands agencies send about them, in order, each one only
after the reply to the one before (つなぐシート → triage → 利用申込書 and consent → intake
assessment → plan → 重層的支援会議 → monitoring → closure …). After a meeting's decision the
flow also waits until the casefile's reactor has put the decision on the case (seen through
the probe), as an agency would see it on its screen before acting on it. Meetings are flows
of their own: the coordination convenes one, tables the cases that are waiting (up to
``AGENDA_MAX`` or ``AGENDA_SECONDS`` after the first), records it held and records each
decision; a 支援会議 (no consent) first has every member acknowledge confidentiality.

The branch probabilities are those of the demo history (``tsunagu/ops/demo.py``, which
follows the seed data), so the mix of commands is the one a population of persons
produces over their lifecycle; `lifecycle_mix` computes it for the README.

Flows never send by themselves: ``World.send`` parks the step and waits; at each tick of
the fixed-rate clock the driver takes one parked step (``World.take``: a meeting's next step
first, as the convener works through it; else a new person if fewer than ``pool`` are in
progress; else a step of a person chosen at random among those due; a new person when none
is due) and sends it. So the offered rate is fixed and each person's steps stay in order.
When the services fall behind, fewer steps are due and more new persons arrive: the mix
then leans to つなぐシート (the report gives the mix actually sent).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from contracts.case import NATIONAL_ASSESSMENT_ITEMS
from contracts.common import Concern
from services.referral.domain import consent_id_for, world_date
from tsunagu.ops import demo_world as W

#: At most this many cases on one meeting's agenda; it closes this long after the first.
AGENDA_MAX = 8
AGENDA_SECONDS = 2.0
#: Decisions the casefile's reactor turns into case events (the flow waits for them).
REACTED = frozenset({"approve_plan", "assign_lead", "close", "suspend",
                     "return_to_comprehensive"})
CONVENER = "ag-fukushi-soudan"


class FlowFailed(Exception):
    """A step was refused or timed out: the flow stops (and the error is counted)."""


@dataclass
class Step:
    agency: str
    command: str
    body: dict[str, Any]
    label: str
    future: asyncio.Future[dict[str, Any]]


@dataclass
class Agenda:
    """A case waiting for a meeting: what to ask and which decisions to record."""

    case_id: str
    asks: list[str]
    decisions: list[tuple[str, str, str | None]]  # (decision, reason, lead_agency)
    plan: tuple[str, int] | None = None
    invite: tuple[str, ...] = ()
    #: Set once every decision is recorded: [(command id, reply)] in decision order.
    done: asyncio.Future[list[tuple[str, dict[str, Any]]]] | None = None


def today() -> date:
    return world_date(datetime.now(UTC))


def reaction_cause(reply: dict[str, Any]) -> str:
    """The command id the reactor gives its reaction to a DecisionRecorded event
    (``services.casefile.reactor.command_id``): the probe reports it as the causation."""
    event = next(e for e in reply["events"] if e["type"] == "DecisionRecorded")
    return f"m{UUID(event['event_id']).hex}"


class World:
    def __init__(self, tag: str, seed: int = 7, pool: int = 200, spare: int = 32,
                 reaction: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.tag = tag
        self.rng = random.Random(seed)
        self.pool = pool
        self.spare = spare
        self.reaction = reaction  # waits until a reaction's events are committed
        self.ready: list[Step] = []
        self.urgent: deque[Step] = deque()
        self.fresh: deque[Step] = deque()
        self.stopping = False
        self.persons = 0
        self.active = 0  # persons started and not finished
        self.started = 0
        self.finished = 0
        self.failed = 0
        self.failures: dict[str, int] = {}  # why flows stopped early
        self.n = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.meetings = Meetings(self)
        self.reaction_causes: dict[str, str] = {}  # reaction causation -> decision command

    # ----- the driver's side ---------------------------------------------------------------
    def start(self) -> None:
        for _ in range(self.spare):
            self._spawn(self._person())

    def take(self) -> Step | None:
        """The step to send at this tick (None: nothing is due, which should not happen)."""
        if self.urgent:
            return self.urgent.popleft()
        if self.fresh and (self.active < self.pool or not self.ready):
            self.active += 1
            self.started += 1
            self._spawn(self._person())
            return self.fresh.popleft()
        if self.ready:
            i = self.rng.randrange(len(self.ready))
            self.ready[i], self.ready[-1] = self.ready[-1], self.ready[i]
            return self.ready.pop()
        return None

    async def stop(self) -> None:
        self.stopping = True
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # ----- the flows' side ------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def command_id(self) -> str:
        self.n += 1
        return f"{self.tag}-{self.n}"

    async def send(self, agency: str, command: str, body: dict[str, Any],
                   label: str | None = None, *, first: bool = False, urgent: bool = False,
                   command_id: str | None = None) -> dict[str, Any]:
        """Park a step until the driver sends it; its reply (a refusal ends the flow).
        ``urgent``: the convener is working through a meeting, sent before the others."""
        step = Step(agency, command, {"command_id": command_id or self.command_id(), **body},
                    label or command, asyncio.get_running_loop().create_future())
        (self.fresh if first else self.urgent if urgent else self.ready).append(step)
        reply = await step.future
        if not reply.get("ok"):
            raise FlowFailed(f"{command}: {reply.get('error', {}).get('code')}")
        return reply

    def fail(self, exc: FlowFailed) -> None:
        self.failed += 1
        reason = str(exc).split(" ", 1)[0].rstrip(":")
        self.failures[reason] = self.failures.get(reason, 0) + 1

    async def reacted(self, reply: dict[str, Any], command_id: str) -> None:
        cause = reaction_cause(reply)
        self.reaction_causes[cause] = command_id
        if self.reaction is not None:
            await self.reaction(cause)

    async def _person(self) -> None:
        self.persons += 1
        n = self.persons
        try:
            roll = self.rng.random()
            if roll < 1 / 13:
                await self._outreach_first(n)
            elif roll < 1 / 13 + 0.02:
                await self._participation(n)
            else:
                await self._referral(n)
        except FlowFailed as exc:
            self.fail(exc)
        finally:
            if not self.stopping:  # (a flow cancelled at the end was never finished)
                self.finished += 1
                self.active -= 1

    # ----- persons ------------------------------------------------------------------------------
    def _sheet(self, abuse: bool) -> dict[str, Any]:
        r = self.rng
        male = r.random() < 0.5
        age = r.choice([r.randint(14, 19), r.randint(20, 39), r.randint(40, 64),
                        r.randint(65, 90)])
        born = today() - timedelta(days=365 * age + r.randint(30, 300))
        f = r.randrange(len(W.FAMILY))
        given, kana = r.choice(W.GIVEN_M if male else W.GIVEN_F)
        concerns = sorted({c.value for c in r.sample(list(Concern), r.randint(1, 3))})
        if abuse:
            concerns = sorted({*concerns, Concern.abuse_dv.value})
        return {
            "contact_route": "phone", "concerns": concerns, "suspected_abuse": abuse,
            "sex": "male" if male else "female",
            "personal": {
                "name": f"{W.FAMILY[f]} {given}", "kana": f"{W.FAMILY_KANA[f]} {kana}",
                "birth_date": born.isoformat(),
                "address": f"{r.choice(W.TOWNS)}{r.randint(1, 5)}丁目{r.randint(1, 30)}",
                "phone": f"090-{r.randint(1000, 9999)}-{r.randint(1000, 9999)}",
                "household": [{"relation": r.choice(["母", "父", "子", "配偶者"])}],
                "summary": r.choice(W.SITUATIONS),
            },
        }

    async def _referral(self, n: int) -> None:
        r = self.rng
        referrer, coord = r.choice(W.REFERRERS), r.choice(W.COORDINATORS)
        abuse = r.random() < 0.05
        reply = await self.send(referrer, "submit_referral", self._sheet(abuse), first=True)
        ref = reply["ids"]["referral_id"]
        on = today().isoformat()
        roll = r.random()
        if roll < 0.04:
            return  # still waiting for triage
        if roll < 0.06:
            await self.send(referrer, "withdraw_referral",
                            {"referral_id": ref, "reason": "本人が他市へ転居したため"})
            return
        if abuse:
            await self.send(coord, "triage_referral",
                            {"referral_id": ref, "outcome": "abuse_response", "triaged_on": on,
                             "assigned_agency": "ag-jidou-soudan"}, "triage_referral/abuse")
            return
        if roll < 0.12:
            await self.send(coord, "triage_referral",
                            {"referral_id": ref, "outcome": "returned", "triaged_on": on,
                             "reason": "本人の状況の記載が不足しているため"},
                            "triage_referral/returned")
            return
        if roll < 0.26:
            await self.send(coord, "triage_referral",
                            {"referral_id": ref, "outcome": "ordinary", "triaged_on": on,
                             "assigned_agency": r.choice(W.SUPPORTERS)},
                            "triage_referral/ordinary")
            return
        reply = await self.send(coord, "triage_referral",
                                {"referral_id": ref, "outcome": "complex", "triaged_on": on},
                                "triage_referral/complex")
        case = Case(reply["ids"]["case_id"], coord, {coord, referrer}, enrollments=1)
        await self._case_story(case)

    async def _outreach_first(self, n: int) -> None:
        """アウトリーチ met the person before 多機関協働 (the 社協 opens the case)."""
        coord = "ag-shakyo"
        sheet = self._sheet(False)["personal"]
        reply = await self.send(coord, "open_case", {
            "program": "outreach", "subject": {"person_id": f"p-{self.tag}-{n}"},
            "opened_on": today().isoformat(), "reason": "訪問で把握（アウトリーチ先行）",
            "personal": {k: sheet[k] for k in ("name", "kana", "birth_date", "address")},
        }, "open_case/outreach", first=True)
        case = Case(reply["ids"]["case_id"], coord, {coord}, enrollments=1)
        if self.rng.random() < 0.6:
            await self._enroll(case, "multi_agency")
            await self._case_story(case)

    async def _participation(self, n: int) -> None:
        """参加支援 asked for by an agency about someone not yet identified."""
        reply = await self.send("ag-shakyo", "open_case", {
            "program": "participation",
            "subject": {"agency_id": self.rng.choice(W.PARTICIPATION_AGENCIES)},
            "opened_on": today().isoformat(), "reason": "関係機関からの相談（本人未特定）",
        }, "open_case/participation", first=True)
        if self.rng.random() < 0.5:
            await self.send("ag-shakyo", "end_enrollment", {
                "case_id": reply["ids"]["case_id"], "enrollment_id": reply["ids"]["enrollment_id"],
                "ended_on": today().isoformat(), "reason": "地域の居場所につないだため"})

    # ----- a case ---------------------------------------------------------------------------------
    async def _case_story(self, case: Case) -> None:
        r = self.rng
        on = today().isoformat()
        with_consent = r.random() < 0.75
        agencies = list(dict.fromkeys([*sorted(case.members), *r.sample(W.SUPPORTERS, 3)]))
        scope = {"agencies": agencies, "purposes": ["支援の検討と関係機関での情報共有"],
                 "method": r.choice(["written", "oral"]), "given_on": on}
        if with_consent:
            body: dict[str, Any] = {"case_id": case.case_id, "applied_on": on,
                                    "with_consent": True, "consent": scope}
        else:
            body = {"case_id": case.case_id, "applied_on": on, "with_consent": False}
        cid = self.command_id()
        await self.send(case.coord, "record_application", body,
                        f"record_application/{'consent' if with_consent else 'no_consent'}",
                        command_id=cid)
        consent_id = consent_id_for(case.coord, cid)
        if not with_consent and r.random() < 0.5:
            await self.send(case.coord, "record_consent_refusal", {
                "case_id": case.case_id, "refused_on": on, "reason": "情報共有を望まないため"})
        await self.send(case.coord, "record_intake_assessment", {
            "case_id": case.case_id, "assessed_on": on,
            "national_items": {k: r.choice(v) for k, v in NATIONAL_ASSESSMENT_ITEMS.items()},
            "personal": {"situation": r.choice(W.SITUATIONS),
                         "outlook": "関係機関で役割を分担し、継続的に支援する"},
        })
        if r.random() < 0.3:
            await self._invite(case, r.choice([a for a in W.SUPPORTERS if a not in case.members]))
        if not with_consent:
            await self._meeting(case, "confidential", Agenda(
                case.case_id, ["share_information"],
                [("information_shared", "支援会議で情報を共有し、見守りを続ける", None)]))
            if r.random() > 0.35:
                return  # stays with the 支援会議: no consent, no plan
            cid = self.command_id()
            await self.send(case.coord, "record_consent", {"case_id": case.case_id, **scope},
                            command_id=cid)
            consent_id = consent_id_for(case.coord, cid)
        plan_id, roles = await self._draft(case)
        lead = roles[min(1, len(roles) - 1)]
        await self._meeting(case, "support_plan", Agenda(
            case.case_id, ["approve_plan", "assign_lead"],
            [("approve_plan", "プランの内容が適切であるため承認", None),
             ("assign_lead", "主担当を決定", lead)],
            plan=(plan_id, 1), invite=tuple(roles)))
        case.members |= {*roles, lead}
        for _ in range(r.randint(1, 3)):
            await self.send(lead, "record_monitoring", {
                "case_id": case.case_id, "recorded_on": today().isoformat(),
                "next_monitoring_on": (today() + timedelta(days=60)).isoformat(),
                "personal": {"progress": "面談を継続。生活状況は少しずつ安定している。"}})
        if r.random() < 0.25:
            await self._enroll(case, "participation")
            if r.random() < 0.4:
                await self.send(case.coord, "end_enrollment", {
                    "case_id": case.case_id, "enrollment_id": f"{case.case_id}-e{case.enrollments}",
                    "ended_on": today().isoformat(), "reason": "目標を達成したため"})
        if r.random() < 0.1:
            _, roles = await self._draft(case, plan_id=plan_id)
            await self._meeting(case, "support_plan", Agenda(
                case.case_id, ["approve_plan"],
                [("approve_plan", "改訂したプランを承認", None)],
                plan=(plan_id, 2), invite=tuple(roles)))
            case.members |= set(roles)
        if r.random() < 0.04:
            await self.send(case.coord, "withdraw_consent", {
                "case_id": case.case_id, "consent_id": consent_id,
                "withdrawn_on": today().isoformat(), "reason": "本人の申し出"})
            return
        await self._ending(case)

    async def _ending(self, case: Case) -> None:
        r = self.rng
        roll = r.random()
        if roll < 0.45:
            await self._meeting(case, "support_plan", Agenda(
                case.case_id, ["close"], [("close", r.choice(W.CLOSE_REASONS), None)]))
            if r.random() < 0.1:
                await self.send(case.coord, "reopen_case", {
                    "case_id": case.case_id, "reopened_on": today().isoformat(),
                    "reason": "生活状況が再び不安定になったため"})
        elif roll < 0.55:
            await self._meeting(case, "support_plan", Agenda(
                case.case_id, ["suspend"], [("suspend", r.choice(W.SUSPEND_REASONS), None)]))
        elif roll < 0.62:
            await self._meeting(case, "support_plan", Agenda(
                case.case_id, ["return_to_comprehensive"],
                [("return_to_comprehensive", "包括的相談支援で継続して支援するため",
                  "ag-houkatsu-chuo")]))
        # else: support goes on past the run

    async def _invite(self, case: Case, agency: str) -> None:
        await self.send(case.coord, "invite_case_member", {
            "case_id": case.case_id, "agency_id": agency, "joined_on": today().isoformat()})
        case.members.add(agency)

    async def _enroll(self, case: Case, program: str) -> None:
        await self.send(case.coord, "start_enrollment", {
            "case_id": case.case_id, "program": program, "started_on": today().isoformat()},
            f"start_enrollment/{program}")
        case.enrollments += 1

    async def _draft(self, case: Case, plan_id: str | None = None) -> tuple[str, list[str]]:
        r = self.rng
        roles = list(dict.fromkeys([case.coord, *r.sample(W.SUPPORTERS, r.randint(1, 3))]))
        body: dict[str, Any] = {
            "case_id": case.case_id, "drafted_on": today().isoformat(),
            "roles": [{"agency_id": a, "role": r.choice(W.ROLES), "frequency": "月1回"}
                      for a in roles],
            "monitoring_on": (today() + timedelta(days=90)).isoformat(),
            "personal": {"long_term_goal": r.choice(W.GOALS),
                         "short_term_goals": r.sample(W.SHORT_GOALS, 2),
                         "direction": "本人の意向を尊重し、関係機関で役割を分担する"},
        }
        if plan_id:
            body["plan_id"] = plan_id
        reply = await self.send(case.coord, "draft_plan", body,
                                "draft_plan/revision" if plan_id else "draft_plan")
        return str(reply["ids"]["plan_id"]), roles

    async def _meeting(self, case: Case, kind: str, agenda: Agenda) -> None:
        replies = await self.meetings.table(kind, agenda)
        for (decision, _, _), (command_id, reply) in zip(agenda.decisions, replies, strict=True):
            if decision in REACTED:
                await self.reacted(reply, command_id)


@dataclass
class Case:
    case_id: str
    coord: str
    members: set[str]
    enrollments: int = 1


@dataclass
class Round:
    kind: str
    accepting: bool = True


@dataclass
class Meetings:
    """The coordination's meetings: cases queue for the next one of their kind."""

    world: World
    queues: dict[str, deque[Agenda]] = field(default_factory=dict)
    open_rounds: dict[str, Round] = field(default_factory=dict)
    wakeups: dict[str, asyncio.Event] = field(default_factory=dict)
    held: int = 0

    async def table(self, kind: str, agenda: Agenda) -> list[tuple[str, dict[str, Any]]]:
        agenda.done = asyncio.get_running_loop().create_future()
        self.queues.setdefault(kind, deque()).append(agenda)
        self.wakeups.setdefault(kind, asyncio.Event()).set()
        if kind not in self.open_rounds:
            self._open(kind)
        return await agenda.done

    def _open(self, kind: str) -> None:
        rnd = Round(kind)
        self.open_rounds[kind] = rnd
        self.world._spawn(self._round(rnd))

    async def _round(self, rnd: Round) -> None:
        w, kind = self.world, rnd.kind
        items: list[tuple[str, Agenda]] = []
        queue = self.queues[kind]
        wake = self.wakeups[kind]
        try:
            members = set(W.CORE_MEMBERS)
            scheduled_for = datetime.now(UTC) + timedelta(hours=2)
            reply = await w.send(CONVENER, "schedule_meeting", {
                "kind": kind, "scheduled_for": scheduled_for.isoformat(),
                "members": sorted(members - {CONVENER}),
                "title": "重層的支援会議" if kind == "support_plan" else "支援会議（非公開）",
            }, f"schedule_meeting/{kind}", urgent=True)
            mid = reply["ids"]["meeting_id"]
            if kind == "confidential":
                for agency in sorted(members):
                    await w.send(agency, "acknowledge_confidentiality", {"meeting_id": mid},
                                 urgent=True)
            deadline: float | None = None
            loop = asyncio.get_running_loop()
            while len(items) < AGENDA_MAX:
                if not queue:
                    wake.clear()
                    timeout = None if deadline is None else deadline - loop.time()
                    if timeout is not None and timeout <= 0:
                        break
                    try:
                        await asyncio.wait_for(wake.wait(), timeout)
                    except TimeoutError:
                        break
                    continue
                agenda = queue.popleft()
                for agency in agenda.invite:
                    if agency not in members:
                        await w.send(CONVENER, "invite_member",
                                     {"meeting_id": mid, "agency_id": agency}, urgent=True)
                        members.add(agency)
                item_id = f"item-{len(items) + 1}"
                body: dict[str, Any] = {"meeting_id": mid, "case_id": agenda.case_id,
                                        "asks": agenda.asks, "item_id": item_id}
                if agenda.plan:
                    body["plan_id"], body["plan_version"] = agenda.plan
                items.append((item_id, agenda))
                await w.send(CONVENER, "table_case", body, f"table_case/{kind}", urgent=True)
                if deadline is None:
                    deadline = loop.time() + AGENDA_SECONDS
            rnd.accepting = False
            if self.open_rounds.get(kind) is rnd:
                del self.open_rounds[kind]
            if queue:
                self._open(kind)
            await w.send(CONVENER, "record_meeting_held", {
                "meeting_id": mid, "held_on": today().isoformat(),
                "attendees": sorted(members)}, f"record_meeting_held/{kind}", urgent=True)
            self.held += 1
            for item_id, agenda in items:
                replies = []
                for decision, reason, lead in agenda.decisions:
                    body = {"meeting_id": mid, "item_id": item_id, "decision": decision,
                            "reason": reason}
                    if lead:
                        body["lead_agency"] = lead
                    cid = w.command_id()
                    reply = await w.send(CONVENER, "record_decision", body,
                                         f"record_decision/{decision}", urgent=True,
                                         command_id=cid)
                    replies.append((cid, reply))
                assert agenda.done is not None
                agenda.done.set_result(replies)
            if kind == "support_plan" and w.rng.random() < 0.2:
                await w.send(CONVENER, "record_resource_gap", {
                    "meeting_id": mid,
                    "description": "ひきこもりの若者が通える日中の居場所が不足している"},
                    urgent=True)
            await w.send(CONVENER, "record_minutes", {
                "meeting_id": mid, "text": f"{len(items)}件を協議した。"}, urgent=True)
        except FlowFailed as exc:
            w.fail(exc)
            if self.open_rounds.get(kind) is rnd:
                del self.open_rounds[kind]
            for _, agenda in items:
                if agenda.done is not None and not agenda.done.done():
                    agenda.done.set_exception(FlowFailed(f"meeting: {exc}"))
            if queue:
                self._open(kind)


def lifecycle_mix(steps: int = 100_000, seed: int = 11) -> dict[str, float]:
    """The stationary mix, without services: every step answered at once with a
    made-up reply. Share of each label, in %."""

    async def simulate() -> dict[str, int]:
        world = World("sim", seed=seed)
        world.start()
        counts: dict[str, int] = {}
        for i in range(steps):
            await asyncio.sleep(0)
            step = world.take()
            if step is None:
                continue
            counts[step.label] = counts.get(step.label, 0) + 1
            step.future.set_result({
                "ok": True, "ids": {"referral_id": f"r{i}", "case_id": f"c{i}",
                                    "meeting_id": f"m{i}"},
                "events": [{"type": "DecisionRecorded", "event_id": str(uuid4())}],
            })
        await world.stop()
        return counts

    counts = asyncio.run(simulate())
    total = sum(counts.values())
    return {k: 100 * v / total for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}
