"""The two ways out, blocking (run in a worker thread): SMTP with the standard library,
and an HTTP POST with ``http.client`` to the addresses that were checked. Each raises
``DeliveryFailed`` with a short code (never the server's text, which may echo an address)
when the receiver did not take it.

    send_mail(SmtpConfig("127.0.0.1", 2525), ["a@npo.example"], "件名", "本文", "k1")
    post_webhook("https://npo.example/hook", body, headers)
"""

from __future__ import annotations

import http.client
import ipaddress
import smtplib
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

TIMEOUT_S = 10.0


class DeliveryFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "tsunagu@localhost"
    starttls: bool = False
    user: str | None = None
    password: str | None = None


def message_id(key: str) -> str:
    """The same Message-ID on every retry: a mail client shows one mail."""
    import hashlib

    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@tsunagu>"


def send_mail(cfg: SmtpConfig, to: list[str], subject: str, text: str, key: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = cfg.sender, ", ".join(to), subject
    msg["Date"], msg["Message-ID"] = formatdate(localtime=False), message_id(key)
    msg["Tsunagu-Idempotency-Key"] = key
    msg.set_content(text, charset="utf-8")
    try:
        with smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT_S) as smtp:
            if cfg.starttls:
                smtp.starttls()
            if cfg.user and cfg.password:
                smtp.login(cfg.user, cfg.password)
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"smtp_{exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"smtp_{type(exc).__name__}") from None


def refused_destination(url: str, allow_private: bool = False) -> str | None:
    """Why the notifier must not POST to ``url`` (None: it may). An agency chooses its
    webhook URL, so without this it could make the platform call its own insides (the
    NATS monitor on loopback, a database, a cloud metadata address). Every address the host
    resolves to must be public; ``allow_private`` (``TSUNAGU_NOTIFY_ALLOW_PRIVATE_HOSTS``)
    is for a receiver inside the city's own network, and for tests.

    >>> refused_destination("http://127.0.0.1:8222/varz")
    'private_address'
    >>> refused_destination("http://169.254.169.254/latest/meta-data")
    'private_address'
    >>> refused_destination("ftp://example.org/x")
    'scheme'
    """
    return checked_destination(url, allow_private)[1]


def checked_destination(url: str, allow_private: bool = False) -> tuple[list[str], str | None]:
    """The addresses to connect to and None, or none and why not (``refused_destination``).
    The POST goes to these very addresses: a second lookup could answer differently (DNS
    rebinding: public when checked, loopback when connecting)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [], "scheme"
    try:
        infos = socket.getaddrinfo(parts.hostname, _port(parts), type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    except (OSError, ValueError):
        return [], "unresolved"
    if not addresses:
        return [], "unresolved"
    if not allow_private and any(not a.is_global or a.is_multicast for a in addresses):
        return [], "private_address"
    return list(dict.fromkeys(str(a) for a in addresses)), None


def _port(parts: urllib.parse.SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _connect(addresses: list[str], port: int) -> socket.socket:
    """The first of the checked addresses that answers (as ``create_connection`` tries
    every address a name resolves to, but never resolving again)."""
    error: OSError = ConnectionRefusedError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), TIMEOUT_S)
        except OSError as exc:
            error = exc
    raise error


class _Pinned(http.client.HTTPConnection):
    """HTTP to the checked addresses; the Host header still names the host."""

    def __init__(self, host: str, port: int, addresses: list[str]) -> None:
        super().__init__(host, port, timeout=TIMEOUT_S)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to the checked addresses; SNI and the certificate check use the host name.
    ``ca_file`` adds a CA (the city's own) to the system's."""

    def __init__(self, host: str, port: int, addresses: list[str],
                 ca_file: str | None = None) -> None:
        self.tls = ssl.create_default_context()
        if ca_file:
            self.tls.load_verify_locations(cafile=ca_file)
        super().__init__(host, port, timeout=TIMEOUT_S, context=self.tls)
        self.addresses = addresses

    def connect(self) -> None:
        sock = _connect(self.addresses, self.port)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def post_webhook(url: str, body: bytes, headers: dict[str, str],
                 allow_private: bool = False, ca_file: str | None = None) -> None:
    """POST once to the address checked for ``url``; a redirect is a failure, not followed
    (it could lead past the check)."""
    addresses, refused = checked_destination(url, allow_private)
    if refused is not None:
        raise DeliveryFailed(f"destination_{refused}")
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", _port(parts)
    conn = (_PinnedTLS(host, port, addresses, ca_file) if parts.scheme == "https"
            else _Pinned(host, port, addresses))
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(1024)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"http_{type(exc).__name__}") from None
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"http_{response.status}")
