"""The services `tsunagu up` runs, registered in pyproject.toml's entry-point group
``tsunagu.services`` (name = "module:build_spec"); services never import each other, and the
kit never imports a service."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points

from eventstore.service import ServiceSpec
from eventstore.settings import Settings

GROUP = "tsunagu.services"


def _registered() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    if not found:
        raise RuntimeError(f"no service is registered in the entry-point group {GROUP!r}: "
                           "reinstall tsunagu (pip install -e .) so its metadata is current")
    return found


#: name → "module:attr" of its spec factory, in pyproject.toml's order.
SERVICES: dict[str, str] = _registered()


def spec_factory(name: str) -> Callable[[Settings], ServiceSpec]:
    if name not in SERVICES:
        raise KeyError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    module, attr = SERVICES[name].split(":")
    factory: Callable[[Settings], ServiceSpec] = getattr(importlib.import_module(module), attr)
    return factory
