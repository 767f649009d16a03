"""Only an active directory entry sets its notification settings: a retired or unknown
agency is refused ``forbidden``, named in the details, and nothing is appended."""

from __future__ import annotations

from tests.helpers import register_agency, retire_agency, send


async def test_a_retired_or_unknown_agency_cannot_set_its_notifications(
    nc, topology, store, services
):
    await register_agency(store, "npo")
    await register_agency(store, "kita")
    await retire_agency(store, "npo")
    await services("notifier")
    js = nc.jetstream()
    before = (await js.stream_info(topology.events_stream)).state.last_seq
    for agency in ("npo", "nobody"):
        reply = await send(nc, topology, agency, "set_notification_settings", {
            "command_id": "n1", "agency_id": agency, "mail_to": ["soudan@npo.example"]})
        assert reply["ok"] is False, reply
        assert reply["error"]["code"] == "forbidden"
        assert "not an active entry" in reply["error"]["message"]
        assert reply["error"]["details"] == {"agency_id": agency}
    assert (await js.stream_info(topology.events_stream)).state.last_seq == before
