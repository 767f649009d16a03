"""Build a valid example instance of any contract model from its annotations (for round-trips)."""

from __future__ import annotations

import enum
import types
import typing
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from contracts.base import PersonalData, Sealed

#: Fields whose strings have a format (a pattern, a length) the generic example would miss.
FORMATTED = {"mail_to": "office@npo.example", "webhook_url": "https://npo.example/hook",
             "secret_hint": "a1b2", "value": "s" * 43}


def example(annotation: Any, name: str = "x") -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return example(args[0], name)
    if origin is Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        # Prefer the plain personal block over Sealed, so sealing gets exercised.
        options.sort(key=lambda a: a is Sealed)
        return example(options[0], name)
    if origin in (tuple, list, set, frozenset):
        return (example(args[0], name),) if args else ()
    if origin is dict:
        return {"k": example(args[1], name)} if len(args) == 2 else {}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return build(annotation)
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation))
        if annotation is bool:
            return True
        if annotation is int:
            return 1
        if annotation is float:
            return 1.0
        if annotation is str:
            return FORMATTED.get(name, f"{name}-1")
        if annotation is datetime:
            return datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
        if annotation is date:
            return date(2025, 6, 1)
        if annotation is time:
            return time(20, 0)
        if annotation is UUID:
            return UUID("01890a5d-ac96-774b-bcce-b302099a8057")
    if annotation is Any:
        return {"any": 1}
    raise TypeError(f"no example for {annotation!r}")


def build(cls: type[BaseModel]) -> Any:
    values: dict[str, Any] = {}
    for fname, field in cls.model_fields.items():
        if fname in ("type", "schema_version"):
            continue
        values[fname] = example(field.annotation, fname)
    return cls.model_validate(values)


def is_personal_model(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, PersonalData)
