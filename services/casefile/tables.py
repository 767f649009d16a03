"""The casefile projection's tables (SQLAlchemy Core; names prefixed ``casefile_``).

Personal data is kept only in the ``personal`` JSON columns (and an assessment's
``attachment`` reference), and nulled on PersonDataErased.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Integer, MetaData, String, Table

metadata = MetaData()

ID = 64

cases = Table(
    "casefile_cases", metadata,
    Column("case_id", String(ID), primary_key=True),
    Column("person_id", String(ID), index=True),
    Column("subject_agency_id", String(ID)),
    Column("referral_id", String(ID), index=True),
    Column("origin", String(20), nullable=False),
    Column("coordinator", String(ID), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("lead_agency", String(ID)),
    Column("next_monitoring_on", Date),
    Column("sex", String(10), nullable=False),
    Column("age_band", String(10), nullable=False),
    Column("erased", Boolean, nullable=False, default=False),
    Column("personal", JSON),  # name, kana, birth_date, address, phone
    Column("last_seq", BigInteger, nullable=False),
)

#: The personal part of つなぐシート, for cases opened by triage (referral_id).
referrals = Table(
    "casefile_referrals", metadata,
    Column("referral_id", String(ID), primary_key=True),
    Column("person_id", String(ID), index=True),
    Column("personal", JSON),
)

members = Table(
    "casefile_members", metadata,
    Column("case_id", String(ID), primary_key=True),
    Column("agency_id", String(ID), primary_key=True),
    Column("joined_on", Date, nullable=False),
    Column("how", String(20), nullable=False),
)

enrollments = Table(
    "casefile_enrollments", metadata,
    Column("enrollment_id", String(ID), primary_key=True),
    Column("case_id", String(ID), nullable=False, index=True),
    Column("program", String(20), nullable=False),
    Column("subject_person_id", String(ID)),
    Column("subject_agency_id", String(ID)),
    Column("started_on", Date, nullable=False),
    Column("ended_on", Date),
    Column("end_reason", String(200)),
)

plans = Table(
    "casefile_plans", metadata,
    Column("case_id", String(ID), primary_key=True),
    Column("plan_id", String(ID), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("program", String(20), nullable=False),
    Column("drafted_by", String(ID), nullable=False),
    Column("drafted_on", Date, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("monitoring_on", Date),
    Column("tabled_at", String(ID)),
    Column("approved_on", Date),
    Column("approved_by_meeting", String(ID)),
    Column("personal", JSON),  # goals, direction
)

assessments = Table(
    "casefile_assessments", metadata,
    Column("assessment_id", String(ID), primary_key=True),
    Column("case_id", String(ID), nullable=False, index=True),
    Column("assessed_on", Date, nullable=False),
    Column("assessed_by", String(ID), nullable=False),
    Column("national_items", JSON, nullable=False),
    Column("attachment", JSON),
    Column("personal", JSON),
)

monitorings = Table(
    "casefile_monitorings", metadata,
    Column("monitoring_id", String(ID), primary_key=True),
    Column("case_id", String(ID), nullable=False, index=True),
    Column("program", String(20), nullable=False),
    Column("recorded_on", Date, nullable=False),
    Column("recorded_by", String(ID), nullable=False),
    Column("next_monitoring_on", Date),
    Column("personal", JSON),
)

timeline = Table(
    "casefile_timeline", metadata,
    Column("case_id", String(ID), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("agency_id", String(ID), nullable=False),
    Column("summary", String(600), nullable=False),
)

#: Consent events per case, as stored (they carry no personal block).
consent = Table(
    "casefile_consent", metadata,
    Column("case_id", String(ID), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("event", JSON, nullable=False),
)

meetings = Table(
    "casefile_meetings", metadata,
    Column("meeting_id", String(ID), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("cancelled", Boolean, nullable=False, default=False),
)

meeting_members = Table(
    "casefile_meeting_members", metadata,
    Column("meeting_id", String(ID), primary_key=True),
    Column("agency_id", String(ID), primary_key=True),
    Column("invited", Boolean, nullable=False, default=False),
    Column("acknowledged", Boolean, nullable=False, default=False),
    Column("acknowledged_on", Date),  # the seat's date: part of a disclosure's basis
)

meeting_cases = Table(
    "casefile_meeting_cases", metadata,
    Column("meeting_id", String(ID), primary_key=True),
    Column("case_id", String(ID), primary_key=True, index=True),
)

erased_persons = Table(
    "casefile_erased_persons", metadata,
    Column("person_id", String(ID), primary_key=True),
    Column("erased_seq", BigInteger, nullable=False),
)
