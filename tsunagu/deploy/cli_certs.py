"""`tsunagu certs issue/revoke`: one pinned client certificate per service, agency and
operator. The servers accept only the certificates listed in ``<dir>/pinned.conf`` (their
TLS block includes it); revoking un-pins one and, after a reload, its holder is
disconnected and refused."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tsunagu.clikit import console, err_console

CertDir = Annotated[Path, typer.Option("--dir", help="The certificate directory (with ca.pem "
                                       "and ca-key.pem, e.g. deploy/certs)")]
PidFiles = Annotated[
    list[Path] | None,
    typer.Option("--reload", help="pid file of a nats-server to reload (repeatable)"),
]


def register(certs: typer.Typer) -> None:
    certs.command(name="generate")(certs_generate)
    certs.command(name="issue")(certs_issue)
    certs.command(name="revoke")(certs_revoke)


def _reload(pid_files: list[Path] | None) -> None:
    from tsunagu.deploy.identities import reload_servers

    if not pid_files:
        console.print("Reload every nats-server now (SIGHUP) for this to take effect.")
        return
    pids = reload_servers(pid_files)
    console.print(f"reloaded nats-server pid(s): {', '.join(map(str, pids)) or 'none running'}")


def certs_issue(
    name: Annotated[str, typer.Argument(help="Service, agency or operator name")],
    directory: CertDir = Path("deploy/certs"),
    days: Annotated[int, typer.Option(help="Validity")] = 825,
    reload: PidFiles = None,
) -> None:
    """A new client certificate for NAME, signed by the CA and pinned (replaces NAME's
    earlier one, which stops working after the reload)."""
    from tsunagu.deploy.certs import CertError, CertPaths, issue_client

    paths = CertPaths(directory)
    try:
        cert = issue_client(paths, name, days=days)
    except (CertError, FileNotFoundError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"wrote {cert} and {paths.client_key(name)} (mode 600); pinned in "
                  f"{paths.pinned}")
    console.print(f"  TSUNAGU_NATS_TLS_CERT={cert} TSUNAGU_NATS_TLS_KEY={paths.client_key(name)}")
    _reload(reload)


def certs_revoke(
    name: Annotated[str, typer.Argument(help="Whose certificate")],
    directory: CertDir = Path("deploy/certs"),
    reload: PidFiles = None,
) -> None:
    """Un-pin NAME's certificate: after the reload its connections are closed and refused."""
    from tsunagu.deploy.certs import CertError, CertPaths, revoke_client

    try:
        revoke_client(CertPaths(directory), name)
    except CertError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"revoked the client certificate of {name}")
    _reload(reload)


def certs_generate(
    directory: Annotated[Path, typer.Argument(help="Output directory")],
    host: Annotated[list[str] | None, typer.Option("--host", help="Server name or IP "
                    "(repeatable; default localhost, 127.0.0.1, nats, nats-1..3)")] = None,
    client: Annotated[list[str] | None, typer.Option("--client", help="Client certificate "
                      "name (repeatable; default: client)")] = None,
    days: Annotated[int, typer.Option(help="Validity of the leaf certificates")] = 825,
) -> None:
    """A CA, a server certificate (clients and cluster routes) and client certificates."""
    from tsunagu.deploy.certs import DEFAULT_HOSTS, generate

    paths = generate(directory, hosts=tuple(host or DEFAULT_HOSTS),
                     clients=tuple(client or ("client",)), days=days)
    console.print(f"wrote CA {paths.ca}, server {paths.server_cert} and client certificates "
                  f"in {directory} (keys are mode 600)")
