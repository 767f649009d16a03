"""A small ledger to edit in tests: three people, one meeting, one plan, one link."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

from tsunagu.ledger import sheets as s
from tsunagu.ledger.template import to_csv, write_xlsx

_ROWS: dict[str, list[list[Any]]] = {
    s.PERSONS.name: [
        # 番号, 種別, 関係機関ID, 受付機関, 紹介元機関, 氏名, 性別, 生年月日, 年代, 概要, 主訴,
        # 申込日, 同意, アセスメント日, 世帯, 経路, 緊急性, 状況
        ["A-1", "本人", None, "shakyo", "houkatsu-1", "山田 太郎", "男性", date(1970, 5, 1),
         None, "家賃の滞納", "住まい", date(2025, 4, 12), "あり", date(2025, 4, 20), "単身",
         "関係機関", "中", "家賃の滞納が続く"],
        ["A-2", None, None, "shakyo", None, None, "女性", None, "20代", None, None,
         None, None, None, None, None, None, None],
        ["A-3", "関係機関", "npo-1", "shakyo", None, None, None, None, None, None, None,
         None, None, None, None, None, None, None],
    ],
    s.USES.name: [
        ["A-1", "多機関協働", date(2025, 4, 10), None, None],
        ["A-2", "アウトリーチ", date(2025, 5, 1), date(2025, 8, 31), "終結"],
        ["A-2", "参加支援", date(2025, 6, 1), None, None],
        ["A-3", "参加支援", date(2025, 7, 1), None, None],
    ],
    s.LINKS.name: [["A-1", "hw-1", date(2025, 6, 3), "招待"]],
    s.PLANS.name: [["A-1", "多機関協働", date(2025, 5, 8), date(2025, 5, 15), "M-1",
                    "shakyo、houkatsu-1", "安定した住まい", "家計の立て直し"]],
    s.MEETINGS.name: [
        ["M-1", "重層的支援会議", date(2025, 5, 15), "shakyo", "shakyo、houkatsu-1", None],
        ["C-1", "支援会議", date(2025, 7, 20), "shakyo", "shakyo、houkatsu-1", "A-2"],
    ],
}
AGENCIES = {"shakyo": "社会福祉協議会", "houkatsu-1": "地域包括支援センター",
            "hw-1": "ハローワーク", "npo-1": "NPO法人"}


def rows() -> dict[str, list[list[Any]]]:
    return copy.deepcopy(_ROWS)


def write(path: Path, data: dict[str, list[list[Any]]] | None = None) -> Path:
    data = rows() if data is None else data
    if path.suffix == ".csv":
        path.write_text(to_csv(data), encoding="utf-8")
    else:
        write_xlsx(path, data)
    return path


def directory_csv() -> str:
    lines = ["機関ID,機関名,分類,確認日,振り分け"]
    lines += [f"{a},{a},{c},2025-04-01,{'可' if a == 'shakyo' else ''}"
              for a, c in AGENCIES.items()]
    return "\n".join(lines) + "\n"
