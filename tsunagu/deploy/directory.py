"""The agency directory as the event stream has it: which agencies are active now."""

from __future__ import annotations

from contracts.directory import AgencyRegistered, AgencyRetired, AgencyUpdated
from eventstore.store import EventStore


async def agency_status(store: EventStore) -> dict[str, bool]:
    """agency id -> active (registered or updated, and not retired since)."""
    status: dict[str, bool] = {}
    for stored in await store.read(store.topology.aggregate_kind_filter("agency")):
        event = stored.envelope.event
        if isinstance(event, AgencyRegistered | AgencyUpdated):
            status[event.agency_id] = True
        elif isinstance(event, AgencyRetired):
            status[event.agency_id] = False
    return status
