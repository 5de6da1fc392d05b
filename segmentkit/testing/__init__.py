"""segmentkit's test kit (install the ``testing`` extra).

* :class:`FakePlatform` — base of stateful fake platforms (WSGI, lock, request log, faults);
* :class:`FakeServer` / :func:`fake` — serve a fake on a loopback socket or via ``responses``;
* :class:`FaultInjector` — seeded fault injection; :data:`FAULT_KINDS` lists the kinds;
* :mod:`segmentkit.testing.contract` — the contract suite every adapter subclasses;
* the pytest plugin (``segmentkit_fake`` fixture, ``live`` switch) loads automatically;
  :class:`FakeFactory` / :class:`LiveFactory` type its fixtures.

Names are imported on first use, so the reference ``memory`` adapter and the pytest plugin
load without werkzeug and responses installed (they are only needed to run a fake).
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from .app import FakePlatform, FixedWindowLimiter, RequestLog, RequestRecord, json_response
    from .faults import FAULT_KINDS, Fault, FaultInjector
    from .pytest_plugin import FakeFactory, FaultSpec, LiveFactory
    from .server import FakeServer, Mode, fake, fake_class, free_port

__all__ = [
    "FAULT_KINDS",
    "FakeFactory",
    "FakePlatform",
    "FakeServer",
    "Fault",
    "FaultInjector",
    "FaultSpec",
    "FixedWindowLimiter",
    "LiveFactory",
    "Mode",
    "RequestLog",
    "RequestRecord",
    "fake",
    "fake_class",
    "free_port",
    "json_response",
]

_WHERE = {
    "FakePlatform": ".app",
    "FixedWindowLimiter": ".app",
    "RequestLog": ".app",
    "RequestRecord": ".app",
    "json_response": ".app",
    "FAULT_KINDS": ".faults",
    "Fault": ".faults",
    "FaultInjector": ".faults",
    "FakeFactory": ".pytest_plugin",
    "LiveFactory": ".pytest_plugin",
    "FaultSpec": ".pytest_plugin",
    "FakeServer": ".server",
    "Mode": ".server",
    "fake": ".server",
    "fake_class": ".server",
    "free_port": ".server",
}


def __getattr__(name: str) -> _typing.Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
