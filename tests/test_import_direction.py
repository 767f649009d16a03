"""Imports go one way: tsunagu → services → eventstore → contracts; services never import each
other. Every module's imports are read from its syntax tree (also those inside functions and
migration scripts), so a cycle cannot hide in a late import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Lower layers first; a module may import its own layer and the layers below it.
LAYERS = ("contracts", "eventstore", "services", "tsunagu")


def _modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute name) of every import in ``source``, the text of ``module``; a
    ``from X import y`` yields ``X.y`` (y may be a submodule)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def violation(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None when the import is allowed."""
    top, target = importer.split(".")[0], imported.split(".")[0]
    if target not in LAYERS:
        return None
    if LAYERS.index(target) > LAYERS.index(top):
        return f"{top} must not import {target}"
    if top == "services" == target:
        own, other = importer.split(".")[1:2], imported.split(".")[1:2]
        if other and own != other:
            return "a service must not import another service"
    return None


def test_the_rule_refuses_an_upward_import_and_one_service_importing_another():
    assert violation("services.referral.cli", "tsunagu.clikit")
    assert violation("eventstore.commands", "services.referral.domain")
    assert violation("contracts.case", "eventstore.errors")
    assert violation("services.casefile.domain", "services.meeting.state")
    assert violation("tsunagu.areas.referral", "services.referral.domain") is None
    assert violation("services.meeting.handlers", "contracts.meeting") is None
    assert violation("services.meeting.handlers", "services.meeting.state") is None


def test_a_relative_import_is_read_as_the_module_it_names():
    source = "from .state import evolve\nfrom .. import meeting\nimport contracts.case\n"
    assert sorted(_imported(source, "services.casefile.domain")) == [
        (1, "services.casefile.state.evolve"), (2, "services.meeting"), (3, "contracts.case"),
    ]
    assert _imported("from . import rules", "services.meeting", is_package=True) == [
        (1, "services.meeting.rules"),
    ]
    assert _module_name(ROOT / "services" / "meeting" / "state.py") == "services.meeting.state"


def test_every_import_goes_down_the_layers_and_no_service_imports_another():
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: imports {name} ({why})"
        for path in _modules()
        for line, name in _imported(path.read_text(encoding="utf-8"), _module_name(path),
                                    is_package=path.name == "__init__.py")
        if (why := violation(_module_name(path), name))
    ]
    assert wrong == []


#: The domain's event modules: the kit (``eventstore/``) knows none of them. Rules two
#: services need live beside their events as pure functions, which the services call.
DOMAIN = ("contracts.directory", "contracts.case", "contracts.meeting", "contracts.referral",
          "contracts.consent")


def domain_import(imported: str) -> str | None:
    """The domain module ``imported`` names (itself or a name in it), or None."""
    return next((m for m in DOMAIN if imported == m or imported.startswith(f"{m}.")), None)


def test_the_rule_reads_a_domain_import_in_either_form():
    assert domain_import("contracts.directory.AgencyRegistered") == "contracts.directory"
    assert domain_import("contracts.directory") == "contracts.directory"
    assert domain_import("contracts.directory_extra") is None
    assert domain_import("contracts.envelope.Envelope") is None


def test_the_kit_imports_no_module_of_the_domain():
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in sorted((ROOT / "eventstore").rglob("*.py"))
        for line, name in _imported(path.read_text(encoding="utf-8"), _module_name(path),
                                    is_package=path.name == "__init__.py")
        if domain_import(name)
    ]
    assert wrong == []
