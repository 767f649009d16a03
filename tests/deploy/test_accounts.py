"""The accounts block, as a pure function of the identities (the real server proves the
same in tests/secure): each agency imports only its own subjects, nobody else's."""

from __future__ import annotations

from eventstore.topology import Topology
from tsunagu.deploy.accounts import PLATFORM, accounts_block
from tsunagu.deploy.identities import Identity

T = Topology("tsunagu")


def ident(kind: str, name: str, revoked: bool = False) -> Identity:
    return Identity(kind, name, f"U{kind}{name}", "2026-01-01",
                    "2026-02-01" if revoked else None)


def test_each_agency_account_imports_only_its_own_commands_queries_and_feed_consumer():
    block = accounts_block(T, [ident("service", "casefile"), ident("agency", "A"),
                               ident("agency", "B")])
    a_imports = [i["service"]["subject"] for i in block["AGENCY_A"]["imports"]]
    assert a_imports == [
        "tsunagu.cmd.A.>", "tsunagu.query.A.>",
        "$JS.API.CONSUMER.MSG.NEXT.TSUNAGU_FEED.feed-A",
        "$JS.API.CONSUMER.INFO.TSUNAGU_FEED.feed-A",
        "$JS.ACK.TSUNAGU_FEED.feed-A.>",
    ]
    exports = block[PLATFORM]["exports"]
    assert all(e["accounts"] == ["AGENCY_A"] for e in exports if ".A." in e["service"]
               or e["service"].endswith("feed-A") or "feed-A." in e["service"])
    assert {e["response_type"] for e in exports if "MSG.NEXT" in e["service"]} == {"stream"}
    assert block[PLATFORM]["jetstream"] == "enabled" and "jetstream" not in block["AGENCY_A"]
    assert [u["nkey"] for u in block[PLATFORM]["users"]] == ["Uservicecasefile"]


def test_a_revoked_agency_loses_its_account_and_exports():
    block = accounts_block(T, [ident("admin", "deploy"), ident("agency", "A", revoked=True)])
    assert set(block) == {PLATFORM} and "exports" not in block[PLATFORM]


def test_with_no_one_issued_the_platform_still_requires_credentials():
    block = accounts_block(T, [])
    [user] = block[PLATFORM]["users"]
    assert user["permissions"]["publish"] == {"deny": [">"]}
