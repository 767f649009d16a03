"""Command and query names are subject tokens shared by every service: no two may claim one."""

from __future__ import annotations

from collections import Counter

from contracts.catalog import command_types
from eventstore.settings import Settings
from tsunagu.services import SERVICES, spec_factory


def specs():
    settings = Settings(nats_url="nats://127.0.0.1:1")
    return [spec_factory(name)(settings) for name in SERVICES]


def test_no_two_services_answer_the_same_command_or_query():
    commands = Counter(c for spec in specs() for c in spec.commands)
    queries = Counter(q for spec in specs() for q in spec.queries)
    assert [c for c, n in commands.items() if n > 1] == []
    assert [q for q, n in queries.items() if n > 1] == []


def test_every_public_command_is_handled_by_a_service():
    handled = {c for spec in specs() for c in spec.commands}
    assert set(command_types()) - handled == set()
