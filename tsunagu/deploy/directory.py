"""The agency directory as the event stream has it: which agencies are active now."""

from __future__ import annotations

from contracts.directory import Agency, AgencyEvent, evolve_agency, is_active
from eventstore.store import EventStore


async def agency_status(store: EventStore) -> dict[str, bool]:
    """agency id -> active (registered or updated, and not retired since)."""
    standings: dict[str, Agency | None] = {}
    for stored in await store.read(store.topology.aggregate_kind_filter("agency")):
        event = stored.envelope.event
        if isinstance(event, AgencyEvent):
            standings[event.agency_id] = evolve_agency(standings.get(event.agency_id), event)
    return {agency_id: is_active(standing) for agency_id, standing in standings.items()}
