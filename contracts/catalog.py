"""The registry of every event and command type, built from the contract modules."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts import (  # noqa: F401  (imported for their subclasses)
    case,
    consent,
    directory,
    meeting,
    notify,
    ops,
    person,
    referral,
    stats,
)
from contracts.base import Command, DomainEvent


def _leaves(base: type[BaseModel]) -> list[type[BaseModel]]:
    """Concrete subclasses: those whose ``type`` field has a default (a Literal name)."""
    found: list[type[BaseModel]] = []
    for sub in base.__subclasses__():
        found.extend(_leaves(sub))
        field = sub.model_fields.get("type")
        # Only the public contracts: a service's internal command (never on NATS) is not one.
        public = sub.__module__.startswith("contracts.")
        if public and field is not None and isinstance(field.default, str) and field.default:
            found.append(sub)
    return found


def _index(base: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cls in _leaves(base):
        name = cls.model_fields["type"].default
        if name in out and out[name] is not cls:
            raise RuntimeError(f"two contracts claim type {name!r}")
        out[name] = cls
    return dict(sorted(out.items()))


def event_types() -> dict[str, type[DomainEvent]]:
    """Every concrete event class by its ``type``."""
    return _index(DomainEvent)


def command_types() -> dict[str, type[Command]]:
    """Every concrete command class by its ``type``."""
    _import_commands()
    return _index(Command)


def _import_commands() -> None:
    # Command modules live beside the events; importing them registers the subclasses.
    import importlib
    import pkgutil

    import contracts

    for info in pkgutil.iter_modules(contracts.__path__):
        if info.name.startswith("commands"):
            importlib.import_module(f"contracts.{info.name}")
