"""The samples in docs/examples are what the docs say: valid as they are."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from contracts.commands_referral import SubmitReferral
from eventstore.commands import parse_command
from services.referral.directory_file import parse_file

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def test_the_sample_referral_is_a_valid_submit_referral():
    command = parse_command(SubmitReferral, (EXAMPLES / "referral.json").read_bytes())
    assert command.type == "submit_referral" and command.personal is not None


def test_the_sample_directory_imports_without_an_error():
    raw = (EXAMPLES / "agencies.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # saved as Excel saves UTF-8 CSV
    parsed = parse_file("agencies.csv", raw, (), date(2025, 6, 1))
    assert parsed.errors == []
    assert {e.agency_id for e in parsed.entries} >= {"ag-fukushi-soudan", "ag-houkatsu-kita"}


def test_the_sample_feed_messages_are_what_contracts_feed_says():
    from pydantic import TypeAdapter

    from contracts.feed import FeedNotice

    adapter: TypeAdapter[object] = TypeAdapter(FeedNotice)
    for sample in sorted(EXAMPLES.glob("feed-*.json")):
        message = adapter.validate_json(sample.read_bytes())
        assert sample.stem == f"feed-{message.kind}"  # type: ignore[attr-defined]
