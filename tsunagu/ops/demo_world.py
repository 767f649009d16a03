"""The demo's fixed world: agencies in seed 004's categories, names, reasons, calendars."""

from __future__ import annotations

from datetime import date, timedelta

#: (id, name, category, can_triage). The coordinating division and the 社協 triage.
AGENCIES: tuple[tuple[str, str, str, bool], ...] = (
    ("ag-fukushi-soudan", "福祉相談課（多機関協働）", "その他行政の担当部署", True),
    ("ag-shakyo", "市社会福祉協議会", "社会福祉協議会", True),
    ("ag-houkatsu-chuo", "中央地域包括支援センター", "地域包括支援センター", False),
    ("ag-houkatsu-higashi", "東部地域包括支援センター", "地域包括支援センター", False),
    ("ag-houkatsu-nishi", "西部地域包括支援センター", "地域包括支援センター", False),
    ("ag-houkatsu-kita", "北部地域包括支援センター", "地域包括支援センター", False),
    ("ag-kikan-soudan", "基幹相談支援センター", "基幹相談支援センター", False),
    ("ag-shougai-center", "障害者相談支援センターみなみ", "障害者相談支援センター", False),
    ("ag-shougai-jigyosho", "相談支援事業所あおば", "障害者相談支援事業所", False),
    ("ag-jiritsu", "くらし自立相談支援センター", "自立相談支援機関", False),
    ("ag-seikatsu-hogo", "生活福祉課（生活保護）", "生活保護担当部署", False),
    ("ag-hellowork", "ハローワーク中央", "ハローワーク", False),
    ("ag-shimin-byoin", "市民病院 地域連携室", "医療機関", False),
    ("ag-kokoro-clinic", "こころのクリニック", "医療機関", False),
    ("ag-hoken-center", "保健センター", "保健担当部署", False),
    ("ag-shougai-fukushi", "障害福祉課", "障害担当部署", False),
    ("ag-kourei-kaigo", "高齢介護課", "高齢担当部署", False),
    ("ag-kodomo-katei", "子ども家庭課", "子ども家庭担当部署", False),
    ("ag-kyoiku-iinkai", "教育委員会 学校教育課", "教育委員会", False),
    ("ag-chugakko", "市立第一中学校", "学校", False),
    ("ag-jidou-soudan", "児童相談所", "児童相談所", False),
    ("ag-keisatsu", "中央警察署 生活安全課", "警察", False),
    ("ag-minsei", "民生委員児童委員協議会", "民生委員・児童委員", False),
    ("ag-npo-hikikomori", "NPO法人 ひだまり（ひきこもり支援）", "NPO法人", False),
    ("ag-npo-kodomo-shokudo", "NPO法人 こども食堂ネット", "NPO法人", False),
    ("ag-foodbank", "フードバンクみなと", "フードバンク", False),
    ("ag-kyotaku", "居宅介護支援事業所さくら", "居宅介護支援事業所", False),
    ("ag-saposute", "地域若者サポートステーション", "地域若者サポートステーション", False),
    ("ag-shuro-junbi", "就労準備支援事業所", "就労準備支援機関", False),
    ("ag-kakei", "家計改善支援センター", "家計改善支援機関", False),
    ("ag-kenri-yougo", "権利擁護センター", "権利擁護センター", False),
    ("ag-hou-terasu", "法テラス", "法テラス", False),
    ("ag-jutaku", "住宅政策課", "住宅担当部署", False),
    ("ag-fudousan", "あんしん不動産", "不動産・保証会社", False),
    ("ag-zeimu", "税務課（納税相談）", "税担当部署", False),
    ("ag-hoken-nenkin", "保険年金課", "保険・年金担当部署", False),
    ("ag-josei-soudan", "女性相談支援センター", "女性相談", False),
    ("ag-tabunka", "多文化共生相談センター", "多文化共生相談センター", False),
    ("ag-jichikai", "中央地区自治会連合会", "地域住民等", False),
    ("ag-nintei-kunren", "認定就労訓練事業所 みらい工房", "認定就労訓練事業所", False),
    ("ag-lifeline", "ガス・水道 お客様センター", "ライフライン民間事業者", False),
    ("ag-hogo-kansatsu", "保護観察所", "保護観察所", False),
)

