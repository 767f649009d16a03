"""The stats projection's tables (SQLAlchemy Core, prefixed ``stats_``).

Every row is keyed so that applying the same events in any order gives the same rows:
values that can be overwritten carry a ``version`` (world time, then rank, then event id)
and are replaced only by a newer one.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Index, Integer, MetaData, String, Table

metadata = MetaData()

ID = 64
VERSION = 120  # "<occurred_at UTC ISO>|<rank>|<event id>"

agencies = Table(
    "stats_agencies", metadata,
    Column("agency_id", String(ID), primary_key=True),
    Column("category", String(200), nullable=False),
    Column("version", String(VERSION), nullable=False),
)

#: What one source (``referral:<id>`` or ``case:<id>``) says about a person.
#: ``birth_date`` is personal data: kept only to compute the age at each enrollment's start,
#: nulled on erasure.
person_facts = Table(
    "stats_person_facts", metadata,
    Column("source", String(ID + 10), primary_key=True),
    Column("person_id", String(ID), nullable=True, index=True),
    Column("matched_person_id", String(ID), nullable=True, index=True),
    Column("match_version", String(VERSION), nullable=True),
    Column("sex", String(16), nullable=True),
    Column("age_band", String(16), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("version", String(VERSION), nullable=True),
)

#: Each person as the report sees them (``domain.resolve_persons`` over their facts), kept up
#: to date as facts arrive, are corrected, matched or erased. ``birth_date`` as above.
persons = Table(
    "stats_persons", metadata,
    Column("person_id", String(ID), primary_key=True),
    Column("sex", String(16), nullable=False),
    Column("age_band", String(16), nullable=False),
    Column("birth_date", Date, nullable=True),
)

erased = Table(
    "stats_erased", metadata,
    Column("person_id", String(ID), primary_key=True),
)

erased_bands = Table(
    "stats_erased_bands", metadata,
    Column("enrollment_id", String(ID), primary_key=True),
    Column("age_band", String(16), nullable=False),
)

enrollments = Table(
    "stats_enrollments", metadata,
    Column("enrollment_id", String(ID), primary_key=True),
    Column("case_id", String(ID), nullable=False),
    Column("program", String(32), nullable=False),
    Column("person_id", String(ID), nullable=True),
    Column("agency_id", String(ID), nullable=True),
    Column("started_on", Date, nullable=True),
    Column("start_version", String(VERSION), nullable=True),
    Column("ended_on", Date, nullable=True),
    Column("end_version", String(VERSION), nullable=True),
    # Where the enrollment places its person in the grid (domain.band_of, the person's sex),
    # kept up to date by the projection so that the report only counts rows.
    Column("band", String(16), nullable=True),
    Column("sex", String(16), nullable=True),
    # True while no other enrollment of the same person in the same program is known: the
    # report then need not look for an earlier one. Only ever turns false.
    Column("alone", Boolean, nullable=True),
    # The report's reads: an earlier served enrollment of the same person (asked only when
    # not ``alone``); the served enrollments of a linked case.
    Index("ix_stats_enrollments_person", "person_id", "program"),
    Index("ix_stats_enrollments_case", "case_id", "program", "started_on", "ended_on"),
    # The grid's scan, in its GROUP BY order, without reading the rows.
    Index("ix_stats_enrollments_grid", "program", "band", "sex", "started_on", "ended_on",
          "alone", "person_id", "enrollment_id"),
)

#: Direct links of an agency to a case (joined it, a role in a plan, its coordinator, its
#: lead). ``program`` is set when the link is specific to one program (a plan's roles).
links = Table(
    "stats_links", metadata,
    Column("link_id", String(100), primary_key=True),
    Column("case_id", String(ID), nullable=False),
    Column("agency_id", String(ID), nullable=False),
    Column("on_date", Date, nullable=False),
    Column("program", String(32), nullable=True),
    Column("kind", String(32), nullable=False),
    # Covers the report's question "is this agency linked in the window to a served case".
    Index("ix_stats_links_agency", "agency_id", "on_date", "case_id", "program"),
)

referrals = Table(
    "stats_referrals", metadata,
    Column("referral_id", String(ID), primary_key=True),
    Column("referring_agency", String(ID), nullable=True),
    Column("submitted_on", Date, nullable=True),
    Column("triaged_by", String(ID), nullable=True),
    Column("triaged_on", Date, nullable=True),
    Column("case_id", String(ID), nullable=True),
    # The report asks per agency whether it referred / received a case in the window.
    Index("ix_stats_referrals_referring", "referring_agency", "submitted_on"),
    Index("ix_stats_referrals_triaged", "triaged_by", "triaged_on"),
)

cases = Table(
    "stats_cases", metadata,
    Column("case_id", String(ID), primary_key=True),
    Column("referral_id", String(ID), nullable=True, index=True),
)

meetings = Table(
    "stats_meetings", metadata,
    Column("meeting_id", String(ID), primary_key=True),
    Column("kind", String(32), nullable=True),
    Column("held_on", Date, nullable=True, index=True),
    Column("held_version", String(VERSION), nullable=True),
)

attendees = Table(
    "stats_meeting_attendees", metadata,
    Column("meeting_id", String(ID), primary_key=True),
    Column("agency_id", String(ID), primary_key=True),
)

#: Who attended for which agenda item's case (MeetingHeld.item_attendance). A meeting with it
#: links an agency only to the cases it attended for; older meetings (without it) link every
#: attendee to every tabled case, as they were counted when recorded.
item_attendees = Table(
    "stats_item_attendees", metadata,
    Column("meeting_id", String(ID), primary_key=True),
    Column("case_id", String(ID), primary_key=True),
    Column("agency_id", String(ID), primary_key=True),
)

tabled = Table(
    "stats_tabled", metadata,
    Column("meeting_id", String(ID), primary_key=True),
    Column("item_id", String(ID + 10), primary_key=True),
    Column("case_id", String(ID), nullable=False),
    Column("program", String(32), nullable=True),
)

approvals = Table(
    "stats_plan_approvals", metadata,
    Column("plan_id", String(ID), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("program", String(32), nullable=False),
    Column("approved_on", Date, nullable=False),
    Column("case_id", String(ID), nullable=False),
)

closures = Table(
    "stats_closures", metadata,
    Column("event_id", String(40), primary_key=True),
    Column("case_id", String(ID), nullable=False),
    Column("closed_on", Date, nullable=False),
)

published = Table(
    "stats_published", metadata,
    Column("report_id", String(ID), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("figures_sha256", String(64), nullable=False),
)

corrections = Table(
    "stats_corrections", metadata,
    Column("report_id", String(ID), primary_key=True),
    Column("by_report_id", String(ID), primary_key=True),
    Column("figures_sha256", String(64), nullable=False),
)
