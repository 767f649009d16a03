"""The console's statistics: asking the stats service, the date the page opens on, and the
xlsx / CSV downloads (the same renderers as `tsunagu report`)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import nats.errors
from nats.aio.client import Client
from starlette.responses import Response

from contracts.jst import today_jst
from services.stats.domain import fiscal_year_start
from services.stats.render import encode_csv, to_csv
from services.stats.xlsx import to_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def ask_stats(
    nc: Client, prefix: str, agency: str, as_of: date
) -> tuple[dict[str, Any] | None, str | None]:
    """The ``stats_report`` answer, or a message in Japanese saying why there is none."""
    subject = f"{prefix}.query.{agency}.stats_report"
    try:
        msg = await nc.request(subject, json.dumps({"as_of": as_of.isoformat()}).encode(),
                               timeout=10)
    except nats.errors.NoRespondersError:
        return None, "統計サービス（stats）が応答しません。起動しているか確認してください。"
    except nats.errors.TimeoutError:
        return None, "統計サービスが時間内に応答しませんでした。"
    try:
        reply = json.loads(msg.data)
    except json.JSONDecodeError:
        return None, "統計サービスの応答を読めませんでした。"
    if not reply.get("ok"):
        err = reply.get("error") or {}
        return None, f"統計サービスのエラー: {err.get('code')}: {err.get('message')}"
    return reply.get("result"), None


def default_as_of(latest_data_on: str | None, today: date | None = None) -> date:
    """Today (Japan), unless the data ends in an earlier fiscal year: then that year's last
    day, so the page opens on figures rather than on an empty year.

    >>> default_as_of("2025-11-28", date(2026, 12, 6))
    datetime.date(2026, 3, 31)
    >>> default_as_of("2026-05-01", date(2026, 12, 6))
    datetime.date(2026, 12, 6)
    """
    today = today or today_jst()
    if not latest_data_on:
        return today
    latest = date.fromisoformat(latest_data_on)
    if fiscal_year_start(latest) >= fiscal_year_start(today):
        return today
    return date(fiscal_year_start(latest).year + 1, 3, 31)


def download(report: dict[str, Any], fmt: str) -> Response:
    """The report as a file: xlsx (numeric cells) or CSV in UTF-8 with BOM (Excel in Japan)."""
    name = f"tsunagu-report-{report.get('as_of', 'report')}"
    if fmt == "xlsx":
        body, media = to_xlsx(report), XLSX
    else:
        body, media = encode_csv(to_csv(report), "utf-8-sig"), "text/csv; charset=utf-8"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
