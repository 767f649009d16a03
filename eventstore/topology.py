"""Names of streams, subjects and buckets, all derived from one prefix.

The public prefix is ``tsunagu``; tests use a fresh prefix each so they never see each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topology:
    prefix: str = "tsunagu"

    @property
    def _stem(self) -> str:
        return self.prefix.upper().replace("-", "_")

    # The domain event log.
    @property
    def events_stream(self) -> str:
        return f"{self._stem}_EVENTS"

    @property
    def events_subjects(self) -> str:
        return f"{self.prefix}.events.>"

    def event_subject(self, aggregate: str, aggregate_id: str, event_type: str) -> str:
        return f"{self.prefix}.events.{aggregate}.{aggregate_id}.{event_type}"

    def aggregate_filter(self, aggregate: str, aggregate_id: str) -> str:
        return f"{self.prefix}.events.{aggregate}.{aggregate_id}.*"

    def aggregate_kind_filter(self, aggregate: str) -> str:
        return f"{self.prefix}.events.{aggregate}.*.*"

    # Dead letters of every projection.
    @property
    def dlq_stream(self) -> str:
        return f"{self._stem}_DLQ"

    def dlq_subject(self, projection: str) -> str:
        return f"{self.prefix}.dlq.{projection}"

    @property
    def dlq_subjects(self) -> str:
        return f"{self.prefix}.dlq.>"

    # Per-agency feeds (filled by the casefile service).
    @property
    def feed_stream(self) -> str:
        return f"{self._stem}_FEED"

    def feed_subject(self, agency_id: str, case_id: str, kind: str) -> str:
        return f"{self.prefix}.feed.{agency_id}.{case_id}.{kind}"

    @property
    def feed_subjects(self) -> str:
        return f"{self.prefix}.feed.>"

    # Commands: request/reply, agency in the subject so permissions can bind it.
    def command_subject(self, agency_id: str, command: str) -> str:
        return f"{self.prefix}.cmd.{agency_id}.{command}"

    def command_listen(self, command: str) -> str:
        return f"{self.prefix}.cmd.*.{command}"

    # Migration (ledger import, demo): the same commands under the migration role, which may
    # date records without the agencies' backdating limit. Only operators may publish here.
    def migrate_subject(self, agency_id: str, command: str) -> str:
        return f"{self.prefix}.migrate.{agency_id}.{command}"

    def migrate_listen(self, command: str) -> str:
        return f"{self.prefix}.migrate.*.{command}"

    def is_migration(self, subject: str) -> bool:
        return subject.startswith(f"{self.prefix}.migrate.")

    # Liveness of services.
    def heartbeat_subject(self, service: str) -> str:
        return f"{self.prefix}.heartbeat.{service}"

    # Buckets.
    @property
    def key_bucket(self) -> str:
        return f"{self._stem}_KEYS"

    @property
    def attachment_bucket(self) -> str:
        return f"{self._stem}_ATTACHMENTS"

    @property
    def command_bucket(self) -> str:
        """Receipts of executed commands by (agency, command_id): exact idempotency."""
        return f"{self._stem}_COMMANDS"

    def durable(self, projection: str) -> str:
        return f"{self._stem}_{projection.upper()}"
