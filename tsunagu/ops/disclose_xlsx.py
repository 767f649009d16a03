"""The 開示請求 workbook: one sheet per kind of record, Japanese sheet names and headings, one
row per record, nested values flattened ("本人情報 氏名"), so a person can read it."""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from contracts.base import PersonalData
from contracts.case import AssessmentPersonal, MonitoringPersonal, PlanPersonal, SubjectPersonal
from contracts.meeting import MaterialPersonal, MinutesPersonal
from contracts.referral import ReferralPersonal
from eventstore.disclosure import Disclosure
from tsunagu.ops import disclosures

LABELS = {
    "person_id": "本人ID", "referral_id": "紹介ID", "case_id": "ケースID", "type": "種別",
    "stage": "段階", "status": "状態", "origin": "経路", "opened_on": "開始日",
    "coordinator": "調整担当機関", "lead_agency": "主担当機関",
    "next_monitoring_on": "次回モニタリング", "erased": "消去済み", "subject": "本人",
    "personal": "本人情報", "agency_id": "機関", "sex": "性別", "age_band": "年代",
    "joined_on": "参加日", "how": "参加の経緯", "plan_id": "プランID", "version": "版",
    "program": "事業", "drafted_by": "作成機関", "drafted_on": "作成日", "roles": "役割分担",
    "monitoring_on": "モニタリング予定", "tabled_at": "付議した会議", "approved_on": "承認日",
    "assessment_id": "アセスメントID", "assessed_on": "実施日", "assessed_by": "実施機関",
    "national_items": "国の項目", "attachment": "添付文書", "monitoring_id": "モニタリングID",
    "recorded_on": "記録日", "recorded_by": "記録機関", "consent_id": "同意ID",
    "agencies": "共有先機関", "purposes": "利用目的", "method": "取得方法",
    "given_on": "同意日", "valid_until": "有効期限", "withdrawn_on": "撤回日",
    "reason": "理由", "applied_on": "申込日", "obtained_by": "取得機関", "seq": "番号",
    "occurred_at": "日時", "summary": "概要", "meeting_id": "会議ID", "item_id": "議題ID",
    "kind": "会議の種類", "title": "件名", "scheduled_at": "予定日時", "held_on": "開催日",
    "asks": "諮る事項", "decision": "決定", "decided_on": "決定日", "decision_id": "決定ID",
    "material_id": "資料ID", "shared_by": "提出機関", "text": "内容", "where": "どこで",
    "object_name": "文書名", "sha256": "SHA-256", "contact_route": "相談経路",
    "concerns": "課題", "referring_agency": "紹介元機関", "agency": "機関", "staff": "担当者",
    "submitted_on": "受付日", "position": "順番", "moved_to": "移した会議",
    "plan_version": "プランの版", "suspected_abuse": "虐待の疑い", "ended_on": "終了日",
}


def _personal_labels() -> dict[str, str]:
    """The Japanese name each personal field is declared with in contracts/."""
    out: dict[str, str] = {}
    classes: tuple[type[PersonalData], ...] = (
        ReferralPersonal, SubjectPersonal, AssessmentPersonal, PlanPersonal,
        MonitoringPersonal, MaterialPersonal, MinutesPersonal)
    for cls in classes:
        for name, info in cls.model_fields.items():
            if info.description:
                out.setdefault(name, info.description.split(" (")[0])
    return out


_ALL_LABELS = {**_personal_labels(), **LABELS}


def _label(path: str) -> str:
    return " ".join(_ALL_LABELS.get(part, part) for part in path.split("."))


def _flat(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{path}."))
        elif isinstance(value, list | tuple):
            out[path] = "、".join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                                 for v in value)
        else:
            out[path] = value
    return out


def _sheet(wb: Workbook, title: str, records: list[dict[str, Any]]) -> None:
    ws = wb.create_sheet(title)
    rows = [_flat(r) for r in records]
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    ws.append([_label(k) for k in keys] or ["(記録なし)"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append([r.get(k) for k in keys])
    for col in ws.columns:
        ws.column_dimensions[col[0].column_letter].width = 24
        for cell in col:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _per_case(held: dict[str, Any], section: str) -> list[dict[str, Any]]:
    return [{"case_id": c["case_id"], **item} for c in held["cases"]
            for item in c.get(section) or []]


def to_xlsx(held: dict[str, Any]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "概要"
    for row in (("本人ID", held["person_id"]), ("作成日時", held["prepared_at"]),
                ("紹介の件数", len(held["referrals"])), ("ケースの件数", len(held["cases"])),
                ("会議の議題の件数", len(held["meeting_items"])),
                ("開示の記録の件数", len(held["disclosures"]))):
        ws.append(row)
    cases = [{k: v for k, v in c.items()
              if k not in ("members", "enrollments", "plans", "assessments", "monitoring")}
             for c in held["cases"]]
    for title, records in (
        ("紹介", [{k: v for k, v in r.items() if k != "history"} for r in held["referrals"]]),
        ("紹介の経過", [{"referral_id": r["referral_id"], **h} for r in held["referrals"]
                      for h in r.get("history") or []]),
        ("同意", held["consent"]), ("支援ケース", cases),
        ("参加機関", _per_case(held, "members")), ("支援プラン", _per_case(held, "plans")),
        ("アセスメント", _per_case(held, "assessments")),
        ("モニタリング", _per_case(held, "monitoring")), ("ケースの経過", held["timeline"]),
        ("会議", held["meeting_items"]), ("会議の決定", held["meeting_decisions"]),
        ("会議資料", held["meeting_materials"]), ("議事録", held["meeting_minutes"]),
        ("文書一覧", held["documents"]),
    ):
        _sheet(wb, title, records)
    disclosures.sheet(wb, "開示の記録",
                      [Disclosure.model_validate(d) for d in held["disclosures"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
