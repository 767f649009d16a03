"""Reading a 相談機関一覧表 file (CSV from Excel, or YAML) and planning the directory events.

Pure: bytes in, entries and row errors out; entries and the current directory in, events
out. The whole file is checked before anything is planned, so a bad file changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

from contracts.base import ID_PATTERN, DomainEvent
from contracts.common import AGENCY_CATEGORIES
from contracts.directory import (
    AgencyRegistered,
    AgencyRetired,
    AgencyUpdated,
    reserved_agency_id,
)

#: Column names accepted for each field (Japanese first, as Excel sheets have them).
COLUMNS: dict[str, tuple[str, ...]] = {
    "agency_id": ("機関ID", "機関コード", "agency_id", "id"),
    "name": ("機関名", "名称", "name"),
    "kana": ("フリガナ", "ふりがな", "kana"),
    "category": ("分類", "種別", "category"),
    "contact": ("連絡先", "電話番号", "contact"),
    "verified_at": ("確認日", "最終確認日", "verified_at"),
    "can_triage": ("振り分け", "トリアージ", "can_triage"),
}
LABELS = {key: names[0] for key, names in COLUMNS.items()}
REQUIRED = ("agency_id", "name", "category", "verified_at")
TRUE = {"1", "true", "yes", "y", "はい", "○", "◯", "可"}
FALSE = {"", "0", "false", "no", "n", "いいえ", "×", "不可", "-"}
#: The server refuses atomic batches above 1000 messages.
MAX_BATCH = 1000

_ID = re.compile(ID_PATTERN)
_REIWA = re.compile(r"^(?:令和|R)(\d{1,2}|元)[年./-](\d{1,2})[月./-](\d{1,2})日?$")
_SLASHED = re.compile(r"^(\d{4})[/.年-](\d{1,2})[/.月-](\d{1,2})日?$")


@dataclass(frozen=True)
class Entry:
    line: int
    agency_id: str
    name: str
    category: str
    verified_at: date
    kana: str | None = None
    contact: str | None = None
    can_triage: bool | None = None  # None: the file has no such column, keep what is stored


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def decode(raw: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), else Shift_JIS/cp932."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932")
    except UnicodeDecodeError as exc:
        raise ValueError("the file is neither UTF-8 nor Shift_JIS (cp932) text") from exc


def parse_date(text: str) -> date:
    """2025-04-01, 2025/4/1, 2025年4月1日, 令和7年4月1日, R7.4.1."""
    s = unicodedata.normalize("NFKC", text).strip()
    m = _REIWA.match(s)
    if m:
        year = 1 if m.group(1) == "元" else int(m.group(1))
        return date(2018 + year, int(m.group(2)), int(m.group(3)))
    m = _SLASHED.match(s)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return date.fromisoformat(s)


def _header_map(headers: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Field -> column name as written; and the unknown columns."""
    found: dict[str, str] = {}
    unknown = []
    for raw in headers:
        name = unicodedata.normalize("NFKC", str(raw)).strip()
        for key, names in COLUMNS.items():
            if name.lower() in {n.lower() for n in names}:
                found[key] = str(raw)
                break
        else:
            if name:
                unknown.append(name)
    return found, unknown


