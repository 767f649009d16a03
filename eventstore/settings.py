"""Settings from the environment (TSUNAGU_*), built by a factory: no import-time globals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventstore.guard import INBOX_PREFIXES, OPERATOR_PREFIXES
from eventstore.topology import Topology


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="ignore")

    nats_url: str | None = Field(default=None, description="Default: <data_dir>/nats.url")
    prefix: str = "tsunagu"
    data_dir: Path = Path("data")
    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"
    replicas: int = 1
    #: How long the disclosure log keeps a record (eventstore.disclosure: 5 years by default).
    disclosure_retention_days: int = Field(default=5 * 365 + 1, ge=1)
    #: Projection tables come from Alembic migrations (`tsunagu db upgrade`), not create_all.
    db_migrations: bool = False
    # NATS security (deploy/): a credentials file and TLS material.
    nats_creds: Path | None = None
    nats_nkey_seed: Path | None = None
    nats_tls_ca: Path | None = None
    nats_tls_cert: Path | None = None
    nats_tls_key: Path | None = None
    #: Agencies' and operators' clients reply on a private inbox prefix (deploy/permissions).
    nats_inbox_prefix: str | None = None
    #: Reply subjects services answer (eventstore.guard): clients' inboxes in the platform
    #: account, and ``_R_.``, the replies nats-server maps for cross-account service imports.
    reply_prefixes: tuple[str, ...] = INBOX_PREFIXES
    #: Reply subjects admin requests are answered on: the operator's and the admin's inboxes.
    admin_reply_prefixes: tuple[str, ...] = OPERATOR_PREFIXES
    #: How many days back an agency may date a record (contracts.worldtime.DatingPolicy);
    #: the migration subjects (<prefix>.migrate.…) have no limit.
    backdate_days: int = Field(default=90, ge=0)
    #: Load shedding (eventstore/shedding.py): commands one service runs at once; the
    #: longest a command may wait for one of those slots; the deadline of a command without
    #: the Tsunagu-Deadline header (after its arrival). Past them: ``busy``, nothing done.
    command_slots: int = Field(default=4, ge=1)
    command_queue_ms: int = Field(default=50, ge=0)
    command_budget_ms: int = Field(default=2000, ge=1)

    @field_validator("reply_prefixes", "admin_reply_prefixes")
    @classmethod
    def _inbox_like(cls, prefixes: tuple[str, ...]) -> tuple[str, ...]:
        # An empty or token-less prefix would admit any subject, the event stream's included.
        for prefix in prefixes:
            if not prefix.startswith("_") or not prefix.endswith(".") or "*" in prefix:
                raise ValueError(f"reply prefix {prefix!r} must look like '_INBOX.' or '_R_.'")
        return prefixes

    @property
    def topology(self) -> Topology:
        return Topology(self.prefix)

    def resolved_nats_url(self) -> str:
        if self.nats_url:
            return self.nats_url
        url_file = self.data_dir / "nats.url"
        if url_file.exists():
            return url_file.read_text().strip()
        raise RuntimeError(
            f"no NATS URL: pass --nats-url, set TSUNAGU_NATS_URL, or run `tsunagu up` "
            f"(which writes {url_file})"
        )

    def database_url(self, service: str) -> str:
        """TSUNAGU_<SERVICE>_DATABASE_URL, else a SQLite file under the data dir."""
        env = os.environ.get(f"TSUNAGU_{service.upper()}_DATABASE_URL")
        if env:
            return env
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / f'{service}.sqlite').resolve()}"

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect`` (URL, credentials, TLS)."""
        opts: dict[str, Any] = {
            # A comma-separated list names several cluster nodes.
            "servers": [u.strip() for u in self.resolved_nats_url().split(",") if u.strip()],
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.5,
        }
        if self.nats_creds:
            opts["user_credentials"] = str(self.nats_creds)
        if self.nats_nkey_seed:
            opts["nkeys_seed"] = str(self.nats_nkey_seed)
        if self.nats_inbox_prefix:
            opts["inbox_prefix"] = self.nats_inbox_prefix
        if self.nats_tls_ca:
            import ssl

            ctx = ssl.create_default_context(cafile=str(self.nats_tls_ca))
            if self.nats_tls_cert and self.nats_tls_key:
                ctx.load_cert_chain(str(self.nats_tls_cert), str(self.nats_tls_key))
            opts["tls"] = ctx
        return opts


def load_settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
