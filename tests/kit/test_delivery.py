"""Admitting a fetched batch: apply up to the first delivery lost in transit, never past it."""

from __future__ import annotations

from eventstore.delivery import Admitted, Delivery, admit


def d(consumer_seq: int, stream_seq: int) -> Delivery:
    return Delivery(consumer_seq, stream_seq)


def test_contiguous_fresh_deliveries_are_all_admitted() -> None:
    assert admit([d(1, 4), d(2, 9), d(3, 10)], checkpoint=3, last_consumer_seq=0) == Admitted(
        3, 3, complete=True
    )


def test_a_gap_in_the_consumer_sequence_stops_the_batch_before_it() -> None:
    # consumer seq 3 was delivered but never arrived: 11 must not be applied (and acked).
    assert admit([d(1, 4), d(2, 9), d(4, 11)], checkpoint=3, last_consumer_seq=0) == Admitted(
        2, 2, complete=False
    )


def test_a_gap_right_after_the_previous_batch_admits_nothing() -> None:
    assert admit([d(7, 30)], checkpoint=20, last_consumer_seq=5) == Admitted(0, 5, False)


def test_messages_already_applied_are_admitted_whatever_their_consumer_sequence() -> None:
    # A restarted server resends from its older saved state: consumer seqs go back.
    batch = [d(3, 8), d(4, 9), d(5, 10)]
    assert admit(batch, checkpoint=9, last_consumer_seq=4) == Admitted(3, 5, complete=True)


def test_a_lost_message_redelivered_after_its_ack_wait_is_admitted() -> None:
    # Consumer seq 6 never arrived and nothing came after it; it comes again, same seq.
    assert admit([d(6, 40)], checkpoint=35, last_consumer_seq=5) == Admitted(1, 6, True)


def test_an_unapplied_message_with_an_older_consumer_sequence_is_a_gap() -> None:
    # The server's numbering no longer matches what was seen: resume from the checkpoint.
    assert admit([d(2, 50)], checkpoint=40, last_consumer_seq=5).complete is False


def test_the_same_message_twice_in_a_batch_is_admitted_and_skipped_later() -> None:
    assert admit([d(1, 5), d(1, 5), d(2, 6)], checkpoint=4, last_consumer_seq=0) == Admitted(
        3, 2, complete=True
    )
