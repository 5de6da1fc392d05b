"""``segmentkit demo`` and ``segmentkit sandbox``: the fake platforms on loopback, seeded.

Both start the adapters' own fakes in this process on ``127.0.0.1`` (real HTTP, no network,
no keys): the SMS platform (``notificator``) and the email platform (``allstech``). Where an
adapter is not installed the demo says so and uses the ``memory`` reference platform instead.
The fakes come with the test kit (``pip install "segmentkit[testing]"``); without it both
commands print that install line and exit with status 1.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import APIError, SegmentkitError
from .app import EXIT_FAILED, Session, cli, error_line
from .commands import provider_rows, show_plan, show_segments
from .csvio import CsvTable, parse_csv
from .output import Output

if TYPE_CHECKING:  # the test kit is optional: imported when a fake starts
    from ..client import Client
    from ..models import Recipient
    from ..plugins import Registry
    from ..testing import FakeServer

__all__ = ["Playground", "Stage", "customers_csv", "require_testkit"]

pass_session = click.make_pass_decorator(Session, ensure=True)

#: (role, preferred provider, fallback provider)
ROLES = (("sms", "notificator", None), ("email", "allstech", "memory"))


def _seed() -> list[Recipient]:
    """The static segment's members (built when a playground starts: the models load with
    the client stack, not for `segmentkit --help`)."""
    from ..models import Recipient

    return [
        Recipient(
            email="old.customer@example.com",
            phone="+393479998877",
            first_name="Old",
            last_name="Customer",
        ),
        Recipient(
            email="giulia.rossi@example.com",
            phone="+393331234567",
            first_name="Giulia",
            last_name="Rossi",
        ),
    ]


def require_testkit(command: str) -> None:
    """Exit with one install line when the test kit (werkzeug) is not installed."""
    try:
        import werkzeug  # noqa: F401
    except ImportError:
        click.echo(
            f"segmentkit {command} runs the fake platforms from the test kit; install it with: "
            'pip install "segmentkit[testing]"',
            err=True,
        )
        raise SystemExit(EXIT_FAILED) from None


def customers_csv() -> str:
    """The sample customer file shipped with the package."""
    return resources.files("segmentkit.cli").joinpath("data/customers.csv").read_text("utf-8")


@dataclass
class Stage:
    """One running fake: its role (``sms``/``email``), server, client and seeded segments."""

    role: str
    provider: str
    server: FakeServer
    client: Client
    static_id: str = ""
    filter_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def platform(self) -> Any:
        """The fake platform object (seed helpers, request log)."""
        return self.server.platform

    def writes(self) -> int:
        """Write requests the fake has received so far."""
        return len(self.server.log.writes())


def _seed_filter(stage: Stage) -> str | None:
    """Seed a rule-based segment where the fake offers a helper for it."""
    platform = stage.platform
    add = getattr(platform, "add_segment", None)
    if add is None:
        return None
    if stage.provider == "notificator":
        return str(
            add(
                "Italian gold customers",
                "filter",
                filters=[("plan", "exact", "gold")],
                countries=["IT"],
            )
        )
    if stage.provider == "memory":
        rules = [{"field": "country", "op": "equals", "values": ["IT"]}]
        return str(add("Italians", rules=rules))
    return None


class Playground:
    """Starts the fakes, seeds them and hands out clients; stops everything on exit."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.stages: list[Stage] = []
        self.missing: list[str] = []

    def start(self) -> Playground:
        """Start one fake per role and seed a static segment (and a rule-based one)."""
        from ..client import connect
        from ..testing import FakeServer, fake_class

        for role, preferred, fallback in ROLES:
            platform = None
            provider = ""
            for candidate in (preferred, fallback):
                if candidate is None:
                    continue
                try:
                    platform = fake_class(candidate, self.registry)(seed=7)
                except (SegmentkitError, ImportError, LookupError, TypeError) as exc:
                    self.missing.append(f"{candidate} ({type(exc).__name__}: {exc})")
                    continue
                provider = candidate
                break
            if platform is None:
                continue
            server = FakeServer(platform, "socket", registry=self.registry).start()
            client = connect(server.dsn(), registry=self.registry)
            stage = Stage(role=role, provider=provider, server=server, client=client)
            self.stages.append(stage)
            name = "Newsletter SMS" if role == "sms" else "Newsletter email"
            stage.static_id = str(platform.seed_segment(name, _seed()))
            stage.filter_id = _seed_filter(stage)
            server.log.clear()
        return self

    def stop(self) -> None:
        """Close the clients and stop every server."""
        for stage in self.stages:
            stage.client.close()
            stage.server.stop()

    def __enter__(self) -> Playground:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stage(self, role: str) -> Stage | None:
        """The stage playing ``role``, if any."""
        return next((s for s in self.stages if s.role == role), None)


