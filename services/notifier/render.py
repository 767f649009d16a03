"""What a mail and a webhook say (pure): the case, referral or meeting id, what happened
(kind and its Japanese label), when (JST) and where to look. Never a person's data: only the
fields in ``SAFE_FIELDS`` are read from a feed message, so a reason, a view or anything a
future kind adds cannot reach a body.

>>> r = render({"kind": "meeting_invitation", "at": "2026-05-01T00:00:00+00:00", "seq": 3,
...             "meeting_id": "m1", "reason": "秘密"}, "npo", "key-1")
>>> r.subject
'[つなぐ] 会議への招集 (会議 m1)'
>>> "秘密" in r.text or "秘密" in r.body.decode()
False
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from contracts.jst import show_jst
from contracts.labels_ja import ja

#: The only fields of a feed message a notification may carry (ids, codes, dates).
SAFE_FIELDS = ("kind", "at", "case_id", "referral_id", "meeting_id", "decision_id", "task",
               "due_on", "scheduled_for", "code")
_ABOUT = (("case_id", "ケース"), ("meeting_id", "会議"), ("referral_id", "つなぐシート"))


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    body: bytes  # the webhook's JSON


def _about(n: dict[str, Any]) -> tuple[str, str, str]:
    """(field, id, Japanese noun) of what the message is about."""
    order = _ABOUT if not n["kind"].startswith("referral_") else _ABOUT[::-1]
    for field, noun in order:
        if n.get(field):
            return field, str(n[field]), noun
    return "", "", ""


def read_with(n: dict[str, Any], agency: str) -> dict[str, Any]:
    """Where to read the whole of it: the query (as an agency system asks it) and the CLI."""
    field, value, _ = _about(n)
    if field == "case_id":
        return {"query": "case_view", "args": {"case_id": value},
                "cli": f"tsunagu case show {value} --as {agency}"}
    if field == "meeting_id":
        return {"query": "meeting_agenda", "args": {"meeting_id": value},
                "cli": f"tsunagu meetings --as {agency} --all"}
    return {"query": "referral", "args": {"referral_id": value},
            "cli": f"tsunagu inbox --as {agency}"}


def payload(n: dict[str, Any], agency: str, key: str) -> dict[str, Any]:
    """The webhook's JSON: the safe fields, the label, the time in JST, where to look."""
    out: dict[str, Any] = {f: n[f] for f in SAFE_FIELDS if n.get(f) is not None}
    out.update(agency_id=agency, idempotency_key=key, label=ja("feed_kind", n["kind"]),
               at_jst=show_jst(n["at"]), read_with=read_with(n, agency))
    if out.get("task"):
        out["task_label"] = ja("task", out["task"])
    return out


def _lines(n: dict[str, Any], agency: str) -> list[str]:
    _, value, noun = _about(n)
    where = read_with(n, agency)
    lines = [f"{agency} 御中", "", "つなぐからのお知らせです。",
             f"内容: {ja('feed_kind', n['kind'])}", f"対象: {noun} {value}",
             f"日時: {show_jst(n['at'])}"]
    if n.get("scheduled_for"):
        lines.append(f"開催予定: {show_jst(n['scheduled_for'])}")
    if n.get("due_on"):
        lines.append(f"期日: {date.fromisoformat(n['due_on']).isoformat()} "
                     f"({ja('task', n.get('task'))})")
    if n.get("code"):
        lines.append(f"理由コード: {n['code']}")
    lines += [f"確認方法: {where['cli']}", f"  (問い合わせ {where['query']} "
              f"{json.dumps(where['args'], ensure_ascii=False)})"]
    return lines


FOOTER = ["", "このお知らせには個人情報を含めていません。詳しくはつなぐで確認してください。",
          "(通知の設定: tsunagu notify settings show --as あなたの機関ID)"]


def render(n: dict[str, Any], agency: str, key: str) -> Rendered:
    """One feed message as a mail (subject, text) and a webhook body."""
    _, value, noun = _about(n)
    subject = f"[つなぐ] {ja('feed_kind', n['kind'])} ({noun} {value})"
    body = json.dumps(payload(n, agency, key), ensure_ascii=False, sort_keys=True)
    return Rendered(subject, "\n".join([*_lines(n, agency), *FOOTER]), body.encode())


def render_digest(items: list[dict[str, Any]], agency: str, day: str) -> tuple[str, str]:
    """A day's messages in one mail (subject, text), oldest first."""
    items = sorted(items, key=lambda n: datetime.fromisoformat(n["at"]))
    parts = [f"{agency} 御中", "", f"つなぐからの {day} のお知らせ ({len(items)} 件) です。"]
    for n in items:
        _, value, noun = _about(n)
        parts += ["", f"- {ja('feed_kind', n['kind'])}: {noun} {value} "
                      f"({show_jst(n['at'])})", f"  確認方法: {read_with(n, agency)['cli']}"]
    return f"[つなぐ] {day} のお知らせ {len(items)} 件", "\n".join([*parts, *FOOTER])


def safe(n: dict[str, Any]) -> dict[str, Any]:
    """What the notifier keeps of a feed message (its projection stores only this)."""
    return {f: n[f] for f in SAFE_FIELDS if n.get(f) is not None}
