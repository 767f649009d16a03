"""Webhooks over HTTPS verify the receiver's certificate against the name in the URL,
though the connection goes to the address checked beforehand (channels.py). A receiver
with a certificate from the city's own CA is trusted when TSUNAGU_NOTIFY_CA_FILE names it."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from services.notifier.channels import DeliveryFailed, post_webhook
from tsunagu.deploy.certs import CertPaths, generate


class Took(BaseHTTPRequestHandler):
    got: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        Took.got.append(self.headers["Host"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[int, CertPaths]]:
    """An HTTPS receiver on loopback with a certificate for ``localhost`` from a local CA."""
    certs = generate(tmp_path / "certs", hosts=("localhost",), clients=())
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(str(certs.server_cert), str(certs.server_key))
    server = HTTPServer(("127.0.0.1", 0), Took)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Took.got = []
    try:
        yield server.server_address[1], certs
    finally:
        server.shutdown()
        server.server_close()


def to_loopback(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real = socket.getaddrinfo

    def resolve(host: str, *args: object, **kwargs: object) -> list:
        return real("127.0.0.1" if host == name else host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_a_receiver_certified_by_the_configured_ca_for_the_urls_name_is_trusted(receiver):
    port, certs = receiver
    post_webhook(f"https://localhost:{port}/hook", b"{}", {}, allow_private=True,
                 ca_file=str(certs.ca))
    assert Took.got == [f"localhost:{port}"]


def test_a_certificate_from_an_unknown_ca_is_a_failed_delivery(receiver):
    port, _ = receiver
    with pytest.raises(DeliveryFailed, match="http_SSLCertVerificationError"):
        post_webhook(f"https://localhost:{port}/hook", b"{}", {}, allow_private=True)
    assert Took.got == []


def test_a_certificate_for_another_name_is_a_failed_delivery(receiver, monkeypatch):
    port, certs = receiver
    to_loopback(monkeypatch, "hook.example")  # the name resolves, the certificate is not its
    with pytest.raises(DeliveryFailed, match="http_SSLCertVerificationError"):
        post_webhook(f"https://hook.example:{port}/hook", b"{}", {}, allow_private=True,
                     ca_file=str(certs.ca))
    assert Took.got == []
