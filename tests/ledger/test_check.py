"""The template, reading xlsx and CSV, and ``--check``: every error names sheet, row, column."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from tests.ledger import seedbook, small
from tsunagu.cli import build
from tsunagu.ledger import sheets as s
from tsunagu.ledger.load import load_ledger

SAMPLE = Path(__file__).parents[2] / "docs" / "examples"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_template_has_every_sheet_with_its_japanese_headers(tmp_path: Path) -> None:
    code, out, _ = cli("ledger", "template", str(tmp_path / "台帳.xlsx"))
    assert code == 0, out
    wb = load_workbook(tmp_path / "台帳.xlsx")
    assert wb.sheetnames[:5] == ["相談者", "事業の利用", "連携機関", "プラン", "会議"]
    for sheet in s.SHEETS:
        assert [c.value for c in wb[sheet.name][1]] == [c.header for c in sheet.columns]
    assert wb["事業の利用"]["B1"].value == "事業" and wb["会議"]["C1"].value == "開催日"
    # The blank template is a valid, empty ledger.
    code, out, _ = cli("ledger", "import", str(tmp_path / "台帳.xlsx"), "--check", "--json")
    assert code == 0 and json.loads(out)["commands"] == 0


def test_the_template_is_not_written_over_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "台帳.xlsx"
    target.write_bytes(b"keep me")
    code, _, err = cli("ledger", "template", str(target))
    assert code == 2 and "exists" in err
    assert target.read_bytes() == b"keep me"


def test_check_validates_without_sending_anything(tmp_path: Path) -> None:
    # No NATS at this address: --check must not need one.
    path = small.write(tmp_path / "l.xlsx")
    code, out, err = cli("ledger", "import", str(path), "--check", "--json",
                         "--nats-url", "nats://127.0.0.1:1")
    assert code == 0, err
    report = json.loads(out)
    assert report["rows"] == {"相談者": 3, "事業の利用": 4, "連携機関": 1, "プラン": 1, "会議": 2}
    assert report["commands"] > 0 and report["errors"] == []


def test_errors_name_the_sheet_the_row_and_the_column(tmp_path: Path) -> None:
    data = small.rows()
    data["相談者"][1][6] = "男の子"  # 性別, row 3
    data["事業の利用"][0][2] = "2025-13-01"  # 開始日, row 2
    data["事業の利用"].append(["Z-9", "参加支援", "2025-06-01", None, None])  # row 6
    data["連携機関"][0][2] = "2025-04-01"  # before A-1 opened (2025-04-10)
    data["会議"][0][4] = None  # 出席機関 missing
    code, _, err = cli("ledger", "import", str(small.write(tmp_path / "bad.xlsx", data)),
                       "--check")
    assert code == 1
    assert "相談者 row 3 column 性別: '男の子' is not one of" in err
    assert "事業の利用 row 2 column 開始日: '2025-13-01' is not a date" in err
    assert "会議 row 2 column 出席機関: required" in err
    # Rules across sheets are checked once every cell is readable.
    data = small.rows()
    data["事業の利用"].append(["Z-9", "参加支援", "2025-06-01", None, None])
    data["連携機関"][0][2] = "2025-04-01"
    data["相談者"][0][12] = "なし"  # A-1 without consent cannot have its plan
    _, _, errors = load_ledger(small.write(tmp_path / "rules.xlsx", data))
    text = [str(e) for e in errors]
    assert "事業の利用 row 6 column 相談者番号: no 相談者 Z-9" in text
    assert any(t.startswith("連携機関 row 2 column 連携日: 2025-04-01 is before the case "
                            "opened (2025-04-10)") for t in text)
    assert any(t.startswith("プラン row 2 column 相談者番号: A-1 has no 本人同意") for t in text)
    # A 支援会議 does not need consent; a 重層的支援会議 does.
    data = small.rows()
    data["会議"][1][1] = "重層的支援会議"  # C-1 discusses A-2, who has no consent
    _, _, errors = load_ledger(small.write(tmp_path / "kind.xlsx", data))
    assert [str(e) for e in errors] == [
        "会議 row 3 column 検討した相談者: A-2 has no 本人同意 by 2025-07-20: without consent "
        "a case goes to a 支援会議, not a 重層的支援会議"]


def test_the_csv_form_reads_as_the_workbook_does(tmp_path: Path) -> None:
    _, from_xlsx, e1 = load_ledger(small.write(tmp_path / "l.xlsx"))
    _, from_csv, e2 = load_ledger(small.write(tmp_path / "l.csv"))
    assert not e1 and not e2
    assert [(x.command, x.payload) for x in from_xlsx] == [(x.command, x.payload)
                                                             for x in from_csv]


def test_a_csv_with_an_unknown_section_or_column_is_refused(tmp_path: Path) -> None:
    text = small.write(tmp_path / "l.csv").read_text(encoding="utf-8")
    path = tmp_path / "bad.csv"
    path.write_text(text.replace("[会議]", "[会議録]").replace("連携日", "連携した日"),
                    encoding="utf-8")
    _, _, errors = load_ledger(path)
    text_errors = [str(e) for e in errors]
    assert any(t.startswith("会議録 row") and "unknown sheet" in t for t in text_errors)
    assert "会議: section [会議] is missing" in text_errors
    assert any("連携機関 row 1 column 連携した日: unknown column" in t for t in text_errors)


def test_the_shipped_sample_is_seed_004s_year_in_both_forms(tmp_path: Path) -> None:
    book, _ = seedbook.build()
    fresh, _, errors = load_ledger(small.write(tmp_path / "fresh.xlsx", book.rows))
    assert not errors
    shipped, steps, errors = load_ledger(SAMPLE / "ledger-sample.xlsx")
    assert not errors
    assert shipped == fresh  # every row of every sheet, as the test's truth was built
    _, from_csv, errors = load_ledger(SAMPLE / "ledger-sample.csv")
    assert not errors
    assert [x.payload for x in steps] == [x.payload for x in from_csv]


def test_a_cell_the_import_would_drop_is_an_error(tmp_path: Path) -> None:
    data = small.rows()
    data["相談者"][1][4] = "houkatsu-1"  # A-2 starts in アウトリーチ: no つなぐシート
    data["相談者"][1][9] = "近所の方から"  # so no 相談の概要 either
    data["相談者"][2][5] = "ある方"  # A-3 is a 関係機関 subject: no personal data
    data["相談者"][2][16] = "高"  # and no assessment, so no 緊急性
    data["事業の利用"][0][4] = "転居"  # A-1's use has not ended: no 終了理由
    _, _, errors = load_ledger(small.write(tmp_path / "l.xlsx", data))
    assert [str(e) for e in errors] == [
        "相談者 row 3 column 紹介元機関: only a case that starts in 多機関協働 comes by a "
        "つなぐシート (its first 事業の利用 is not 多機関協働)",
        "相談者 row 3 column 相談の概要: 相談の概要 goes on the つなぐシート: only for a case "
        "that starts in 多機関協働",
        "相談者 row 4 column 緊急性: part of the intake assessment: give its アセスメント日",
        "相談者 row 4 column 氏名: a 関係機関 subject carries no personal data (no person is "
        "identified yet)",
        "事業の利用 row 2 column 終了理由: 終了理由 without 終了日",
    ]


def test_a_broken_csv_is_refused_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("[相談者]\n相談者番号\n\"" + "x" * 200_000 + "\"\n", encoding="utf-8")
    code, _, err = cli("ledger", "import", str(path), "--check")
    assert code == 2 and "not a readable CSV file" in err


def test_a_sheet_wider_than_the_layout_allows_is_refused(tmp_path: Path) -> None:
    from openpyxl import load_workbook as open_book

    path = small.write(tmp_path / "wide.xlsx")
    wb = open_book(path)
    wb["連携機関"].cell(row=2, column=70, value="メモ")
    wb.save(path)
    _, _, errors = load_ledger(path)
    assert "連携機関 row 1: more than 64 columns (see the template)" in [str(e) for e in errors]