def _entry(line: int, values: Mapping[str, Any], columns: dict[str, str],
           categories: set[str], today: date) -> tuple[Entry | None, list[RowError]]:
    errors: list[RowError] = []

    def get(key: str) -> str:
        raw = values.get(columns[key]) if key in columns else None
        return "" if raw is None else str(raw).strip()

    def bad(key: str, reason: str) -> None:
        errors.append(RowError(line, LABELS[key], reason))

    agency_id = get("agency_id")
    if not agency_id:
        bad("agency_id", "required")
    elif not _ID.match(agency_id):
        bad("agency_id", f"{agency_id!r} is not a valid id (letters, digits, - and _, "
                         "at most 64, no spaces or dots)")
    elif reserved := reserved_agency_id(agency_id):
        bad("agency_id", reserved)
    name = get("name")
    if not name:
        bad("name", "required")
    for key in ("name", "kana", "contact"):
        if len(get(key)) > 200:
            bad(key, "longer than 200 characters")
    category = get("category")
    if not category:
        bad("category", "required")
    elif category not in categories:
        bad("category", _unknown_category(category, categories))
    verified: date | None = None
    raw_date = values.get(columns["verified_at"]) if "verified_at" in columns else None
    if isinstance(raw_date, date):
        verified = raw_date  # YAML dates arrive parsed
    elif not get("verified_at"):
        bad("verified_at", "required")
    else:
        try:
            verified = parse_date(get("verified_at"))
        except ValueError:
            bad("verified_at", f"{get('verified_at')!r} is not a date (e.g. 2025-04-01, "
                               "2025/4/1, 令和7年4月1日)")
    if verified is not None and verified > today:
        bad("verified_at", f"{verified} is in the future")
    if verified is not None and verified.year < 1900:
        bad("verified_at", f"{verified} is not a plausible date")
    can_triage: bool | None = None
    if "can_triage" in columns and values.get(columns["can_triage"]) is not None:
        flag = get("can_triage").lower()
        if flag in TRUE:
            can_triage = True
        elif flag in FALSE:
            can_triage = False
        else:
            bad("can_triage", f"{flag!r} is not yes/no (○, 1, true / 空欄, 0, false)")
    if errors or verified is None:
        return None, errors
    return Entry(line, agency_id, name, category, verified, get("kana") or None,
                 get("contact") or None, can_triage), []


def _finish(parsed: Parsed, rows: Iterable[tuple[int, Mapping[str, Any]]],
            columns: dict[str, str], categories: set[str], today: date) -> Parsed:
    missing = [LABELS[k] for k in REQUIRED if k not in columns]
    if missing:
        parsed.errors.append(RowError(1, "header", f"missing column(s): {', '.join(missing)}"))
        return parsed
    seen: dict[str, int] = {}
    for line, values in rows:
        entry, errors = _entry(line, values, columns, categories, today)
        parsed.errors.extend(errors)
        if entry is None:
            continue
        if entry.agency_id in seen:
            parsed.errors.append(RowError(line, LABELS["agency_id"],
                                          f"{entry.agency_id!r} already appears on line "
                                          f"{seen[entry.agency_id]}"))
            continue
        seen[entry.agency_id] = line
        parsed.entries.append(entry)
    return parsed


