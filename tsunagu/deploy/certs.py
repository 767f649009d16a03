"""TLS material for local and test use: a CA, a server certificate (clients and cluster
routes both use it, so it carries serverAuth and clientAuth) and client certificates.

Production deployments bring their own certificates; every path is configurable in the
server config (``deploy/``) and in the clients' settings (TSUNAGU_NATS_TLS_*)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1", "nats", "nats-1", "nats-2", "nats-3")


@dataclass(frozen=True)
class CertPaths:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.dir / "server-key.pem"

    def client_cert(self, name: str) -> Path:
        return self.dir / f"client-{name}.pem"

    def client_key(self, name: str) -> Path:
        return self.dir / f"client-{name}-key.pem"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tsunagu"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
             days: int) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
    )


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def generate(
    directory: Path,
    *,
    hosts: tuple[str, ...] = DEFAULT_HOSTS,
    clients: tuple[str, ...] = ("client",),
    days: int = 825,
    ca_name: str = "Tsunagu local CA",
) -> CertPaths:
    """Write a CA, a server certificate for ``hosts`` and one client certificate per name."""
    paths = CertPaths(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_subject = _name(ca_name)
    ca = (
        _builder(ca_subject, ca_subject, ca_key, days * 2)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(paths.ca_key, ca_key)
    _write_cert(paths.ca, ca)

    def leaf(cn: str, usages: list[x509.ObjectIdentifier], san: tuple[str, ...]) -> tuple[
        x509.Certificate, ec.EllipticCurvePrivateKey
    ]:
        key = _key()
        builder = (
            _builder(_name(cn), ca_subject, key, days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(_san(san), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    server, server_key = leaf(
        "nats-server", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], hosts
    )
    _write_cert(paths.server_cert, server)
    _write_key(paths.server_key, server_key)
    for name in clients:
        cert, key = leaf(name, [ExtendedKeyUsageOID.CLIENT_AUTH], (name,))
        _write_cert(paths.client_cert(name), cert)
        _write_key(paths.client_key(name), key)
    return paths
