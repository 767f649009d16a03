"""`tsunagu verify`: does the stream hold only history the rules would have accepted?

Reads the whole event stream in order, folds every case, meeting and referral with its
service's own ``evolve`` and asks the service's audit (``services/<svc>/audit.py``, built on
the deciders' checks) whether each event was allowed where it stands. Events written
around the deciders — e.g. a second CaseClosed without a reopen between — are reported with
their stream sequence and aggregate. Aggregates without rules of their own (the directory,
consent, persons) are folded by nobody and only counted.

>>> # report = await verify_stream(nc, Topology("tsunagu")); report.ok
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from nats.aio.client import Client

from eventstore.codec import decode
from eventstore.errors import DecodeError
from eventstore.topology import Topology
from services.casefile import audit as case_audit
from services.meeting import audit as meeting_audit
from services.referral import audit as referral_audit
from tsunagu.ops import reader

AUDITS: dict[str, ModuleType] = {
    m.AGGREGATE: m for m in (case_audit, meeting_audit, referral_audit)
}


@dataclass(frozen=True)
class Finding:
    seq: int
    aggregate: str
    aggregate_id: str
    type: str
    reason: str


@dataclass
class Report:
    """What verify found: every forbidden event, and how much was read."""

    findings: list[Finding] = field(default_factory=list)
    events: int = 0
    checked: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "checked": dict(self.checked),
                "findings": [f.__dict__ for f in self.findings]}


class Verifier:
    """Folds events one at a time; ``check(seq, raw_bytes)`` records what is forbidden.

    >>> v = Verifier(); v.check(1, raw); v.report.ok
    """

    def __init__(self) -> None:
        self.report = Report()
        self.states: dict[tuple[str, str], Any] = {}

    def check(self, seq: int, data: bytes) -> None:
        self.report.events += 1
        try:
            env = decode(data)
        except (DecodeError, ValueError) as exc:
            self.report.findings.append(Finding(seq, "?", "?", "?", f"unreadable: {exc}"))
            return
        audit = AUDITS.get(env.aggregate)
        if audit is None:
            return
        key = (env.aggregate, env.aggregate_id)
        state = self.states.get(key) or audit.initial(env.aggregate_id)
        reason = audit.forbidden(state, env.event)
        if reason is not None:
            self.report.findings.append(
                Finding(seq, env.aggregate, env.aggregate_id, env.type, reason))
        self.states[key] = audit.evolve(state, env)
        self.report.checked[env.aggregate] += 1


async def verify_stream(nc: Client, topology: Topology) -> Report:
    verifier = Verifier()
    async for raw in reader.history(nc, topology.events_stream, topology.events_subjects):
        verifier.check(raw.seq, raw.data)
    return verifier.report
