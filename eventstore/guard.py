"""What a service checks before it acts on a message from outside: the reply subject it is
asked to answer on, and the body's size and shape. Pure functions, shared by every service.

Reply subjects. A service answers with its own permissions, which are wide (the event
stream, the key bucket, every feed), on a subject the *sender* chose. Answering
``<prefix>.events.…`` or ``$KV.…`` would make the service a confused deputy, so a service
answers only inbox subjects: ``_INBOX.`` (clients in the platform's account) and ``_R_.``
(the replies nats-server maps for requests that arrive through an account's service
import). Admin subjects answer only the operator's and the admin's inboxes.

    >>> reply_refusal("_INBOX.agency.A.x1", INBOX_PREFIXES) is None
    True
    >>> reply_refusal("tsunagu.events.case.X.Foo", INBOX_PREFIXES)
    'reply_not_inbox'

Bodies. Limits are checked before (and while) parsing: size, then UTF-8, then nesting depth
(a pre-scan, so the parser never recurses deeply), numbers of at most 20 digits and within
int64 (the parser's hooks), no NaN/Infinity, and no lone surrogates in any string.

    >>> parse_json(b'{"case_id": "k-1"}', limit=1024)
    {'case_id': 'k-1'}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import structlog

from eventstore.errors import InvalidInput

log = structlog.get_logger("tsunagu.guard")

#: Reply subjects a service answers (commands and queries).
INBOX_PREFIXES: tuple[str, ...] = ("_INBOX.", "_R_.")
#: Reply subjects admin requests (status, rebuild, replay, discover) are answered on: the
#: CLI's operator and admin connections use these inbox prefixes (tsunagu.clikit).
OPERATOR_PREFIXES: tuple[str, ...] = ("_INBOX.operator.", "_INBOX.admin.")
MAX_REPLY_SUBJECT = 256
MAX_DEPTH = 32
MAX_INT_DIGITS = 20
MAX_FLOAT_CHARS = 40
INT64 = 2**63 - 1

_TOKEN = re.compile(r"[!-~]+")  # printable ASCII without space: one subject token
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def reply_refusal(reply: str, prefixes: Sequence[str]) -> str | None:
    """None when ``reply`` may be answered, else a code saying why not."""
    if not reply:
        return "reply_missing"
    if len(reply) > MAX_REPLY_SUBJECT:
        return "reply_too_long"
    if not reply.startswith(tuple(prefixes)):
        return "reply_not_inbox"
    if any(t in ("*", ">") or not _TOKEN.fullmatch(t) for t in reply.split(".")):
        return "reply_malformed"
    return None


def first_tokens(subject: str, n: int) -> str:
    """The first ``n`` tokens, for logs: the kind of subject, never the ids after it."""
    return ".".join(subject.split(".")[:n])[:80]


class _Refused(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"a number has {digits} digits; the limit is {MAX_INT_DIGITS} digits",
                       "too_large")
    value = int(text)
    if not -INT64 - 1 <= value <= INT64:
        raise _Refused(f"a number has {digits} digits and does not fit in 64 bits",
                       "too_large")
    return value


def _float(text: str) -> float:
    if len(text) > MAX_FLOAT_CHARS:
        raise _Refused(f"a number has {len(text)} digits; the limit is {MAX_FLOAT_CHARS} digits",
                       "too_large")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"a number ({text[:20]}) is out of range", "too_large")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON (only finite numbers are)", "invalid")


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest, brackets inside strings not counted."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _not_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def lone_surrogate_at(doc: Any, path: str = "") -> str | None:
    """The path of the first string (or key) holding a lone surrogate (``"\\ud800"``),
    which JSON allows and UTF-8 cannot store; None if there is none."""
    if isinstance(doc, str):
        return path or "(payload)" if _not_unicode(doc) else None
    items: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            here = f"{path}.{key}" if path else str(key)
            if _not_unicode(key):
                return f"{path or '(payload)'} (a key)"
            items.append((here, value))
    elif isinstance(doc, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(doc)]
    for here, value in items:
        found = lone_surrogate_at(value, here)
        if found is not None:
            return found
    return None


def parse_json(raw: bytes, *, limit: int, what: str = "payload") -> Any:
    """Bytes from outside to a JSON value, or an InvalidInput (code ``invalid`` or
    ``too_large``) saying which limit or rule the bytes break."""
    if len(raw) > limit:
        raise InvalidInput(f"{what} is {len(raw)} bytes; the limit is {limit}",
                           code="too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{what} is nested {depth} levels deep; the limit is {MAX_DEPTH}",
                           code="too_large")
    try:
        doc = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Refused as exc:
        raise InvalidInput(f"{what}: {exc.message}", code=exc.code) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not JSON: {exc.msg} at line {exc.lineno}") from None
    where = lone_surrogate_at(doc)
    if where is not None:
        raise InvalidInput(f"{where}: text is not valid Unicode (a lone surrogate)",
                           details=[{"field": where, "rule": "unicode"}])
    return doc


def internal_error(exc: BaseException, **context: Any) -> dict[str, Any]:
    """The reply for an error nobody expected: a code and an incident id. The exception's
    text stays out of the reply (it may quote personal input); the log has the id and the
    traceback, so the operator can find what happened."""
    incident = uuid4().hex[:16]
    log.error("internal error", incident=incident, exc_info=exc, **context)
    return {"ok": False, "error": {"code": "internal", "message": "internal error",
                                   "details": {"incident": incident}}}
