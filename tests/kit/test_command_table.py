"""One way to register a service's commands: ``handle_<command>(deps, session, cmd)``, each
under its command's type, with the service's deps bound (``eventstore.commands``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import pytest

from contracts.base import Command, DomainEvent
from eventstore.commands import Session, command_table


class Ping(Command):
    type: Literal["kit_test_ping"] = "kit_test_ping"


class Pong(Command):
    type: Literal["kit_test_pong"] = "kit_test_pong"


@dataclass
class Deps:
    seen: list[str]


async def handle_kit_test_ping(deps: Deps, session: Session, cmd: Ping) -> list[DomainEvent]:
    deps.seen.append(cmd.command_id)
    return []


async def test_a_handler_is_registered_under_its_commands_type_with_the_deps_bound():
    deps = Deps([])
    table = command_table(deps, (Ping, handle_kit_test_ping))
    assert list(table) == ["kit_test_ping"]
    cls, handler = table["kit_test_ping"]
    assert cls is Ping
    session: Any = object()  # the handler does not touch it
    assert await handler(session, Ping(command_id="c1")) == []
    assert deps.seen == ["c1"]


def test_a_command_type_registered_twice_is_refused():
    with pytest.raises(ValueError, match="kit_test_ping"):
        command_table(None, (Ping, handle_kit_test_ping), (Ping, handle_kit_test_ping))


def test_every_service_writes_its_handlers_in_the_one_shape():
    from eventstore.settings import Settings
    from tsunagu.services import SERVICES, spec_factory

    for name in SERVICES:
        spec = spec_factory(name)(Settings())
        assert spec.commands, name
        for key, (cls, handler) in spec.commands.items():
            assert cls.model_fields["type"].default == key, (name, key)
            assert isinstance(handler, partial), (name, key)  # bound by command_table
            fn = handler.func
            assert fn.__code__.co_varnames[:3] == ("deps", "session", "cmd"), (name, key)
            # casefile's decisions taken only in a meeting share one refusing handler
            assert fn.__name__ in (f"handle_{key}", "refuse"), (name, key, fn.__name__)
