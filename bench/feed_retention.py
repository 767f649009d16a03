"""What keeping one view per (agency, case) costs and saves, and what an erasure's feed
rewrite costs (docs/PRIVACY.md). Its own nats-server from the wheel, in a temporary dir:

    .venv/bin/python -m bench.feed_retention [--cases 500] [--agencies 5] [--updates 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import nats
from nats.js.api import StorageType, StreamConfig

from eventstore.natsserver import NatsServer
from eventstore.scrub import Copy, erase_subject, publish_copies, rewrite_stream

VIEW_BYTES = 1500  # a case view as the casefile projection sends it: ~1-2 KB of JSON


def _blk_bytes(store: Path, stream: str) -> int:
    return sum(p.stat().st_size for p in store.rglob(f"streams/{stream}/msgs/*.blk"))


async def _fill(js, stream: str, cases: int, agencies: int, updates: int) -> float:
    started = time.perf_counter()
    body = json.dumps({"view": "x" * VIEW_BYTES}).encode()
    for u in range(updates):
        acks = [js.publish(f"{stream}.feed.a{a}.c{c}.case", body, stream=stream)
                for c in range(cases) for a in range(agencies)]
        for i in range(0, len(acks), 500):
            await asyncio.gather(*acks[i:i + 500])
        del u
    return time.perf_counter() - started


async def run(cases: int, agencies: int, updates: int) -> dict:
    store = Path(tempfile.mkdtemp(prefix="feedbench-"))
    server = NatsServer(store_dir=store)
    server.start()
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    out: dict = {"cases": cases, "agencies": agencies, "updates": updates,
                 "view_bytes": VIEW_BYTES}
    try:
        for name, limit in (("ALL", -1), ("ONE", 1)):
            await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"],
                                             storage=StorageType.FILE,
                                             max_msgs_per_subject=limit))
            seconds = await _fill(js, name, cases, agencies, updates)
            state = (await js.stream_info(name)).state
            out[name] = {"publish_s": round(seconds, 2), "messages": state.messages,
                         "bytes": state.bytes, "blk_bytes_on_disk": _blk_bytes(store, name)}
        started = time.perf_counter()
        held: list[Copy] = []

        async def stash(copies: list[Copy]) -> None:
            held.extend(copies)

        kept, dropped = await rewrite_stream(js, "ONE", "ONE.>",
                                             lambda s: s.split(".")[3] == "c0", stash)
        await publish_copies(js, "ONE", held)
        out["rewrite"] = {"kept": kept, "dropped": dropped,
                          "seconds": round(time.perf_counter() - started, 2),
                          "blk_bytes_on_disk": _blk_bytes(store, "ONE")}
        started = time.perf_counter()
        erased = await erase_subject(js, "ALL", "ALL.feed.*.c1.case")
        out["erase_subject"] = {"erased": erased,
                                "seconds": round(time.perf_counter() - started, 3)}
    finally:
        await nc.close()
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--agencies", type=int, default=5)
    parser.add_argument("--updates", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.cases, args.agencies, args.updates)), indent=2))


if __name__ == "__main__":
    main()
