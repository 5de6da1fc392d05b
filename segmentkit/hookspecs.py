"""The plugin hooks of segmentkit (pluggy project name ``segmentkit``).

Adapters are plugins: a module (or object) listed under the entry-point group ``segmentkit``
that implements some of these hooks with :data:`hookimpl`::

    from segmentkit.hookspecs import hookimpl

    @hookimpl
    def segmentkit_register_providers(register):
        register(MyProvider)

Every hook is documented here; a meta-test checks that each one is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .events import Event

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "segmentkit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def segmentkit_register_providers(register: Callable[..., Any]) -> None:
    """Register provider adapters by calling ``register(ProviderClass)`` once per class.

    ``register`` may grow keyword options later without breaking existing plugins. A class is
    rejected (and reported by ``plugin_errors()``) if it is not a ``Provider`` subclass, targets
    another major core API version, or uses a name another plugin already registered.
    """


@hookspec
def segmentkit_event(event: Event) -> None:
    """Observe what clients do: requests sent, responses received, retries scheduled,
    rate-limit waits, pages fetched (see :mod:`segmentkit.events`).

    Called synchronously on the thread doing the work, so keep it quick. URLs and headers are
    redacted before the event is built. Exceptions raised here are logged and swallowed.
    """
