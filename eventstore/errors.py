"""Errors the kit and the deciders raise. Each carries a stable code for the reply."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused command: says what is wrong; nothing was appended."""

    code = "rejected"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_reply(self) -> dict[str, Any]:
        return {
            "ok": False,
            "error": {"code": self.code, "message": self.message, "details": self.details},
        }


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class InvalidInput(DomainError):
    code = "invalid"


class ConcurrencyConflict(DomainError):
    """Another writer appended to the aggregate first (JetStream error 10071)."""

    code = "conflict"


class CommandIdReused(DomainError):
    """The sender already used this command_id for a command with another type or body."""

    code = "command_id_reused"


class DecodeError(Exception):
    """A stored message that is not a valid envelope of a known event type."""


class ReadFailed(DomainError):
    """The event stream did not answer a read (stream info, direct get); nothing changed."""

    code = "unavailable"
