"""Every event enters through a decider: tests and benches build histories by sending
commands. Only the kit's own tests (tests/kit) and the files below write events directly,
each for the reason it gives; a new direct append anywhere else fails here."""

from __future__ import annotations

from pathlib import Path

from tests.one_door import scan, sources_under

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "bench", "services", "tsunagu")
KIT_TESTS = ("tests/kit/",)

#: The ways in for events no agency command decides (calling them is not a direct append).
DOORS = {
    "services/referral/directory_import.py": "the directory's door: the operators' import "
    "plans the agency events with the pure directory_file.plan and appends them as one "
    "batch with optimistic concurrency (no agency exists to send a command before it)",
}
# The operators' audit record (who revealed personal data, which dead letter was discarded)
# is the kit's door now, eventstore/audit.py (the kit is not scanned): a fact about an
# operator's action, one new aggregate each, no rule to decide.

#: Files that append directly although they are not doors, and why.
ALLOWED = {
    "bench/throughput.py": "measures EventStore.append itself (the kit's write path)",
    "tests/deploy/test_cluster.py": "the kit on a cluster: every append the store "
    "acknowledged survives the leader's death",
    "tests/test_docker_backend.py": "the kit's store against a containerised nats-server",
    "tests/faults/test_conflicts_and_delivery.py": "the kit's optimistic concurrency, "
    "duplicate publishes and redelivery to a projection, with the bench's stand-in events",
    "tests/ops/test_verify.py": "plants a history the deciders forbid, to prove verify "
    "finds it",
    "tests/casefile/test_visibility.py": "a consent whose recorded_at is three days old (a "
    "feed backlog); a command's recorded_at is always the real time",
    "tests/casefile/test_erasure_documents.py": "events in the shapes stored before "
    "references were sealed and materials keyed by case, which no decider writes today",
    "tests/casefile/world.py": "World.planted_meeting, planted_table and planted_decision "
    "only: what the meeting decider refuses (a decision on an unknown or untabled plan, "
    "naming an inactive or no lead agency; approve_plan at a 支援会議), to prove the casefile "
    "reactor records DecisionNotApplied (tests/casefile/test_lifecycle); World's cases, "
    "consents and meetings are sent as commands",
    "tests/stats/test_seed_report.py": "the stats projection fed seed 004's history in a "
    "shuffled stream order no sequence of commands produces (the same tables through the "
    "commands: tests/ledger/test_import.py)",
}

#: Histories still written directly where commands exist: to be converted (issue 13 item 6);
#: a file leaves this list when its histories are sent as commands (empty: all are).
NOT_YET_THROUGH_COMMANDS: dict[str, str] = {}


def findings() -> list:
    sources = sources_under(ROOT, SCANNED, KIT_TESTS)
    return scan(sources, frozenset(DOORS))


def test_no_test_or_bench_appends_events_where_a_command_exists():
    allowed = set(DOORS) | set(ALLOWED) | set(NOT_YET_THROUGH_COMMANDS)
    stray = [str(f) for f in findings() if f.path not in allowed]
    assert not stray, (
        "these write events directly; send the command instead (tests/helpers.py `send`, "
        "tests/casefile/world.py), or, for a test of the store's mechanics, add the file "
        "to ALLOWED in tests/test_one_door.py with the reason:\n" + "\n".join(stray))


def test_every_allowed_file_still_appends_directly():
    # An exception that no longer appends is removed, so the list stays the truth.
    appending = {f.path for f in findings()}
    listed = set(ALLOWED) | set(DOORS) | set(NOT_YET_THROUGH_COMMANDS)
    assert listed <= appending, sorted(listed - appending)


def test_the_scan_finds_each_kind_of_direct_append():
    wrapper = (
        "async def put(store, env):\n"
        "    await store.append([env])\n"
        "async def put_case(store, env):\n"  # a wrapper of a wrapper
        "    await put(store, env)\n"
    )
    user = (
        "from tests.put import put, put_case\n"
        "async def test_x(store, world, js, topology, env, items):\n"
        "    items.append(1)\n"  # a list: not an append to the stream
        "    await world.store.append([env], {('case', 'c1'): 0})\n"
        "    await store._append_batch([env], {}, set())\n"
        "    await js.publish(topology.event_subject('case', 'c1', 'CaseOpened'), b'')\n"
        "    subject = store.subject_of(env)\n"
        "    await js.publish_async(subject, b'')\n"
        "    await js.publish(topology.dlq_subject('x'), b'')\n"  # not the event stream
        "    await put(store, env)\n"
        "    await put_case(store, env)\n"
    )
    found = [(f.path, f.line) for f in scan({"tests/put.py": wrapper, "tests/user.py": user})]
    assert found == [("tests/put.py", 2), ("tests/user.py", 4), ("tests/user.py", 5),
                     ("tests/user.py", 6), ("tests/user.py", 8), ("tests/user.py", 10),
                     ("tests/user.py", 11)]
    doors = scan({"tests/put.py": wrapper, "tests/user.py": user}, frozenset({"tests/put.py"}))
    assert not {("tests/user.py", 10), ("tests/user.py", 11)} & {(f.path, f.line)
                                                                  for f in doors}
