"""The notifier's rules on pure functions: rendering without personal data, signing,
backoff, quiet hours and the digest, and the settings decider."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

import pytest

from contracts.commands_notifier import SetNotificationSettings
from contracts.feed import NOTICE_TYPES
from contracts.jst import JST
from contracts.notify import WebhookSecret
from contracts.webhook import sign, verify
from eventstore.errors import Forbidden, InvalidInput
from services.notifier.domain import Facts, NotifyState, decide_set_notification_settings, fold
from services.notifier.policy import MAX_ATTEMPTS, MailPlan, backoff, is_dead, mail_due
from services.notifier.render import SAFE_FIELDS, render, render_digest

NAME, REASON = "山田 太郎", "母の介護で本人が疲弊している"
SECRET = "x" * 43


def personal_notice(kind: str) -> dict:
    """A feed message of ``kind`` carrying every personal thing a feed message may carry."""
    return {"kind": kind, "at": "2026-05-01T00:30:00+00:00", "seq": 9, "case_id": "c1",
            "meeting_id": "m1", "referral_id": "r1", "decision_id": "d1", "reason": REASON,
            "view": {"person": {"name": NAME, "phone": "090-1234-5678"}}, "title": NAME,
            "due_on": "2026-05-01", "task": "monitoring"}


@pytest.mark.parametrize("kind", sorted(n.model_fields["kind"].default for n in NOTICE_TYPES))
def test_no_personal_field_ever_reaches_a_mail_or_webhook_body(kind):
    r = render(personal_notice(kind), "npo", "notice-npo-x-9")
    subject, digest = render_digest([personal_notice(kind)], "npo", "2026-05-01")
    for text in (r.subject, r.text, r.body.decode(), subject, digest):
        for value in (NAME, REASON, "090-1234-5678"):
            assert value not in text
    body = json.loads(r.body)
    assert set(body) <= {*SAFE_FIELDS, "agency_id", "idempotency_key", "label", "at_jst",
                         "read_with", "task_label"}


def test_a_mail_says_what_happened_when_in_japan_and_where_to_look():
    r = render({"kind": "meeting_invitation", "at": "2026-05-01T00:30:00+00:00", "seq": 3,
                "meeting_id": "m1", "scheduled_for": "2026-05-08T01:00:00+00:00"}, "npo", "k")
    assert r.subject == "[つなぐ] 会議への招集 (会議 m1)"
    assert "2026-05-01 09:30 JST" in r.text and "2026-05-08 10:00 JST" in r.text
    assert "tsunagu meetings --as npo" in r.text
    assert json.loads(r.body)["read_with"]["query"] == "meeting_agenda"


def test_a_signature_verifies_only_for_the_same_body_secret_and_a_recent_time():
    body = b'{"kind":"task_due"}'
    headers = sign(SECRET, body, 1_800_000_000, "k1")
    assert verify(SECRET, body, headers, now=1_800_000_100)
    assert not verify(SECRET, body + b" ", headers, now=1_800_000_100)
    assert not verify("y" * 43, body, headers, now=1_800_000_100)
    assert not verify(SECRET, body, headers, now=1_800_000_000 + 301)  # a replay, later
    assert headers["Tsunagu-Idempotency-Key"] == "k1"


def test_retries_back_off_exponentially_up_to_a_bound_then_dead():
    waits = [backoff(n).total_seconds() for n in range(1, MAX_ATTEMPTS + 1)]
    assert waits[:4] == [10, 20, 40, 80]
    assert waits == sorted(waits) and backoff(30).total_seconds() == 6 * 3600
    assert not is_dead(MAX_ATTEMPTS - 1) and is_dead(MAX_ATTEMPTS)


def test_mail_waits_for_the_end_of_quiet_hours_and_digests_for_their_hour():
    quiet = MailPlan(quiet_start=time(20), quiet_end=time(8))
    late = datetime(2026, 5, 1, 23, 0, tzinfo=JST)
    assert mail_due(late, quiet) == datetime(2026, 5, 2, 8, 0, tzinfo=JST)
    noon = datetime(2026, 5, 1, 12, 0, tzinfo=JST)
    assert mail_due(noon, quiet) == noon
    digest = MailPlan(delivery="daily_digest", digest_hour=17)
    assert mail_due(noon, digest) == noon.replace(hour=17)
    assert mail_due(noon + timedelta(hours=6), digest) == datetime(2026, 5, 2, 17, tzinfo=JST)


def cmd(**kw) -> SetNotificationSettings:
    return SetNotificationSettings(command_id="c1", **{"agency_id": "npo", **kw})


def test_an_agency_may_set_only_its_own_notification_settings():
    with pytest.raises(Forbidden, match="only its own"):
        decide_set_notification_settings(NotifyState(), cmd(agency_id="other"),
                                         Facts("npo", SECRET))


def test_a_webhook_gets_a_secret_the_first_time_and_again_only_when_rotated():
    first = decide_set_notification_settings(
        NotifyState(), cmd(webhook_url="https://npo.example/h"), Facts("npo", SECRET))
    assert isinstance(first[0].secret, WebhookSecret) and first[0].secret_hint == SECRET[-4:]
    state = fold(first)
    again = decide_set_notification_settings(
        state, cmd(webhook_url="https://npo.example/h2"), Facts("npo", "z" * 43))
    assert again[0].secret is None
    rotated = decide_set_notification_settings(
        state, cmd(webhook_url="https://npo.example/h2", rotate_secret=True),
        Facts("npo", "z" * 43))
    assert rotated[0].secret == WebhookSecret(value="z" * 43)


def test_empty_quiet_hours_and_a_rotation_without_webhook_are_refused():
    with pytest.raises(InvalidInput, match="quiet_hours"):
        decide_set_notification_settings(
            NotifyState(), cmd(quiet_hours={"start": "08:00", "end": "08:00"}),
            Facts("npo", SECRET))
    with pytest.raises(InvalidInput, match="rotate_secret"):
        decide_set_notification_settings(NotifyState(), cmd(rotate_secret=True),
                                         Facts("npo", SECRET))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8222/varz", "http://localhost:4222/", "http://[::1]/hook",
    "http://10.0.0.5/hook", "http://192.168.1.10/hook", "http://169.254.169.254/latest",
    "http://0.0.0.0/hook", "gopher://example.org/x",
])
def test_a_webhook_to_a_private_address_is_refused(url):
    from services.notifier.channels import DeliveryFailed, post_webhook, refused_destination

    assert refused_destination(url) in ("private_address", "scheme")
    with pytest.raises(DeliveryFailed, match="destination_"):
        post_webhook(url, b"{}", {})


def test_a_private_address_is_allowed_only_by_setting():
    from services.notifier.channels import refused_destination

    assert refused_destination("http://127.0.0.1:8222/varz", allow_private=True) is None
    assert refused_destination("https://93.184.215.14/hook") is None  # a public address


def test_a_webhook_connects_to_the_address_that_was_checked_not_a_second_lookup(monkeypatch):
    """DNS rebinding: the receiver's name answers a public address when it is checked and
    loopback a moment later. The POST must go to the checked address."""
    import socket

    from services.notifier import channels

    public = "93.184.215.14"
    lookups: list[str] = []
    connected: list[tuple[str, int]] = []

    def rebinding(host: str, port: object, *args: object, **kwargs: object) -> list:
        lookups.append(host)
        address = public if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]

    def connect(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address)
        raise ConnectionRefusedError("the test's network ends here")

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "create_connection", connect)
    with pytest.raises(channels.DeliveryFailed, match="http_ConnectionRefusedError"):
        channels.post_webhook("https://hook.example/tsunagu", b"{}", {})
    assert lookups == ["hook.example"] and connected == [(public, 443)]  # once, that address


def test_a_redirect_is_a_failed_delivery_not_followed(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from services.notifier.channels import DeliveryFailed, post_webhook

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(307)
            self.send_header("Location", "/inside")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        with pytest.raises(DeliveryFailed, match="http_307"):
            post_webhook(url, b"{}", {}, allow_private=True)
        assert hits == ["/hook"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_decision_that_was_not_applied_says_why_by_its_code_not_its_reason():
    r = render({"kind": "decision_not_applied", "at": "2026-05-01T00:30:00+00:00", "seq": 4,
                "case_id": "c1", "meeting_id": "m1", "decision_id": "d1",
                "code": "no_consent", "reason": REASON}, "shakyo", "k")
    body = json.loads(r.body)
    assert body["code"] == "no_consent" and "no_consent" in r.text
    assert REASON not in r.text and "reason" not in body