# -- sandbox


def _write_config(pg: Playground, directory: Path) -> Path:
    path = directory / "config.toml"
    lines = []
    for stage in pg.stages:
        lines += [f"[accounts.{stage.role}]", f'dsn = "{stage.server.dsn()}"', ""]
        bad = stage.platform.bad_dsn(stage.server.base_url)
        lines += [f"[accounts.{stage.role}-wrong-key]", f'dsn = "{bad}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


#: The environment variable each sandbox role's DSN is printed as.
DSN_VARIABLES = {"sms": "SMS_DSN", "email": "MAIL_DSN"}


def sandbox_exports(pg: Playground, config: Path) -> list[str]:
    """The shell lines the sandbox prints: ``export SMS_DSN=...``, ``export MAIL_DSN=...``
    and ``export SEGMENTKIT_CONFIG=...`` (accounts ``sms``, ``email``, ``*-wrong-key``)."""
    lines = [
        f"export {DSN_VARIABLES.get(stage.role, stage.role.upper() + '_DSN')}="
        f"{shlex.quote(stage.server.dsn())}"
        for stage in pg.stages
    ]
    lines.append(f"export SEGMENTKIT_CONFIG={shlex.quote(str(config))}")
    return lines


@cli.command()
@click.option("--seconds", type=float, default=None, hidden=True, help="Stop after N seconds.")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the export lines to this file (for `. FILE` from another shell).",
)
@pass_session
def sandbox(session: Session, seconds: float | None, env_file: Path | None) -> None:
    """Run the fake platforms on loopback until Ctrl-C, and print their DSNs.

    \b
    Prints (and with --env-file writes) shell lines to paste into another terminal:
        export SMS_DSN='notificator+http://KEY@127.0.0.1:PORT/api/'
        export MAIL_DSN='allstech+http://PUBLIC:SECRET@127.0.0.1:PORT/api/'
        export SEGMENTKIT_CONFIG=/tmp/.../config.toml   (accounts sms, email, *-wrong-key)
    The keys are the fakes' own, printed on purpose; they work nowhere else.
    Needs the test kit: pip install "segmentkit[testing]".
    """
    require_testkit("sandbox")
    out = session.out
    with (
        tempfile.TemporaryDirectory(prefix="segmentkit-sandbox-") as tmp,
        Playground(session.registry) as pg,
    ):
        config = _write_config(pg, Path(tmp))
        for name in pg.missing:
            out.warn(f"fake not available, skipped or played by 'memory': {name}")
        rows = []
        for stage in pg.stages:
            segs = list(stage.client.segments.list())
            rows.append(
                [
                    stage.role,
                    stage.provider,
                    str(stage.client.base_url),
                    ", ".join(f"{s.id} {s.name}" for s in segs),
                ]
            )
        out.table(
            ("account", "provider", "base url", "segments"),
            rows,
            title="sandbox platforms (loopback only)",
            force=True,
        )
        exports = sandbox_exports(pg, config)
        # The fakes' keys are printed on purpose (not masked): they are the sandbox's DSNs.
        for line in exports:
            click.echo(line)
        if env_file is not None:
            partial = env_file.with_name(env_file.name + ".partial")
            partial.write_text("\n".join(exports) + "\n", encoding="utf-8")
            os.replace(partial, env_file)  # readers never see half a file
        out.say("Paste the export lines into another shell, then for example:")
        out.say('  segmentkit --dsn "$SMS_DSN" segments list')
        out.say("Press Ctrl-C to stop.")
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            with contextlib.suppress(KeyboardInterrupt):
                while deadline is None or time.monotonic() < deadline:
                    time.sleep(0.1)
        finally:
            if env_file is not None:
                with contextlib.suppress(OSError):
                    env_file.unlink()
    out.say("sandbox stopped")


