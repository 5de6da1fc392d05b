"""The ``segmentkit`` command line: the click group, account selection and error handling.

Exit codes: ``0`` success; ``1`` the operation failed or partially failed (some recipients
rejected or failed, a platform error); ``2`` usage or configuration error (bad option, no
account, bad DSN, unreadable CSV). No traceback is printed without ``--debug``.
"""

from __future__ import annotations

import logging
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import AuthenticationError, ConfigurationError, SegmentkitError
from ..io import CsvFormatError
from ..redact import SecretLogFilter
from .accounts import account_coordination, resolve_dsn
from .output import Output
from .output import clean as mask

if TYPE_CHECKING:
    # The client stack (pydantic, requests, the adapters) loads when a command connects, not
    # for `segmentkit --help` (issue 14).
    from ..client import Client
    from ..events import Event
    from ..plugins import Registry

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Session",
    "cli",
    "interrupted_line",
    "main",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Session:
    """Per-invocation state: global options, output, the plugin registry and open clients."""

    dsn: str | None = None
    account: str | None = None
    quiet: bool = False
    verbose: bool = False
    debug: bool = False
    json_mode: bool = False
    coordination: str | None = None  # --coordination, else the account's, else the default
    _out: Output | None = None
    _registry: Registry | None = None
    _clients: list[Client] = field(default_factory=list)
    _listeners: list[Callable[[Event], None]] = field(default_factory=list)

    @property
    def out(self) -> Output:
        """The masked output (built on first use, after every flag is known)."""
        if self._out is None:
            self._out = Output(quiet=self.quiet, verbose=self.verbose, json_mode=self.json_mode)
        return self._out

    @property
    def registry(self) -> Registry:
        """A fresh registry of installed adapters; broken plugins are listed by ``providers``
        instead of warned about on every command."""
        if self._registry is None:
            from ..plugins import PluginWarning, create_registry

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PluginWarning)
                self._registry = create_registry()
        return self._registry

    def connect(self, dsn: str | None = None) -> Client:
        """A client for ``dsn``, or for the account chosen by the global options."""
        from ..client import connect
        from ..config import parse_dsn

        target = dsn or resolve_dsn(dsn=self.dsn, account=self.account)
        shown = str(parse_dsn(target)) if "://" in target else target
        self.out.detail(f"connecting to {mask(shown)}")
        # Coordination (issue 15): --coordination, else the named account's, else
        # SEGMENTKIT_COORDINATION / the default, resolved by connect().
        spec = self.coordination or account_coordination(None if dsn else self.account)
        extra: dict[str, Any] = {"coordination": spec} if spec else {}
        client = connect(target, registry=self.registry, on_event=self._dispatch, **extra)
        self._clients.append(client)
        return client

    def listen(self, listener: Callable[[Event], None] | None) -> None:
        """Send this invocation's client events to ``listener`` too (a progress view)."""
        if listener is not None:
            self._listeners.append(listener)

    def _dispatch(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def close(self) -> None:
        """Close every client this invocation opened."""
        for c in self._clients:
            c.close()
        self._clients.clear()


def exit_code_for(exc: BaseException) -> int:
    """``2`` for configuration and input-file errors, ``1`` for everything else."""
    return EXIT_USAGE if isinstance(exc, ConfigurationError | CsvFormatError) else EXIT_FAILED


def error_line(exc: BaseException, registry: Registry | None = None) -> str:
    """The one line printed for ``exc``. An :class:`AuthenticationError` names the environment
    variables (from the adapter's credential fields) to check."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, AuthenticationError) and exc.provider:
        hint = "the DSN"
        from ..config import env_name
        from ..plugins import create_registry

        try:
            cls = (registry or create_registry()).get(exc.provider)
            names = [env_name(exc.provider, f) for f in cls.Credentials.model_fields]
            if names:
                hint = f"{' and '.join(names)} or the DSN"
        except SegmentkitError:
            pass
        text = f"{text.rstrip('.')}. Check {hint}."
    return mask(text)


def interrupted_line(exc: BaseException) -> str:
    """The line printed on Ctrl-C: what was done before it, when the operation says so
    (``segmentkit.membership.Interrupted`` carries the partial result as ``.result``)."""
    result = getattr(exc, "result", None)
    summary = getattr(result, "summary", None)
    if callable(summary):
        return mask(f"interrupted; done before the interruption: {summary()}")
    return "interrupted"


class _Group(click.Group):
    """Turns segmentkit errors into one clear line and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SegmentkitError, CsvFormatError) as exc:
            session = ctx.find_object(Session)
            registry = session._registry if session else None
            if session is not None and session.debug:
                click.echo(mask(traceback.format_exc()), err=True)
            click.echo(f"error: {error_line(exc, registry)}", err=True)
            ctx.exit(exit_code_for(exc))
        except KeyboardInterrupt as exc:
            click.echo("", err=True)
            click.echo(interrupted_line(exc), err=True)
            ctx.exit(EXIT_INTERRUPTED)
        finally:
            session = ctx.find_object(Session)
            if session is not None:
                session.close()


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.ensure_object(Session).json_mode = True
    return value


def json_option(f: F) -> F:
    """``--json``: print one JSON document instead of tables."""
    return click.option(
        "--json",
        "json_flag",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        is_eager=True,
        help="Print JSON (for scripts) instead of tables.",
    )(f)


def _configure_logging(debug: bool, verbose: bool) -> None:
    if not (debug or verbose):
        return
    logger = logging.getLogger("segmentkit")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SecretLogFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--dsn", metavar="DSN", help="Account DSN, e.g. notificator://KEY@host.")
@click.option(
    "--account", "-a", metavar="NAME", help="A named account from the config file (see below)."
)
@click.option(
    "--coordination",
    metavar="SPEC",
    help="Share locks and the rate budget with other workers: host (default), local, "
    "or redis://HOST:PORT/DB. Also SEGMENTKIT_COORDINATION.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only results and errors.")
@click.option("--verbose", "-v", is_flag=True, help="Print more detail (to stderr).")
@click.option("--debug", is_flag=True, help="Tracebacks and the redacted HTTP log (stderr).")
@json_option
@click.version_option(package_name="segmentkit", prog_name="segmentkit")
@click.pass_context
def cli(
    ctx: click.Context,
    dsn: str | None,
    account: str | None,
    coordination: str | None,
    quiet: bool,
    verbose: bool,
    debug: bool,
) -> None:
    """One CLI over audience segments on SMS and email platforms.

    \b
    Choose the account with --dsn, --account NAME, or SEGMENTKIT_DSN. Named accounts live
    in $SEGMENTKIT_CONFIG, else config.toml in the user config directory:
        [accounts.sms]
        dsn = "notificator://API_KEY@notificatorsms.com"

    \b
    Exit codes: 0 ok; 1 the operation failed or partially failed; 2 usage or configuration.
    Try `segmentkit demo` for a tour against local fake platforms (no keys, no network;
    needs the test kit: pip install "segmentkit[testing]").
    """
    session = ctx.ensure_object(Session)
    session.dsn = dsn
    session.account = account
    session.coordination = coordination
    session.quiet = quiet
    session.verbose = verbose
    session.debug = debug
    _configure_logging(debug, verbose)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``segmentkit = "segmentkit.cli:main"``)."""
    cli.main(args=argv, prog_name="segmentkit")
