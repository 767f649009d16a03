"""The ``tsunagu`` command. Each area registers its own commands (see MODULES)."""

from __future__ import annotations

import importlib

import typer

#: Modules with a ``register(app)`` function; each owns its commands.
MODULES = (
    "tsunagu.cli_core",
    "tsunagu.areas.referral",
    "tsunagu.areas.casefile",
    "tsunagu.areas.meeting",
    "tsunagu.areas.stats",
    "tsunagu.areas.notifier",
    "tsunagu.ops.cli",
    "tsunagu.ledger.cli",
    "tsunagu.deploy.cli",
)


def build() -> typer.Typer:
    app = typer.Typer(
        name="tsunagu",
        help="Tsunagu (つなぐ): inter-agency messaging for the 重層的支援体制整備事業.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
    )
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not exc.name or not name.startswith(exc.name):  # a real error inside it
                raise
            continue
        module.register(app)
    return app


def main() -> None:
    build()()
