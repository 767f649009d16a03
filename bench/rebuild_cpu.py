"""Where a rebuild worker's CPU goes: ``python -m bench.rebuild_cpu <bench.rebuild arguments>``.

Runs ``bench.rebuild`` with the runner's and the casefile projection's main functions wrapped
to add up their thread CPU time (``time.thread_time``), then prints seconds and calls per
function, and the event loop thread's total. CPU, not elapsed: on a shared machine elapsed
time mostly says how long the worker waited for a core. Nested functions are counted in
their callers too, and each wrapped call adds ≈ 1 µs (bench/README.md, fifth session).
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import bench.rebuild
import eventstore.crypto
import eventstore.fastsql
import eventstore.projection
import services.casefile.batch
import services.casefile.notices
import services.casefile.projection

spent: dict[str, float] = defaultdict(float)
calls: Counter[str] = Counter()


def _wrap(owner: Any, attr: str, label: str) -> None:
    fn = getattr(owner, attr)

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - started
            calls[label] += 1

    if isinstance(owner, type) and isinstance(owner.__dict__.get(attr), staticmethod):
        setattr(owner, attr, staticmethod(timed))
    else:
        setattr(owner, attr, timed)


def main() -> None:
    runner, casefile = eventstore.projection.ProjectionRunner, services.casefile.projection
    for owner, attr, label in (
        (eventstore.projection, "decode", "loop: decode (pydantic)"),
        (runner, "_catchup_item", "loop: per message (subject checks, decode)"),
        (runner, "_apply", "apply thread: whole transactions"),
        (casefile.CasefileProjection, "apply", "apply: CasefileProjection.apply"),
        (eventstore.crypto.KeyRing, "unseal_envelope", "apply: unseal"),
        (eventstore.fastsql, "_cursor", "apply: driver executes (fastsql)"),
        (eventstore.fastsql, "_params", "apply: fastsql parameters"),
        (services.casefile.notices, "track", "apply: notices.track"),
        (casefile, "upsert", "apply: casefile upserts"),
        (services.casefile.batch.Batch, "flush", "apply: casefile batch flush"),
    ):
        _wrap(owner, attr, label)
    cpu, loop = time.process_time(), time.thread_time()
    bench.rebuild.main(sys.argv[1:])
    print(f"process CPU {time.process_time() - cpu:.2f} s; "
          f"event loop thread {time.thread_time() - loop:.2f} s", file=sys.stderr)
    for label, seconds in sorted(spent.items()):
        print(f"{seconds:8.2f} s {calls[label]:>10,} calls  {label}", file=sys.stderr)


if __name__ == "__main__":
    main()
