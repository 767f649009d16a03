"""The ledger's layout: sheets, their Japanese column headers, and the words allowed in them.

One place for the layout, read by the template writer and by the reader, so the blank
template and what the importer accepts can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.common import AGE_BAND_LABELS_JA, AgeBand, Concern, Program, Sex
from contracts.meeting import MeetingKind


@dataclass(frozen=True)
class Column:
    """One column of a sheet: ``Column("性別", "sex", note="男性 / 女性 / 不明")``."""

    header: str
    field: str
    required: bool = False
    note: str = ""


@dataclass(frozen=True)
class Sheet:
    """One sheet of the ledger: ``PERSONS.header("key") == "相談者番号"``."""

    name: str
    columns: tuple[Column, ...]
    note: str

    def header(self, field: str) -> str:
        return next(c.header for c in self.columns if c.field == field)


PERSONS = Sheet("相談者", (
    Column("相談者番号", "key", True, "台帳の番号（ほかのシートから参照）"),
    Column("種別", "subject", False, "本人 / 関係機関（参加支援のみ）。空欄は本人"),
    Column("関係機関ID", "subject_agency", False, "種別が関係機関のときの機関ID"),
    Column("受付機関", "intake", True, "ケースを開いた（振り分けた）調整機関の機関ID"),
    Column("紹介元機関", "referrer", False,
           "つなぐシートを送った機関ID（多機関協働で開始するとき必須）"),
    Column("氏名", "name", False, ""),
    Column("性別", "sex", False, "男性 / 女性 / 不明"),
    Column("生年月日", "birth_date", False, "2000-04-01 / R7.4.1 など"),
    Column("年代", "age_band", False,
           "生年月日が不明のとき: " + " / ".join(AGE_BAND_LABELS_JA.values())),
    Column("相談の概要", "summary", False, ""),
    Column("主訴", "concern", False, "つなぐシートの主訴"),
    Column("申込日", "applied_on", False, "利用申込書の日付"),
    Column("本人同意", "consent", False, "あり / なし（申込日に記録）"),
    Column("アセスメント日", "assessed_on", False, "インテークアセスメントの日付"),
    Column("世帯", "household", False, "アセスメント: 世帯の状況"),
    Column("相談経路", "route", False, "アセスメント: 相談経路"),
    Column("緊急性", "urgency", False, "アセスメント: 高 / 中 / 低"),
    Column("本人・世帯の状況", "situation", False, "アセスメントの記述"),
), "1行に1人（1ケース）。ケースは「事業の利用」の最初の行の開始日に開かれます。")

USES = Sheet("事業の利用", (
    Column("相談者番号", "key", True),
    Column("事業", "program", True, "多機関協働 / アウトリーチ / 参加支援"),
    Column("開始日", "start", True),
    Column("終了日", "end", False),
    Column("終了理由", "reason", False),
), "事業ごとの利用期間。同じ事業の再利用は新しい行に。")

LINKS = Sheet("連携機関", (
    Column("相談者番号", "key", True),
    Column("機関ID", "agency", True),
    Column("連携日", "on", True),
    Column("連携方法", "how", False, "招待（ケースに参加を依頼）。空欄は招待"),
), "ケースに加わった機関。紹介元・会議の出席・プランの役割はそれぞれのシートから数えます。")

PLANS = Sheet("プラン", (
    Column("相談者番号", "key", True),
    Column("事業", "program", True),
    Column("作成日", "drafted_on", False, "空欄は承認日"),
    Column("承認日", "approved_on", True, "承認した会議の開催日"),
    Column("会議番号", "meeting", True, "「会議」シートの重層的支援会議"),
    Column("役割機関", "roles", False, "役割を持つ機関ID（、区切り）。空欄は受付機関"),
    Column("長期目標", "goal", False),
    Column("支援の方向性", "direction", False),
), "承認されたプラン。承認には本人同意とアセスメントが必要です。")

MEETINGS = Sheet("会議", (
    Column("会議番号", "key", True),
    Column("種別", "kind", True, "重層的支援会議 / 支援会議"),
    Column("開催日", "held_on", True),
    Column("招集機関", "convener", True, "調整機関の機関ID"),
    Column("出席機関", "attendees", True,
           "機関ID（、区切り）。この行の「検討した相談者」それぞれの検討に出席した機関"),
    Column("検討した相談者", "cases", False, "相談者番号（、区切り）"),
), "開催された会議。支援会議の出席機関は守秘義務の確認を記録します。")

SHEETS: tuple[Sheet, ...] = (PERSONS, USES, LINKS, PLANS, MEETINGS)

SUBJECTS = {"本人": "person", "関係機関": "agency"}
SEXES = {"男性": Sex.male, "男": Sex.male, "女性": Sex.female, "女": Sex.female,
         "不明": Sex.unknown, "性別不明": Sex.unknown}
BANDS: dict[str, AgeBand] = {label: band for band, label in AGE_BAND_LABELS_JA.items()}
PROGRAMS = {
    "多機関協働": Program.multi_agency, "多機関協働事業": Program.multi_agency,
    "アウトリーチ": Program.outreach, "アウトリーチ等を通じた継続的支援事業": Program.outreach,
    "参加支援": Program.participation, "参加支援事業": Program.participation,
}
PROGRAM_WORDS = {Program.multi_agency: "多機関協働", Program.outreach: "アウトリーチ",
                 Program.participation: "参加支援"}
KINDS = {"重層的支援会議": MeetingKind.support_plan, "支援会議": MeetingKind.confidential}
YES_NO = {"あり": True, "有": True, "なし": False, "無": False}
HOWS = {"招待": "invitation"}
CONCERNS = {
    "健康・障害": Concern.health_disability, "住まい": Concern.housing, "収入": Concern.income,
    "債務": Concern.debt, "仕事": Concern.work, "家族": Concern.family,
    "子育て": Concern.childcare, "介護": Concern.care, "ひきこもり": Concern.withdrawal,
    "虐待・DV": Concern.abuse_dv, "食料": Concern.food, "その他": Concern.other,
}
HOUSEHOLDS = {"単身": "single", "夫婦": "couple", "子どもと同居": "with_children",
              "親と同居": "with_parents", "多世代": "multi_generation", "その他": "other"}
ROUTES = {"本人": "self", "家族": "family", "関係機関": "agency", "民生委員": "minsei",
          "近隣住民": "neighbour", "アウトリーチ": "outreach", "その他": "other"}
URGENCIES = {"高": "high", "中": "medium", "低": "low"}
#: Where a list of ids is written in one cell.
LIST_SEPARATORS = "、,，;；/／ \n"