def _unknown_category(category: str, categories: set[str]) -> str:
    """Name the nearest categories and list them all: the list is closed (seed 004)."""
    import difflib

    ordered = [c for c in AGENCY_CATEGORIES if c in categories]
    ordered += sorted(categories - set(ordered))
    near = difflib.get_close_matches(category, ordered, n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    return (f"{category!r} is not a category{hint} The categories are: {'、'.join(ordered)} "
            "(seed 004's list, plus TSUNAGU_EXTRA_AGENCY_CATEGORIES)")


def parse_csv(text: str, categories: set[str], today: date) -> Parsed:
    parsed = Parsed()
    reader = csv.reader(io.StringIO(text))
    try:
        headers = next(reader)
    except StopIteration:
        parsed.errors.append(RowError(1, "header", "the file is empty"))
        return parsed
    columns, _ = _header_map(headers)
    rows: list[tuple[int, dict[str, Any]]] = []
    start = reader.line_num + 1
    for record in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue  # blank lines Excel leaves at the end
        if len(record) > len(headers):
            parsed.errors.append(RowError(line, "row", f"{len(record)} cells but "
                                                       f"{len(headers)} columns"))
            continue
        rows.append((line, dict(zip(headers, record, strict=False))))
    return _finish(parsed, rows, columns, categories, today)


def parse_yaml(text: str, categories: set[str], today: date) -> Parsed:
    """A list of mappings, or ``{agencies: [...]}``; keys as the CSV columns."""
    parsed = Parsed()
    try:
        root = yaml.compose(text)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        parsed.errors.append(RowError(mark.line + 1 if mark else 1, "yaml", str(exc)))
        return parsed
    if isinstance(doc, dict) and isinstance(doc.get("agencies"), list):
        items, nodes = doc["agencies"], _value_node(root, "agencies")
    elif isinstance(doc, list):
        items, nodes = doc, root
    else:
        parsed.errors.append(RowError(1, "yaml", "expected a list of agencies "
                                                 "(or a mapping with key 'agencies')"))
        return parsed
    lines = [n.start_mark.line + 1 for n in getattr(nodes, "value", [])]
    rows: list[tuple[int, Mapping[str, Any]]] = []
    present: set[str] = set()
    for i, item in enumerate(items):
        line = lines[i] if i < len(lines) else i + 1
        if not isinstance(item, dict):
            parsed.errors.append(RowError(line, "entry", "expected a mapping of fields"))
            continue
        # Each entry may use Japanese or English keys: normalise them per entry.
        own, _ = _header_map(str(k) for k in item)
        values = {key: item.get(col, item.get(_yaml_key(item, col))) for key, col in own.items()}
        present |= set(values)
        rows.append((line, values))
    columns = {key: key for key in present}
    return _finish(parsed, rows, columns, categories, today)


def _yaml_key(item: dict[Any, Any], col: str) -> Any:
    return next((k for k in item if str(k) == col), col)


def _value_node(root: Any, key: str) -> Any:
    for k, v in getattr(root, "value", []):
        if getattr(k, "value", None) == key:
            return v
    return None


def parse_file(name: str, raw: bytes, extra_categories: Iterable[str], today: date) -> Parsed:
    categories = set(AGENCY_CATEGORIES) | set(extra_categories)
    try:
        text = decode(raw)
    except ValueError as exc:
        return Parsed(errors=[RowError(1, "encoding", str(exc))])
    if name.lower().endswith((".yaml", ".yml")):
        return parse_yaml(text, categories, today)
    return parse_csv(text, categories, today)


# ---- planning the events -----------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    """An agency as the directory has it now (folded from its events)."""

    agency_id: str
    active: bool
    last_seq: int
    name: str = ""
    kana: str | None = None
    category: str = ""
    contact: str | None = None
    verified_at: date | None = None
    can_triage: bool = False


def fold_current(events: Iterable[tuple[int, DomainEvent]]) -> dict[str, Current]:
    out: dict[str, Current] = {}
    for seq, e in events:
        if isinstance(e, AgencyRegistered | AgencyUpdated):
            out[e.agency_id] = Current(e.agency_id, True, seq, e.name, e.kana, e.category,
                                       e.contact, e.verified_at, e.can_triage)
        elif isinstance(e, AgencyRetired) and e.agency_id in out:
            prev = out[e.agency_id]
            out[e.agency_id] = Current(**{**prev.__dict__, "active": False, "last_seq": seq})
    return out


def plan(entries: list[Entry], current: dict[str, Current], *, retire_missing: bool,
         retire_reason: str) -> list[DomainEvent]:
    """Register what is new (or was retired), update what changed, optionally retire what
    the file no longer lists. Unchanged entries produce nothing, so re-importing is a no-op."""
    events: list[DomainEvent] = []
    for e in entries:
        now = current.get(e.agency_id)
        can_triage = e.can_triage if e.can_triage is not None else bool(now and now.can_triage)
        fields = dict(agency_id=e.agency_id, name=e.name, kana=e.kana, category=e.category,
                      contact=e.contact, verified_at=e.verified_at, can_triage=can_triage)
        if now is None or not now.active:
            events.append(AgencyRegistered(**fields))
        elif (now.name, now.kana, now.category, now.contact, now.verified_at,
              now.can_triage) != (e.name, e.kana, e.category, e.contact, e.verified_at,
                                  can_triage):
            events.append(AgencyUpdated(**fields))
    if retire_missing:
        listed = {e.agency_id for e in entries}
        for agency_id, now in sorted(current.items()):
            if now.active and agency_id not in listed:
                events.append(AgencyRetired(agency_id=agency_id, reason=retire_reason))
    return events
