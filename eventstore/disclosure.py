"""The disclosure log: who was given which person's personal data, which fields, when, over
which channel and on what basis — in its own stream (``<PREFIX>_DISCLOSURES``, subjects
``<prefix>.disclosure.<agency>.<person>.<case>``), so "who saw this person's data" is a
filtered read (plus the person's cases, for records made where only the case is known).

The kit knows no domain: a service says *what* it delivers (agency, person, field names, a
basis dict of ids and flags); this module makes sure the record itself can never carry a
personal value (field names and basis values are restricted to identifier-like tokens, so
a name, address or free text is refused) and that recording is not lost:

- a delivery made through a projection's outbox (a feed message) adds its record to the same
  outbox transaction (``DisclosureLog.in_outbox``): the record is committed with the message,
  and the runner's publisher retries the outbox until both are stored;
- a direct delivery (a query answer) awaits the stream's ack first (``DisclosureLog.record``)
  and raises ``DisclosureNotRecorded`` if it cannot: the caller answers an error instead of
  disclosing unrecorded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.js.errors import Error as JsError
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from uuid6 import uuid7

from eventstore.errors import DomainError, InvalidInput
from eventstore.topology import Topology

#: Five years by default: longer than the three years 個人情報保護法施行規則 §21 asks a
#: provider to keep its records of provision to third parties, and as long as the usual
#: municipal retention of 相談支援 case files, so a 開示請求 about a closed case can still be
#: answered. Configurable (TSUNAGU_DISCLOSURE_RETENTION_DAYS); older records expire.
DEFAULT_MAX_AGE_DAYS = 5 * 365 + 1
#: The subject token for "not known to the recording service" (a meeting knows the case,
#: not the person; meeting-level minutes have no case).
NONE = "_"

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,40}(\.[a-z][a-z0-9_]{0,40}){0,4}$")
_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:.@/+=-]{0,127}$")
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_]{0,40})?$")


#: The agency token of deliveries to operators (a 開示請求 handed over to the person).
OPERATORS = "ops"


def to_operator(operator: str, args: dict[str, Any], person_id: str | None,
                case_id: str | None, fields: list[str]) -> Disclosure:
    """The record of an operator query's answer given for the person's own request
    (``request_id``: the request's reference, e.g. its 受付番号)."""
    request_id = args.get("request_id")
    return Disclosure.new(
        agency=OPERATORS, operator=operator, person_id=person_id, case_id=case_id,
        fields=fields, channel="disclose",
        basis={"kind": "data_subject_request",
               "request_id": request_id if isinstance(request_id, str) else None})


class DisclosureNotRecorded(DomainError):
    """The record could not be stored: nothing may be disclosed."""

    code = "disclosure_not_recorded"


BasisValue = str | int | bool | None


class Disclosure(BaseModel):
    """One delivery of personal data.

    >>> d = Disclosure.new(agency="hokatsu", person_id="p1", case_id="c1",
    ...                    fields=["subject.name"], channel="query.case_view",
    ...                    basis={"kind": "consent", "consent_id": "k1"})
    >>> d.subject(Topology("tsunagu"))
    'tsunagu.disclosure.hokatsu.p1.c1'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    at: datetime
    #: The receiving agency; ``ops`` for an operator, then named by ``operator``.
    agency: str
    #: The operator's identity as the NATS server knows its connection (user / nkey).
    operator: str | None = None
    person_id: str | None
    case_id: str | None = None
    fields: tuple[str, ...]
    basis: dict[str, BasisValue]
    channel: str

    @field_validator("agency")
    @classmethod
    def _agency(cls, v: str) -> str:
        if not _TOKEN.match(v):
            raise ValueError("an agency id (letters, digits, _ and -)")
        return v

    @field_validator("person_id", "case_id")
    @classmethod
    def _ids(cls, v: str | None) -> str | None:
        if v is not None and not _TOKEN.match(v):
            raise ValueError("an id (letters, digits, _ and -)")
        return v

    @field_validator("operator")
    @classmethod
    def _operator(cls, v: str | None) -> str | None:
        # A certificate's name is a DN ("CN=op1,O=…"): printable ASCII, bounded.
        if v is not None and not (0 < len(v) <= 256 and v.isascii() and v.isprintable()):
            raise ValueError("a credential name (user, nkey or certificate name)")
        return v

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [f for f in v if not _FIELD.match(f)]
        if bad or not v:
            raise ValueError("names of fields (snake_case, dotted), never their values")
        return tuple(sorted(set(v)))

    @field_validator("basis")
    @classmethod
    def _basis(cls, v: dict[str, BasisValue]) -> dict[str, BasisValue]:
        if "kind" not in v:
            raise ValueError("needs a 'kind'")
        for key, value in v.items():
            if not _FIELD.match(key) or (isinstance(value, str) and not _VALUE.match(value)):
                raise ValueError("keys and values must be ids, kinds or flags, never free text")
        return v

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        if not _CHANNEL.match(v):
            raise ValueError("a channel name such as 'feed' or 'query.case_view'")
        return v

    @classmethod
    def new(cls, **fields: Any) -> Disclosure:
        """A new record, now; a clear ``InvalidInput`` naming the bad field otherwise."""
        try:
            return cls.model_validate(
                {"record_id": uuid7().hex, "at": datetime.now(UTC), **fields})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"disclosure {where}: {first['msg']}",
                               details={"field": where}) from exc

    def subject(self, topology: Topology) -> str:
        return topology.disclosure_subject(self.agency, self.person_id or NONE,
                                           self.case_id or NONE)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Disclosure:
        return cls.model_validate_json(data)


class DisclosureLog:
    """Records disclosures.

    >>> log = DisclosureLog(nc, topology)                   # doctest: +SKIP
    >>> await log.record(Disclosure.new(...))               # doctest: +SKIP
    """

    def __init__(self, nc: Client, topology: Topology, timeout: float = 5.0) -> None:
        self.nc, self.topology, self.timeout = nc, topology, timeout

    async def record(self, *records: Disclosure) -> None:
        """Store each record and await its ack; ``DisclosureNotRecorded`` if any fails."""
        js = self.nc.jetstream(timeout=self.timeout)
        for d in records:
            try:
                await js.publish(d.subject(self.topology), d.to_bytes(),
                                 headers={"Nats-Msg-Id": f"disclosure-{d.record_id}"})
            except (JsError, nats.errors.Error, TimeoutError) as exc:
                raise DisclosureNotRecorded(
                    "the disclosure log did not acknowledge the record: nothing is disclosed "
                    f"({type(exc).__name__})", details={"channel": d.channel},
                ) from exc

    @staticmethod
    def in_outbox(ctx: Any, topology: Topology, d: Disclosure, msg_id: str) -> None:
        """Add the record to a projection's outbox (``ApplyContext``), beside the delivery
        whose outbox ``msg_id`` it names: a replayed batch publishes it once."""
        d = d.model_copy(update={"record_id": msg_id})  # names the delivery it records
        ctx.publish(d.subject(topology), d.to_bytes(), msg_id=f"disclosure-{msg_id}")
