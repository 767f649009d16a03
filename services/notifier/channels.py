"""The two ways out, blocking (run in a worker thread): SMTP with the standard library,
and an HTTP POST with ``urllib``. Each raises ``DeliveryFailed`` with a short code (never
the server's text, which may echo an address) when the receiver did not take it.

    send_mail(SmtpConfig("127.0.0.1", 2525), ["a@npo.example"], "件名", "本文", "k1")
    post_webhook("https://npo.example/hook", body, headers)
"""

from __future__ import annotations

import smtplib
import urllib.error
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


def post_webhook(url: str, body: bytes, headers: dict[str, str]) -> None:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"http_{exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"http_{type(exc).__name__}") from None