# -- demo


def _sync_twice(out: Output, stage: Stage, table: CsvTable) -> None:
    client = stage.client
    rows = [r.data for r in table.rows]
    seg = client.segments.get(stage.static_id)
    out.heading(f"sync customers.csv into {stage.provider} segment {seg.name!r} ({stage.role})")
    preview = client.recipients.sync(seg.id, rows, dry_run=True)
    show_plan(out, preview, table)
    before = stage.writes()
    with out.progress(f"sync {seg.name}") as progress:
        result = client.recipients.apply(seg.id, preview.plan, progress=progress)
    out.say(f"applied: {result.summary()} ({stage.writes() - before} write requests)")
    before = stage.writes()
    again = client.recipients.sync(seg.id, rows)
    out.say(
        f"second run: {again.summary()}, {stage.writes() - before} write requests (already in sync)"
    )


def _rename_filter(out: Output, stage: Stage) -> None:
    if stage.filter_id is None:
        return
    client = stage.client
    out.heading(f"rename a rule-based segment on {stage.provider} (its rules are kept)")
    before = client.segments.get(stage.filter_id)
    after = client.segments.update(stage.filter_id, name=f"{before.name} (renamed)")
    after = client.segments.get(stage.filter_id)
    show_segments(out, [before], title="before")
    show_segments(out, [after], title="after")
    same = "kept" if after.rules == before.rules else "CHANGED"
    out.say(f"rules {same}: {len(after.rules)} rule(s)")


def _copy(out: Output, sms: Stage, email: Stage) -> None:
    from ..sync import copy_segment

    out.heading(f"copy the SMS segment to the email segment ({sms.provider} -> {email.provider})")
    result = copy_segment(
        sms.client, sms.static_id, email.client, target_segment_id=email.static_id
    )
    show_plan(out, result)
    out.say(f"copy: {result.summary()}")
    for o in result.plan.rejected:
        who = o.recipient.phone if o.recipient else o.input
        out.say(f"  rejected {who}: {o.reason}")


def _wrong_key(out: Output, pg: Playground) -> None:
    from ..client import connect

    out.heading("the same mistake, the same error: a wrong key on every platform")
    for stage in pg.stages:
        bad = stage.platform.bad_dsn(stage.server.base_url)
        with connect(bad, registry=pg.registry, max_retries=0) as client:
            try:
                client.segments.list().to_list()
            except APIError as exc:
                out.say(f"{type(exc).__name__}: {error_line(exc, pg.registry)}")
            else:  # pragma: no cover - a fake that accepts a bad key is a bug
                out.warn(f"{stage.provider} accepted a wrong key")


@cli.command()
@pass_session
def demo(session: Session) -> None:
    """A one-minute tour against the fake platforms on loopback (no network, no keys).

    Needs the test kit: pip install "segmentkit[testing]".
    """
    require_testkit("demo")
    out = session.out
    started = time.monotonic()
    registry = session.registry
    with Playground(registry) as pg:
        for name in pg.missing:
            out.warn(f"fake not available, skipped or played by 'memory': {name}")
        out.heading("providers and what they can do")
        columns, rows = provider_rows(registry)
        out.table(columns, rows, force=True)
        for stage in pg.stages:
            out.heading(f"segments on {stage.provider} ({stage.role})")
            show_segments(out, list(stage.client.segments.list()))
        table = parse_csv(customers_csv())
        for stage in pg.stages:
            _sync_twice(out, stage, table)
        sms, email = pg.stage("sms"), pg.stage("email")
        if sms is not None:
            _rename_filter(out, sms)
        if sms is not None and email is not None:
            _copy(out, sms, email)
        _wrong_key(out, pg)
        requests_sent = sum(s.client.stats.requests for s in pg.stages)
        retries = sum(s.client.stats.retries for s in pg.stages)
        out.heading("figures")
        out.result(
            f"{requests_sent} requests sent, {retries} retries, "
            f"{time.monotonic() - started:.2f}s, {len(pg.stages)} fake platforms stopped"
        )
