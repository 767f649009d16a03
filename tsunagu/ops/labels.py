"""Japanese labels for the console (domain terms as the seeds use them)."""

from __future__ import annotations

EVENT_LABELS_JA: dict[str, str] = {
    "AgencyRegistered": "相談機関の登録",
    "AgencyUpdated": "相談機関の更新",
    "AgencyRetired": "相談機関の廃止",
    "ReferralSubmitted": "つなぐシート受付",
    "ReferralCorrected": "つなぐシート訂正",
    "ReferralWithdrawn": "つなぐシート取下げ",
    "ReferralTriaged": "振り分け（重層案件／通常案件）",
    "PersonMatchDecided": "同一人物の判断",
    "ApplicationRecorded": "利用申込書",
    "ConsentRecorded": "本人同意の記録",
    "ConsentWithdrawn": "本人同意の撤回",
    "ConsentRefused": "本人同意なし",
    "ConsentRecorderNamed": "同意を記録する機関の指名",
    "CaseOpened": "ケース開始",
    "EnrollmentStarted": "事業の利用開始",
    "EnrollmentEnded": "事業の利用終了",
    "IntakeAssessmentRecorded": "インテークアセスメント",
    "PlanDrafted": "プラン作成",
    "PlanTabled": "プランの付議",
    "PlanApproved": "プラン承認",
    "MonitoringRecorded": "モニタリング",
    "MemberJoined": "参加機関の追加",
    "LeadAgencyAssigned": "主担当の決定",
    "CaseClosed": "終結",
    "CaseSuspended": "中断",
    "CaseReturnedToComprehensive": "包括的相談支援へ戻す",
    "CaseReopened": "再開",
    "DecisionNotApplied": "決定を反映できず",
    "MeetingScheduled": "会議の予定",
    "MeetingRescheduled": "会議の日程変更",
    "MeetingCancelled": "会議の中止",
    "MemberInvited": "会議への招集",
    "ConfidentialityAcknowledged": "守秘義務の確認",
    "CaseTabled": "案件の付議",
    "CaseMovedToSupportPlanMeeting": "重層的支援会議へ移行",
    "MeetingHeld": "会議の開催",
    "DecisionRecorded": "会議の決定",
    "ResourceGapRecorded": "社会資源の不足",
    "MinutesRecorded": "議事録",
    "PersonDataErased": "個人情報の消去",
    "StatsReportPublished": "統計の公表",
    "PersonalDataRevealed": "個人情報の表示（監査）",
    "DeadLetterDiscarded": "デッドレターの破棄（監査）",
}

AGGREGATE_LABELS_JA: dict[str, str] = {
    "agency": "相談機関",
    "referral": "つなぐシート",
    "consent": "利用申込・本人同意",
    "case": "ケース",
    "meeting": "会議",
    "person": "本人",
    "stats": "統計",
    "audit": "監査",
}


def event_label(event_type: str) -> str:
    return EVENT_LABELS_JA.get(event_type, event_type)
