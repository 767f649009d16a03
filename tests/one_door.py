"""Finding the places that write events to the stream without a decider (for
``tests/test_one_door.py``): a syntax scan, no imports of the scanned code.

A *direct append* is a call of ``append``/``append_batch``/``_append_batch`` on something
named like a store (``store``, ``self.store``, ``world._store``), of ``append_events`` or
``append_new`` on anything, a JetStream ``publish``/``publish_async`` to an event subject
(``event_subject(...)``/``subject_of(...)`` as the subject, directly or through a local
name), or a call of a module-level function defined in the scanned code that makes one of
those, directly or through other such functions (a wrapper, such as a test's ``append``
helper), from a file importing it. Methods are not followed: a class that appends is found
in its own file. A
*door* (the directory import, the operators' audit record) is where such events are meant
to enter: calling it is not a direct append.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

STORE_METHODS = {"append", "append_batch", "_append_batch"}
ANY_RECEIVER = {"append_events", "append_new"}
PUBLISH = {"publish", "publish_async"}
EVENT_SUBJECT = {"event_subject", "subject_of"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    call: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.call}"


def _last_name(node: ast.expr) -> str:
    while isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _makes_event_subject(node: ast.AST, names: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and _last_name(sub.func) in EVENT_SUBJECT:
            return True
        if isinstance(sub, ast.Name) and sub.id in names:
            return True
    return False


class _Scan(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.direct: list[tuple[int, str, str | None]] = []  # line, call, enclosing def
        self.calls: list[tuple[int, str, str | None]] = []  # f(...) calls: line, f, in def
        self.imports: dict[str, str] = {}  # name → module it is imported from
        self.stack: list[str] = []
        self.subject_names: list[set[str]] = [set()]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.imports[alias.asname or alias.name] = node.module or ""

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # Only a module-level function is followed as a wrapper; a nested one is its own.
        self.stack.append(node.name if not self.stack else self.stack[0])
        names = {t.id for n in ast.walk(node) if isinstance(n, ast.Assign | ast.For)
                 for t in ast.walk(n.targets[0] if isinstance(n, ast.Assign) else n.target)
                 if isinstance(t, ast.Name)
                 and _makes_event_subject(n.value if isinstance(n, ast.Assign) else n.iter,
                                          set())}
        self.subject_names.append(names)
        self.generic_visit(node)
        self.subject_names.pop()
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        where = self.stack[-1] if self.stack else None
        if isinstance(func, ast.Name):
            self.calls.append((node.lineno, func.id, where))
        if isinstance(func, ast.Attribute) and self._direct(func, node):
            self.direct.append((node.lineno, ast.unparse(func), where))
        self.generic_visit(node)

    def _direct(self, func: ast.Attribute, node: ast.Call) -> bool:
        if func.attr in ANY_RECEIVER:
            return True
        if func.attr in STORE_METHODS:
            return _last_name(func.value).lower().endswith("store")
        if func.attr in PUBLISH:
            subject = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "subject"), None)
            return subject is not None and _makes_event_subject(subject,
                                                                 self.subject_names[-1])
        return False


def _module(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def scan(sources: dict[str, str], doors: frozenset[str] = frozenset()) -> list[Finding]:
    """Direct appends in ``sources`` (path → Python source), and calls of functions that
    make one, however many functions deep; ``doors``: paths whose functions are the ways
    in, so calling them is not one."""
    scans = {}
    for path, text in sources.items():
        s = _Scan(path)
        s.visit(ast.parse(text, filename=path))
        scans[path] = s

    def target(s: _Scan, name: str) -> tuple[str, str]:
        return (s.imports[name] if name in s.imports else _module(s.path), name)

    wrappers = {(_module(path), where) for path, s in scans.items() if path not in doors
                for _, _, where in s.direct if where}
    while True:
        more = {(_module(path), where) for path, s in scans.items() if path not in doors
                for _, name, where in s.calls
                if where and target(s, name) in wrappers} - wrappers
        if not more:
            break
        wrappers |= more
    found = [Finding(path, line, call) for path, s in scans.items() for line, call, _ in s.direct]
    found += [Finding(path, line, f"{name}() (makes a direct append, {target(s, name)[0]})")
              for path, s in scans.items() for line, name, _ in s.calls
              if target(s, name) in wrappers and target(s, name)[0] != _module(path)]
    return sorted(set(found), key=lambda f: (f.path, f.line))


def sources_under(root: Path, folders: tuple[str, ...], skip: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for folder in folders:
        for file in sorted((root / folder).rglob("*.py")):
            rel = file.relative_to(root).as_posix()
            if not any(rel.startswith(s) for s in skip):
                out[rel] = file.read_text(encoding="utf-8")
    return out
