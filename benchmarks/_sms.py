"""Seeding the SMS (notificator) fake with many contacts, directly and fast.

The fake's own ``add_contact`` checks global phone uniqueness by scanning every contact and
its list handler renders every contact (two libphonenumber lookups each) on every page
request, which is quadratic for 20,000-200,000 contacts. Those costs are the fake's, not the
client's, so for scale benchmarks :class:`ScaleNotificator` keeps the fake's answers
byte-for-byte but caches each contact's rendering and serves an unfiltered contacts page
without rendering the other pages.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from segmentkit_notificator.fake import Contact, NotificatorPlatform


def phone(i: int) -> str:
    """The ``i``-th distinct, valid Italian mobile number (E.164)."""
    return f"+39330{i:07d}"


class _CachedContact(Contact):
    @functools.cached_property
    def country_code(self) -> str | None:  # type: ignore[override]
        return Contact.country_code.fget(self)  # type: ignore[attr-defined]

    def wire(self) -> dict[str, Any]:
        cached = self.__dict__.get("_wire")
        if cached is None:
            cached = self.__dict__["_wire"] = Contact.wire(self)
        return cached


class _LazyRows:
    """Contacts in the fake's default order (id DESC), rendered only when sliced."""

    def __init__(self, contacts: list[Contact]) -> None:
        self._contacts = contacts

    def __len__(self) -> int:
        return len(self._contacts)

    def __getitem__(self, index: slice) -> list[dict[str, Any]]:
        return [c.wire() for c in self._contacts[index]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (c.wire() for c in self._contacts)


class ScaleNotificator(NotificatorPlatform):
    """The notificator fake with fast seeding and fast unfiltered contact pages."""

    _order: list[Contact] | None = None

    def seed_contacts(self, n: int, params: Any = None, *, start: int = 0) -> list[int]:
        """``n`` contacts with phones ``phone(start)`` … (unique by construction), owned by
        the default account; ``params(i)`` gives custom parameters. Returns their ids."""
        ids = []
        with self.lock:
            for i in range(start, start + n):
                cid = self._next_contact
                self._next_contact += 1
                self.contacts[cid] = _CachedContact(
                    id=cid,
                    user_id=self.account.user_id,
                    phone_number=phone(i),
                    name=f"Contact {i}",
                    custom_parameters=dict(params(i)) if params else {},
                )
                ids.append(cid)
            self._order = None
        return ids

    def list_contacts(self, request: Any, account: Any) -> Any:
        args = request.args
        if set(args) - {"page", "results_per_page"} or account.user_id != self.account.user_id:
            return super().list_contacts(request, account)
        with self.lock:
            if self._order is None or len(self._order) != len(self.contacts):
                self._order = sorted(
                    (c for c in self.contacts.values() if c.user_id == account.user_id),
                    key=lambda c: c.id,
                    reverse=True,
                )
            rows = _LazyRows(self._order)
        applied = []
        if not self.v201 and "results_per_page" in args:
            applied.append(("results_per_page", args["results_per_page"]))
        return self._paged(request, "contacts", rows, applied)  # type: ignore[arg-type]
