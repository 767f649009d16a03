"""Shared vocabulary: programs, sexes, age bands, concerns, agency categories."""

from __future__ import annotations

from enum import StrEnum

from contracts.base import (
    Contract,
    Id,
    LongText,
    PersonalData,
    ShortText,
    WorldDate,
    personal,
)


class Program(StrEnum):
    """The three programs counted in the statistics."""

    multi_agency = "multi_agency"  # 多機関協働事業
    outreach = "outreach"  # アウトリーチ等を通じた継続的支援事業
    participation = "participation"  # 参加支援事業


PROGRAM_LABELS_JA = {
    Program.multi_agency: "多機関協働事業",
    Program.outreach: "アウトリーチ等を通じた継続的支援事業",
    Program.participation: "参加支援事業",
}


class FreeText(PersonalData):
    """Free text about the person outside an event's other personal blocks (a reason, a
    note): sealed with the same key, so erasing the person shreds it. Events stored before
    such text was sealed keep it in their plain ``reason`` field (read by ``reason_of``)."""

    text: LongText = personal("理由・メモ (free text about the person)")


def sealable(text: str | None) -> FreeText | None:
    """A reason given by an agency, as the block an event seals (None for no reason)."""
    return FreeText(text=text) if text else None


def reason_of(event: object) -> str | None:
    """An event's reason: its sealed block once unsealed, else the plain field of an event
    stored before reasons were sealed; None when there is none or its key is destroyed."""
    return text_of(event, "reason")


def text_of(event: object, name: str) -> str | None:
    """An event's free text ``name`` (``reason``, ``title``, ``description``, ``staff``): the
    sealed block ``personal_<name>`` once unsealed, else the plain field ``name`` of an event
    stored before it was sealed; None when there is none or its key is destroyed.

    >>> class Old:
    ...     title = "旧形式の件名"
    >>> text_of(Old(), "title"), text_of(Old(), "reason")
    ('旧形式の件名', None)
    """
    block = getattr(event, f"personal_{name}", None)
    if isinstance(block, FreeText):
        return block.text
    plain = getattr(event, name, None)
    return plain if isinstance(plain, str) else None


def sealed_text(event: object, name: str) -> bool:
    """Whether the event holds free text ``name`` that can no longer be read (its key was
    destroyed): views show the redaction marker instead of nothing."""
    block = getattr(event, f"personal_{name}", None)
    return block is not None and not isinstance(block, FreeText)


#: What views show for free text whose key was destroyed (erased person).
REDACTED = "（削除済み）"


class Sex(StrEnum):
    male = "male"
    female = "female"
    unknown = "unknown"


class AgeBand(StrEnum):
    """年代 as the national report counts them."""

    under_20 = "under_20"  # 10代以下
    twenties = "20s"
    thirties = "30s"
    forties = "40s"
    fifties = "50s"
    sixty_to_64 = "60_64"  # 60～64歳
    over_65 = "65_plus"  # 65歳以上
    unknown = "unknown"  # 不明


AGE_BAND_LABELS_JA = {
    AgeBand.under_20: "10代以下",
    AgeBand.twenties: "20代",
    AgeBand.thirties: "30代",
    AgeBand.forties: "40代",
    AgeBand.fifties: "50代",
    AgeBand.sixty_to_64: "60～64歳",
    AgeBand.over_65: "65歳以上",
    AgeBand.unknown: "不明",
}


def age_band_for_age(age: int) -> AgeBand:
    if age < 20:
        return AgeBand.under_20
    if age < 60:
        return [AgeBand.twenties, AgeBand.thirties, AgeBand.forties, AgeBand.fifties][age // 10 - 2]
    return AgeBand.sixty_to_64 if age < 65 else AgeBand.over_65


def age_on(birth_date: WorldDate, on: WorldDate) -> int:
    """Age in completed years; a 29 February birthday counts as 1 March in common years
    (the Japanese civil rule, 年齢計算ニ関スル法律, ages people at the end of the day before)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


class Concern(StrEnum):
    """Checklist of problem areas on the つなぐシート."""

    health_disability = "health_disability"
    housing = "housing"
    income = "income"
    debt = "debt"
    work = "work"
    family = "family"
    childcare = "childcare"
    care = "care"  # 介護
    withdrawal = "withdrawal"  # ひきこもり
    abuse_dv = "abuse_dv"
    food = "food"
    other = "other"


#: The controlled list of agency categories (seed 004). Deployments may extend it by config.
AGENCY_CATEGORIES: tuple[str, ...] = (
    "ハローワーク",
    "ポリテクセンター",
    "一般企業",
    "医療機関",
    "保健担当部署",
    "障害担当部署",
    "障害者相談支援センター",
    "障害者就労支援事業所",
    "障害者相談支援事業所",
    "高齢担当部署",
    "地域包括支援センター",
    "居宅介護支援事業所",
    "その他介護事業所",
    "子ども家庭担当部署",
    "教育委員会",
    "学校",
    "児童相談所",
    "女性相談",
    "生活保護担当部署",
    "救護施設",
    "警察",
    "検察",
    "裁判所",
    "保護観察所",
    "自立相談支援機関",
    "税担当部署",
    "保険・年金担当部署",
    "家計改善支援機関",
    "フードバンク",
    "権利擁護センター",
    "法テラス",
    "住宅担当部署",
    "不動産・保証会社",
    "民生委員・児童委員",
    "NPO法人",
    "住民自治協議会",
    "地域住民等",
    "ライフライン民間事業者",
    "動物愛護センター",
    "就労準備支援機関",
    "地域若者サポートステーション",
    "認定就労訓練事業所",
    "多文化共生相談センター",
    "基幹相談支援センター",
    "利用者支援事業",
    "社会福祉協議会",
    "その他行政の担当部署",
)


class AttachmentRef(PersonalData):
    """An agency's own sheet or document, kept in the JetStream object store.

    Personal as a whole: the document is about a person and its filename often names them.
    In stored events it is sealed like any personal block (``AttachmentRef | Sealed``), and
    erasing the person deletes the object itself."""

    object_name: ShortText = personal("sha256-<digest>, as `tsunagu attach` prints")
    sha256: str = personal("SHA-256 of the content (hex)")
    size: int = personal("Bytes")
    media_type: ShortText = personal("Sniffed from the content")
    filename: ShortText = personal("ファイル名 (often names the person)")


class SubjectRef(Contract):
    """Who a program enrollment is about: a person, or (参加支援 only) an agency consulting
    about someone not yet identified."""

    person_id: Id | None = None
    agency_id: Id | None = None
