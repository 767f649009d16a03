"""TLS material for local and test use: a CA, a server certificate (clients and cluster
routes both use it, so it carries serverAuth and clientAuth) and one client certificate per
service, agency and operator (``issue_client``), pinned: the servers accept only the
certificates listed in ``pinned.conf``, so revoking one is un-pinning it and a reload.

Production deployments bring their own certificates; every path is configurable in the
server config (``deploy/``) and in the clients' settings (TSUNAGU_NATS_TLS_*)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
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

    @property
    def registry(self) -> Path:
        return self.dir / "clients.json"

    @property
    def pinned(self) -> Path:
        return self.dir / "pinned.conf"


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

    server, server_key = _leaf(
        ca_key, ca_subject, "nats-server",
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], hosts, days,
    )
    _write_cert(paths.server_cert, server)
    _write_key(paths.server_key, server_key)
    _write_registry(paths, {})
    for name in clients:
        issue_client(paths, name, days=days)
    return paths


def _leaf(ca_key: ec.EllipticCurvePrivateKey, ca_subject: x509.Name, cn: str,
          usages: list[x509.ObjectIdentifier], san: tuple[str, ...], days: int,
          ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
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


class CertError(ValueError):
    """A refused certificate issue/revoke, naming the rule."""


def fingerprint(cert: x509.Certificate) -> str:
    """What nats-server's ``pinned_certs`` lists: hex SHA-256 of the DER SubjectPublicKeyInfo."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _registry(paths: CertPaths) -> dict[str, dict[str, str | None]]:
    if not paths.registry.exists():
        return {}
    return dict(json.loads(paths.registry.read_text()))


def _write_registry(paths: CertPaths, reg: dict[str, dict[str, str | None]]) -> None:
    """``clients.json`` (fingerprints, never keys) and ``pinned.conf``: the server's TLS
    block includes the latter, so only certificates issued here and not revoked connect."""
    paths.registry.write_text(json.dumps(reg, indent=2, sort_keys=True) + "\n")
    pinned = sorted(r["fingerprint"] for r in reg.values()  # type: ignore[type-var]
                    if r.get("revoked_at") is None)
    paths.pinned.write_text("# Generated by `tsunagu certs`; do not edit.\n"
                            f"pinned_certs: {json.dumps(pinned)}\n")


def issue_client(paths: CertPaths, name: str, *, days: int = 825) -> Path:
    """A new client certificate for ``name`` (a service, an agency, an operator), signed by
    the CA in ``paths``; replaces (and un-pins) any earlier one of the same name."""
    if not NAME.match(name):
        raise CertError(f"certificate name {name!r} must match {NAME.pattern}")
    ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise CertError(f"{paths.ca_key} is not an EC key")
    ca_subject = x509.load_pem_x509_certificate(paths.ca.read_bytes()).subject
    cert, key = _leaf(ca_key, ca_subject, name, [ExtendedKeyUsageOID.CLIENT_AUTH], (), days)
    _write_cert(paths.client_cert(name), cert)
    _write_key(paths.client_key(name), key)
    reg = _registry(paths)
    reg[name] = {"fingerprint": fingerprint(cert), "revoked_at": None,
                 "issued_at": datetime.now(UTC).isoformat(timespec="seconds")}
    _write_registry(paths, reg)
    return paths.client_cert(name)


def revoke_client(paths: CertPaths, name: str) -> None:
    """Un-pin ``name``'s certificate; after a reload the server refuses it and closes its
    connections."""
    reg = _registry(paths)
    if name not in reg or reg[name].get("revoked_at"):
        raise CertError(f"no active client certificate {name!r} in {paths.registry}")
    reg[name]["revoked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    _write_registry(paths, reg)
