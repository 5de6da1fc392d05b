"""Seeding the SMS (notificator) fake with many contacts for the scale benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from segmentkit_notificator.fake import NotificatorPlatform

Params = Callable[[int], Mapping[str, str]]


def phone(i: int) -> str:
    """The ``i``-th distinct, valid Italian mobile number (E.164)."""
    return f"+39330{i:07d}"


class ScaleNotificator(NotificatorPlatform):
    """The notificator fake with a bulk seeding helper (the fake itself answers plain contact
    pages in constant time and keeps a unique-phone index, so nothing else is overridden)."""

    def seed_contacts(self, n: int, params: Params | None = None, *, start: int = 0) -> list[int]:
        """``n`` contacts with phones ``phone(start)`` …, owned by the default account;
        ``params(i)`` gives their custom parameters. Returns their ids."""
        return [
            self.add_contact(
                phone(i), f"Contact {i}", custom_parameters=dict(params(i)) if params else None
            )
            for i in range(start, start + n)
        ]
