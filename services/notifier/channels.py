"""The two ways out, blocking (run in a worker thread): SMTP with the standard library,
and an HTTP POST with ``urllib``. Each raises ``DeliveryFailed`` with a short code (never
the server's text, which may echo an address) when the receiver did not take it.

    send_mail(SmtpConfig("127.0.0.1", 2525), ["a@npo.example"], "件名", "本文", "k1")
    post_webhook("https://npo.example/hook", body, headers)
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import urllib.error
import urllib.parse
import urllib.request
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
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "scheme"
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return "unresolved"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            return "private_address"
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead past the destination check: it counts as a failure."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_webhook(url: str, body: bytes, headers: dict[str, str],
                 allow_private: bool = False) -> None:
    refused = refused_destination(url, allow_private)
    if refused is not None:
        raise DeliveryFailed(f"destination_{refused}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"http_{exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"http_{type(exc).__name__}") from None
