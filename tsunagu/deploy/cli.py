"""`tsunagu creds`, `tsunagu certs`, `tsunagu cluster`, `tsunagu db`: deployment commands."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from eventstore.settings import load_settings
from tsunagu.clikit import DataDir, NatsUrl, connect, console, err_console, print_json, run
from tsunagu.deploy import cli_certs

AuthDirOpt = Annotated[
    Path | None,
    typer.Option("--auth-dir", envvar="TSUNAGU_AUTH_DIR",
                 help="Where identities.json and auth.conf live (default: <data-dir>/auth)"),
]
PidFiles = Annotated[
    list[Path] | None,
    typer.Option("--reload", help="pid file of a nats-server to reload (repeatable); "
                 "with a cluster give every node's"),
]
Kind = Annotated[str, typer.Option("--kind", help="agency | service | operator | admin")]
Prefix = Annotated[str | None, typer.Option("--prefix", envvar="TSUNAGU_PREFIX")]


def register(app: typer.Typer) -> None:
    creds = typer.Typer(help="Per-agency NATS credentials (nkey users) and their permissions.")
    creds.command(name="issue")(creds_issue)
    creds.command(name="revoke")(creds_revoke)
    creds.command(name="list")(creds_list)
    creds.command(name="sync")(creds_sync)
    app.add_typer(creds, name="creds")
    certs = typer.Typer(help="TLS certificates for local use.")
    cli_certs.register(certs)
    app.add_typer(certs, name="certs")
    cluster = typer.Typer(help="A local 3-node nats-server cluster from the wheel.")
    cluster.command(name="up")(cluster_up)
    cluster.command(name="bootstrap")(cluster_bootstrap)
    cluster.command(name="provision")(cluster_provision)
    app.add_typer(cluster, name="cluster")
    db = typer.Typer(help="Projection databases: Alembic migrations per service.")
    db.command(name="upgrade")(db_upgrade)
    db.command(name="check")(db_check)
    db.command(name="revision")(db_revision)
    app.add_typer(db, name="db")


def _auth(auth_dir: Path | None, data_dir: Path, prefix: str | None):  # type: ignore[no-untyped-def]
    from tsunagu.deploy.identities import AuthDir

    settings = load_settings(data_dir=data_dir, prefix=prefix)
    return AuthDir(auth_dir or data_dir / "auth", settings.topology), settings


def _reload(pid_files: list[Path] | None) -> None:
    from tsunagu.deploy.identities import reload_servers

    if not pid_files:
        console.print("Reload every nats-server now (SIGHUP, `nats-server --signal reload`, "
                      "or the Helm chart's config reloader) for this to take effect.")
        return
    pids = reload_servers(pid_files)
    console.print(f"reloaded nats-server pid(s): {', '.join(map(str, pids)) or 'none running'}")


def creds_issue(
    name: Annotated[str, typer.Argument(help="Agency id (or service/operator name)")],
    kind: Kind = "agency",
    out: Annotated[Path | None, typer.Option("--out", help="Credentials file to write")] = None,
    auth_dir: AuthDirOpt = None,
    data_dir: DataDir = Path("data"),
    prefix: Prefix = None,
    nats_url: NatsUrl = None,
    check_directory: Annotated[bool, typer.Option(
        help="Refuse agencies that are not active in the directory (reads the event stream)"
    )] = True,
    reload: PidFiles = None,
) -> None:
    """Write a credentials file (an nkey seed) for NAME and allow it in auth.conf."""
    from contracts.directory import reserved_agency_id
    from tsunagu.deploy.identities import IdentityError

    auth, settings = _auth(auth_dir, data_dir, prefix)
    if kind == "agency" and (reserved := reserved_agency_id(name)):
        err_console.print(f"[red]error:[/red] agency id {reserved}")
        raise typer.Exit(2)
    if kind == "agency" and check_directory:
        settings = load_settings(data_dir=data_dir, prefix=prefix, nats_url=nats_url)
        _require_active(settings, name)
    target = out or auth.path / "creds" / f"{kind}-{name}.nk"
    try:
        issued = auth.issue(kind, name, target)
    except IdentityError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"wrote {issued.creds_file} ({kind} {name}, {issued.identity.public_key})")
    console.print(f"  TSUNAGU_NATS_NKEY_SEED={issued.creds_file}")
    if issued.inbox_prefix:
        console.print(f"  TSUNAGU_NATS_INBOX_PREFIX={issued.inbox_prefix}")
    if kind == "agency" and not check_directory:
        console.print("  no feed consumer was created (that needs the platform): issuing "
                      "again without --no-check-directory creates it (and a new key)")
    _reload(reload)


def _require_active(settings, agency_id: str) -> None:  # type: ignore[no-untyped-def]
    """Refuse an agency the directory does not list as active; create its feed consumer."""
    from eventstore.store import EventStore
    from tsunagu.deploy.client import ensure_feed_consumer
    from tsunagu.deploy.directory import agency_status

    async def body() -> bool | None:
        nc = await connect(settings)
        try:
            active = (await agency_status(EventStore(nc, settings.topology))).get(agency_id)
            if active:  # the agency may pull from it but not create it
                await ensure_feed_consumer(nc, settings.topology, agency_id)
            return active
        finally:
            await nc.close()

    active = run(body)
    if not active:
        state = "retired" if active is False else "not in the agency directory"
        err_console.print(f"[red]error:[/red] agency {agency_id!r} is {state}; "
                          "register it first (or pass --no-check-directory)")
        raise typer.Exit(2)


def creds_revoke(
    name: Annotated[str, typer.Argument(help="Agency id (or service/operator name)")],
    kind: Kind = "agency",
    auth_dir: AuthDirOpt = None,
    data_dir: DataDir = Path("data"),
    prefix: Prefix = None,
    reload: PidFiles = None,
) -> None:
    """Remove NAME from auth.conf; after the reload its connections are closed and refused."""
    from tsunagu.deploy.identities import IdentityError

    auth, _ = _auth(auth_dir, data_dir, prefix)
    try:
        identity = auth.revoke(kind, name)
    except IdentityError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"revoked {kind} {name} ({identity.public_key})")
    _reload(reload)


def creds_sync(
    auth_dir: AuthDirOpt = None,
    data_dir: DataDir = Path("data"),
    prefix: Prefix = None,
    nats_url: NatsUrl = None,
    reload: PidFiles = None,
) -> None:
    """Revoke the credentials of every agency retired in the directory (run it after a
    directory import that retires agencies, or on a schedule)."""
    from eventstore.store import EventStore
    from tsunagu.deploy.directory import agency_status

    auth, _ = _auth(auth_dir, data_dir, prefix)
    settings = load_settings(data_dir=data_dir, prefix=prefix, nats_url=nats_url)

    async def body() -> dict[str, bool]:
        nc = await connect(settings)
        try:
            return await agency_status(EventStore(nc, settings.topology))
        finally:
            await nc.close()

    revoked = auth.retire_agencies(run(body))
    if not revoked:
        console.print("no credentials of retired agencies are active")
        return
    for identity in revoked:
        console.print(f"revoked agency {identity.name} ({identity.public_key}): retired")
    _reload(reload)


def creds_list(
    auth_dir: AuthDirOpt = None, data_dir: DataDir = Path("data"), prefix: Prefix = None,
) -> None:
    """Identities and whether they are active (public keys only; seeds are never kept)."""
    auth, _ = _auth(auth_dir, data_dir, prefix)
    print_json([
        {"kind": i.kind, "name": i.name, "public_key": i.public_key,
         "issued_at": i.issued_at, "revoked_at": i.revoked_at}
        for i in auth.load().values()
    ])


def cluster_up(
    directory: Annotated[Path, typer.Argument(help="Where node configs and stores go")],
    tls: Annotated[bool, typer.Option(help="Generate certificates and use TLS")] = False,
    auth_dir: AuthDirOpt = None,
) -> None:
    """Run a 3-node cluster on loopback until Ctrl-C; prints the URLs to use."""
    from tsunagu.deploy.certs import generate
    from tsunagu.deploy.cluster import LocalCluster

    certs = generate(directory / "certs") if tls else None
    auth_conf = (auth_dir / "auth.conf") if auth_dir else None
    cluster = LocalCluster(directory, size=3, certs=certs, auth_conf=auth_conf)
    cluster.start()
    urls = ",".join(cluster.urls)
    console.print(f"cluster up: TSUNAGU_NATS_URL={urls} TSUNAGU_REPLICAS=3")
    stop = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop:
            time.sleep(0.5)
    finally:
        cluster.stop()


def cluster_bootstrap(
    directory: Annotated[Path, typer.Argument(help="The deploy directory (e.g. deploy/)")],
    prefix: Prefix = None,
) -> None:
    """Certificates, service/admin/operator credentials, auth.conf and node configs for
    deploy/compose.yaml (existing certificates and credentials are kept)."""
    from tsunagu.deploy.bootstrap import bootstrap

    auth = bootstrap(directory, prefix or "tsunagu")
    console.print(f"ready: {directory}/certs, {directory}/creds, {auth.auth_conf}, "
                  f"{directory}/nats/*.conf")


def cluster_provision(nats_url: NatsUrl = None, data_dir: DataDir = Path("data")) -> None:
    """Create or update the streams and buckets (TSUNAGU_REPLICAS=3 on a cluster)."""
    from eventstore.provision import StreamPolicy, provision

    settings = load_settings(nats_url=nats_url, data_dir=data_dir)

    async def body() -> None:
        nc = await connect(settings)
        try:
            await provision(nc, settings.topology, StreamPolicy(
                replicas=settings.replicas,
                disclosure_max_age_days=settings.disclosure_retention_days))
        finally:
            await nc.close()

    run(body)
    console.print(f"provisioned {settings.topology.events_stream} "
                  f"with {settings.replicas} replica(s)")


ServiceArg = Annotated[str, typer.Argument(help="referral | casefile | meeting | stats")]


def _db_url(service: str, data_dir: Path) -> str:
    return load_settings(data_dir=data_dir).database_url(service)


def db_upgrade(service: ServiceArg, revision: str = "head", data_dir: DataDir = Path("data")
               ) -> None:
    """Create or migrate SERVICE's projection tables (TSUNAGU_<SERVICE>_DATABASE_URL)."""
    from tsunagu.deploy.migrations import upgrade

    upgrade(service, _db_url(service, data_dir), revision)
    console.print(f"{service}: database at {revision}")


def db_check(service: ServiceArg, data_dir: DataDir = Path("data")) -> None:
    """Exit 1 when SERVICE's database differs from its projection metadata."""
    from tsunagu.deploy.migrations import diff

    changes = diff(service, _db_url(service, data_dir))
    if changes:
        for change in changes:
            err_console.print(repr(change))
        raise typer.Exit(1)
    console.print(f"{service}: database matches the code")


def db_revision(
    service: ServiceArg,
    message: Annotated[str, typer.Option("-m", "--message")],
    data_dir: DataDir = Path("data"),
) -> None:
    """Autogenerate a migration from the difference between an upgraded database and the code."""
    from tsunagu.deploy.migrations import revision, upgrade

    url = _db_url(service, data_dir)
    upgrade(service, url)
    revision(service, url, message)
