"""The periodic statistics report, as published on the stream, and the command that asks
for one on demand."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from contracts.base import Command, DomainEvent, Id, WorldDate


class StatsEvent(DomainEvent):
    aggregate: ClassVar[str] = "stats"
    id_field: ClassVar[str] = "report_id"
    report_id: Id


class StatsReportPublished(StatsEvent):
    type: Literal["StatsReportPublished"] = "StatsReportPublished"
    creates: ClassVar[tuple[str, ...]] = ("report_id",)
    as_of: WorldDate
    report: dict[str, Any] = Field(description="The report in its documented JSON form")
    corrects: tuple[Id, ...] = Field(
        default=(), description="Earlier reports whose figures late events have changed"
    )


class PublishStatsReport(Command):
    """Publish the report as of a date now (the service also does it at each month end)."""

    type: Literal["publish_stats_report"] = "publish_stats_report"
    as_of: WorldDate = Field(description="The report's date D (not in the future)")
