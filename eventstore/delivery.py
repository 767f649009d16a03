"""Which messages of a fetched batch a projection may apply without skipping one.

A durable consumer's fresh deliveries come in stream order, each one consumer sequence
after the last. A delivery lost in transit (the server killed after sending it, a
connection dropped mid-batch) leaves a gap in the consumer sequence, and the server will not
send that message again until its ack wait runs out. Applying the next one and acknowledging
it (AckAll) would skip the lost message for good. So the runner applies the batch only up to
the first gap and then resumes from its database checkpoint, where nothing can be missing.

Pure: no I/O, so every case is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    consumer_seq: int
    stream_seq: int


@dataclass(frozen=True)
class Admitted:
    count: int  #: how many messages from the start of the batch may be applied
    last_consumer_seq: int  #: the consumer sequence to expect the next delivery after
    complete: bool  #: False: a gap was found; resume from the checkpoint


def admit(batch: list[Delivery], checkpoint: int, last_consumer_seq: int) -> Admitted:
    """``checkpoint``: every message this projection reads up to it is applied.
    ``last_consumer_seq``: the consumer sequence of the last delivery admitted from this
    consumer (0 for a consumer just created)."""
    applied_to, last = checkpoint, last_consumer_seq
    for n, d in enumerate(batch):
        if d.stream_seq <= applied_to:
            # Already applied (a redelivery after a lost ack, a restarted server resending
            # from an older state): harmless, the runner skips it.
            last = max(last, d.consumer_seq)
        elif d.consumer_seq == last + 1:
            applied_to, last = d.stream_seq, d.consumer_seq
        else:
            return Admitted(n, last, complete=False)
    return Admitted(len(batch), last, complete=True)
