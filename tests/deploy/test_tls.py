"""TLS on a real nats-server: certificates from `tsunagu certs generate`, mutual TLS."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import nats
import pytest

from tsunagu.deploy.certs import CertPaths, generate
from tsunagu.deploy.cluster import LocalCluster


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tls")
    good = generate(root / "good", clients=("client",))
    other = generate(root / "other", clients=("client",), ca_name="Someone else's CA")
    node = LocalCluster(root / "node", size=1, certs=good)
    node.start()
    yield node, good, other
    node.stop()


def context(trust: CertPaths, identity: CertPaths | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(trust.ca))
    if identity:
        ctx.load_cert_chain(str(identity.client_cert("client")),
                            str(identity.client_key("client")))
    return ctx


async def connect(url: str, ctx: ssl.SSLContext) -> nats.NATS:
    return await nats.connect(url, tls=ctx, allow_reconnect=False, max_reconnect_attempts=0,
                              connect_timeout=3)


async def test_a_client_with_the_right_ca_and_certificate_connects(tls_node):
    node, good, _ = tls_node
    nc = await connect(node.urls[0], context(good, good))
    try:
        sub = await nc.subscribe("ping")
        await nc.publish("ping", b"1")
        assert (await sub.next_msg(timeout=2)).data == b"1"
    finally:
        await nc.close()


async def test_a_client_trusting_the_wrong_ca_refuses_the_server(tls_node):
    node, good, other = tls_node
    with pytest.raises((ssl.SSLError, nats.errors.Error, OSError)):
        await connect(node.urls[0], context(other, good))


async def test_a_client_certificate_from_another_ca_is_refused_by_the_server(tls_node):
    node, good, other = tls_node
    with pytest.raises((ssl.SSLError, nats.errors.Error, OSError)):
        nc = await connect(node.urls[0], context(good, other))
        await nc.flush(timeout=2)  # TLS 1.3 reports the rejection after the handshake


async def test_a_client_without_a_certificate_is_refused(tls_node):
    node, good, _ = tls_node
    with pytest.raises((ssl.SSLError, nats.errors.Error, OSError)):
        nc = await connect(node.urls[0], context(good, None))
        await nc.flush(timeout=2)


async def test_a_plain_text_client_is_refused(tls_node):
    node, _, _ = tls_node
    with pytest.raises((nats.errors.Error, OSError)):
        await nats.connect(node.urls[0].replace("tls://", "nats://"), allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=3)


def test_generated_certificates_name_localhost_and_the_loopback_address(tmp_path: Path):
    from cryptography import x509

    paths = generate(tmp_path)
    cert = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)][:1] == ["127.0.0.1"]
    assert oct(paths.server_key.stat().st_mode & 0o777) == "0o600"


def test_certs_issue_pins_one_certificate_per_name_and_revoke_unpins_it(tmp_path: Path):
    from typer.testing import CliRunner

    from tsunagu.cli import build

    generate(tmp_path, clients=())
    run = CliRunner().invoke
    for name in ("referral", "hokatsu"):
        result = run(build(), ["certs", "issue", name, "--dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
    pinned = (tmp_path / "pinned.conf").read_text()
    registry = json.loads((tmp_path / "clients.json").read_text())
    assert all(registry[n]["fingerprint"] in pinned for n in ("referral", "hokatsu"))
    assert oct((tmp_path / "client-hokatsu-key.pem").stat().st_mode & 0o777) == "0o600"

    result = run(build(), ["certs", "revoke", "hokatsu", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pinned = (tmp_path / "pinned.conf").read_text()
    assert registry["hokatsu"]["fingerprint"] not in pinned
    assert registry["referral"]["fingerprint"] in pinned
    again = run(build(), ["certs", "revoke", "hokatsu", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "no active client certificate" in again.output
    bad = run(build(), ["certs", "issue", "../evil", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "must match" in bad.output
