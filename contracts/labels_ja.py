"""Japanese labels for the codes people read in tables (the data keeps the codes).

One table per kind of code, beside the contracts that define the codes, so that every
human-facing table (CLI, console, reports) says the same thing:

    >>> ja("triage_outcome", "returned")
    '差し戻し'
    >>> ja("triage_outcome", "something-new")  # an unknown code is shown as it is
    'something-new'
"""

from __future__ import annotations

LABELS_JA: dict[str, dict[str, str]] = {
    "referral_status": {
        "submitted": "振り分け待ち", "withdrawn": "取下げ", "triaged": "振り分け済",
    },
    "triage_outcome": {
        "complex": "重層案件", "ordinary": "通常案件", "returned": "差し戻し",
        "abuse_response": "虐待対応",
    },
    "case_status": {"open": "支援中", "suspended": "中断", "closed": "終結",
                    "returned": "包括的相談支援へ戻し"},
    "case_stage": {
        "opened": "受付", "assessed": "アセスメント済", "plan_drafted": "プラン作成中",
        "plan_tabled": "プラン付議", "support": "支援中", "monitoring": "モニタリング",
        "suspended": "中断", "closed": "終結", "returned": "包括的相談支援へ戻し",
    },
    "meeting_status": {"scheduled": "予定", "held": "開催済", "cancelled": "中止"},
    "decision": {
        "approve_plan": "プラン承認", "reject_plan": "プラン差し戻し", "evaluate": "評価",
        "close": "終結", "suspend": "中断", "return_to_comprehensive": "包括的相談支援へ戻す",
        "assign_lead": "主担当の決定", "assign_roles": "役割分担",
        "share_information": "情報共有",
    },
    "feed_kind": {
        "referral_received": "つなぐシートの受付", "referral_triaged": "振り分けの結果",
        "referral_returned": "つなぐシートの差し戻し", "referral_assigned": "通常案件の担当依頼",
        "case_joined": "ケースへの参加", "lead_changed": "主担当の変更",
        "meeting_invitation": "会議への招集", "meeting_changed": "会議の日時変更",
        "meeting_cancelled": "会議の中止", "case_decision": "会議での決定",
        "decision_applied": "決定の反映",
        "decision_not_applied": "決定が反映できませんでした", "task_due": "期日のお知らせ",
        "erased": "個人情報の消去", "case": "ケース情報の更新",
    },
    "task": {"plan_role_end": "役割期間の終了", "monitoring": "モニタリング",
             "plan_role_period_ends": "役割期間の終了",
             "plan_review": "プラン見直し", "consent_expiry": "同意の期限"},
}


def ja(kind: str, code: str | None) -> str:
    """The label of ``code`` in table ``kind``; the code itself when none is known."""
    if code is None:
        return ""
    return LABELS_JA.get(kind, {}).get(code, code)
