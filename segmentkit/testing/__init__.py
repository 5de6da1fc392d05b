"""segmentkit's test kit (install the ``testing`` extra).

* :class:`FakePlatform` — base of stateful fake platforms (WSGI, lock, request log, faults);
* :class:`FakeServer` / :func:`fake` — serve a fake on a loopback socket or via ``responses``;
* :class:`FaultInjector` — seeded fault injection; :data:`FAULT_KINDS` lists the kinds;
* :mod:`segmentkit.testing.contract` — the contract suite every adapter subclasses;
* the pytest plugin (``segmentkit_fake`` fixture, ``live`` switch) loads automatically.
"""

from __future__ import annotations

from .app import FakePlatform, FixedWindowLimiter, RequestLog, RequestRecord, json_response
from .faults import FAULT_KINDS, Fault, FaultInjector
from .server import FakeServer, Mode, fake, fake_class, free_port

__all__ = [
    "FAULT_KINDS",
    "FakePlatform",
    "FakeServer",
    "Fault",
    "FaultInjector",
    "FixedWindowLimiter",
    "Mode",
    "RequestLog",
    "RequestRecord",
    "fake",
    "fake_class",
    "free_port",
    "json_response",
]