COORDINATORS = ("ag-fukushi-soudan", "ag-shakyo")
#: Who usually notices someone and sends a つなぐシート.
REFERRERS = (
    "ag-houkatsu-chuo", "ag-houkatsu-higashi", "ag-houkatsu-nishi", "ag-houkatsu-kita",
    "ag-kikan-soudan", "ag-jiritsu", "ag-seikatsu-hogo", "ag-shimin-byoin", "ag-hoken-center",
    "ag-kodomo-katei", "ag-chugakko", "ag-minsei", "ag-npo-hikikomori", "ag-kyotaku",
    "ag-lifeline", "ag-zeimu", "ag-keisatsu", "ag-shougai-center",
)
#: Who takes roles in plans.
SUPPORTERS = (
    "ag-jiritsu", "ag-hellowork", "ag-kokoro-clinic", "ag-hoken-center", "ag-kakei",
    "ag-foodbank", "ag-saposute", "ag-shuro-junbi", "ag-npo-hikikomori", "ag-kenri-yougo",
    "ag-hou-terasu", "ag-jutaku", "ag-fudousan", "ag-shougai-jigyosho", "ag-kyotaku",
    "ag-houkatsu-chuo", "ag-houkatsu-higashi", "ag-seikatsu-hogo", "ag-nintei-kunren",
    "ag-npo-kodomo-shokudo",
)
#: Standing members of the monthly meetings.
CORE_MEMBERS = (
    "ag-fukushi-soudan", "ag-shakyo", "ag-houkatsu-chuo", "ag-kikan-soudan", "ag-jiritsu",
    "ag-hoken-center",
)
#: Agencies consulting 参加支援 about someone not yet identified (関係機関).
PARTICIPATION_AGENCIES = (
    "ag-minsei", "ag-jichikai", "ag-npo-hikikomori", "ag-chugakko", "ag-lifeline",
    "ag-houkatsu-kita",
)

FAMILY = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
          "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "清水", "山崎")
FAMILY_KANA = ("サトウ", "スズキ", "タカハシ", "タナカ", "イトウ", "ワタナベ", "ヤマモト",
               "ナカムラ", "コバヤシ", "カトウ", "ヨシダ", "ヤマダ", "ササキ", "ヤマグチ",
               "マツモト", "イノウエ", "キムラ", "ハヤシ", "シミズ", "ヤマザキ")
GIVEN_M = (("健太", "ケンタ"), ("大輔", "ダイスケ"), ("誠", "マコト"), ("翔", "ショウ"),
           ("隆", "タカシ"), ("浩二", "コウジ"), ("勇気", "ユウキ"), ("茂", "シゲル"))
GIVEN_F = (("陽子", "ヨウコ"), ("美咲", "ミサキ"), ("恵子", "ケイコ"), ("さくら", "サクラ"),
           ("直美", "ナオミ"), ("和子", "カズコ"), ("彩", "アヤ"), ("千尋", "チヒロ"))
TOWNS = ("中央", "東町", "西町", "北町", "南町", "緑が丘", "桜台", "港町")

SITUATIONS = (
    "80代の親と50代の子の世帯。子は長くひきこもり、親の年金で生活している（8050）。",
    "家賃滞納が続き、退去を求められている。就労が途切れ収入がない。",
    "介護と育児が重なり、本人が心身ともに疲弊している（ダブルケア）。",
    "多重債務があり、ライフラインの停止が迫っている。",
    "精神的な不調で通院が途切れ、近隣とのトラブルが増えている。",
    "ごみが溜まり、近隣から相談があった。本人は支援を望んでいない。",
    "若年の単身者。就労経験が少なく、生活費に困っている。",
    "外国籍の家族。制度の情報が届かず、子の就学に課題がある。",
)
GOALS = (
    "安定した住まいで、地域とつながりながら暮らす",
    "無理のない形で働き、生活費を自分で賄えるようになる",
    "家族の介護負担を減らし、本人の健康を取り戻す",
    "債務を整理し、家計の見通しを立てる",
)
SHORT_GOALS = ("月1回の面談を続ける", "就労準備プログラムに参加する", "家計簿をつける",
               "通院を再開する", "サロンに参加する")
ROLES = ("面談と見守り", "就労支援", "家計相談", "通院同行", "食料支援", "住まい探し",
         "居場所の提供", "法律相談", "訪問看護との連携")
CLOSE_REASONS = ("課題が整理され、支援の見通しが立ったため", "就労により生活が安定したため",
                 "転居により地域の支援機関へ引き継いだため")
SUSPEND_REASONS = ("本人の入院により中断", "本人と連絡が取れなくなったため")

#: The two fiscal years the demo covers, up to the seed's report date.
START = date(2024, 4, 1)
END = date(2025, 11, 30)


def third_wednesday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (2 - first.weekday()) % 7  # Wednesday is 2
    return first + timedelta(days=offset + 14)


def second_tuesday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (1 - first.weekday()) % 7
    return first + timedelta(days=offset + 7)


def months(start: date, end: date) -> list[tuple[int, int]]:
    out = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
