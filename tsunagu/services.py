"""Where each service's spec factory lives (services never import each other)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from eventstore.service import ServiceSpec
from eventstore.settings import Settings

SERVICES: dict[str, str] = {
    "referral": "services.referral.app:build_spec",
    "casefile": "services.casefile.app:build_spec",
    "meeting": "services.meeting.app:build_spec",
    "stats": "services.stats.app:build_spec",
    "notifier": "services.notifier.app:build_spec",
}


def spec_factory(name: str) -> Callable[[Settings], ServiceSpec]:
    if name not in SERVICES:
        raise KeyError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    module, attr = SERVICES[name].split(":")
    factory: Callable[[Settings], ServiceSpec] = getattr(importlib.import_module(module), attr)
    return factory
