"""A sync plan keeps bare desired strings as normalised values and builds a ``Recipient`` only
for the ones it adds (issue 14: most of a large plan is unchanged). That shortcut must decide
exactly what the general intake decides: compared here, over the identity differential corpora
(ordinary, odd, internationalised, padded, invalid, repeated in other spellings), with the
same desired items given as mappings (which always take the general path).
"""

from __future__ import annotations

import random
from typing import Any

from segmentkit import OutcomeStatus, Recipient
from segmentkit.membership.intake import Policy, admit
from segmentkit.sync import plan_sync

from .test_identity_differential import _emails, _phones

EMAILS = 4_000
PHONES = 3_000


def _as_mapping(text: str, channel: str) -> dict[str, str]:
    return {"email": text} if "@" in text else {"phone": text}


def _view(plan: Any) -> dict[str, Any]:
    """Everything a plan decides, minus the ``input`` echo (a str vs its mapping)."""
    return {
        "to_add": [(r, r.model_fields_set) for r in plan.to_add],
        "to_remove": plan.to_remove,
        "unchanged": plan.unchanged,
        "rejected": [(o.index, o.status, o.reason, o.recipient) for o in plan.rejected],
        "held": [(h.recipient, h.reason) for h in plan.held],
    }


def _with_repeats(texts: list[str], rng: random.Random) -> list[str]:
    """The corpus plus repeats of earlier items, some spelt differently (case, padding)."""
    out = list(texts)
    for _ in range(len(texts) // 5):
        text = rng.choice(texts)
        pick = rng.random()
        if pick < 0.3:
            text = text.upper()
        elif pick < 0.6:
            text = f" {text} "
        out.insert(rng.randrange(len(out) + 1), text)
    return out


def _current(texts: list[str], channel: str, region: str | None) -> list[Recipient]:
    """Members: some of the valid desired items (so both unchanged and to_add occur), and
    some that nobody desires."""
    members = []
    for i, text in enumerate(texts[::3]):
        try:
            r = Recipient.parse(text, default_region=region)
        except Exception:
            continue
        members.append(r.model_copy(update={"id": str(i)}))
    extra = "gone{}@example.org" if channel == "email" else "+39333000{:04d}"
    members += [Recipient.parse(extra.format(i)) for i in range(50)]
    return members


def _compare(channel: str, texts: list[str], region: str | None) -> tuple[int, int]:
    current = _current(texts, channel, region)
    for remove_extra in (True, False):
        fast = plan_sync(channel, current, texts, default_region=region, remove_extra=remove_extra)
        general = plan_sync(
            channel,
            current,
            [_as_mapping(t, channel) for t in texts],
            default_region=region,
            remove_extra=remove_extra,
        )
        assert _view(fast) == _view(general)
        # One outcome per input item: every position is added, unchanged, or rejected once.
        assert len(fast.to_add) + len(fast.unchanged) + len(fast.rejected) <= len(texts)
    return len(fast.unchanged), len(fast.to_add)


def test_email_plan_matches_the_general_intake() -> None:
    rng = random.Random(14)
    texts = _with_repeats(list(_emails(EMAILS)), rng)
    unchanged, to_add = _compare("email", texts, None)
    assert unchanged > 100
    assert to_add > 100


def test_sms_plan_matches_the_general_intake() -> None:
    rng = random.Random(15)
    texts = _with_repeats([t for t, _ in _phones(PHONES)], rng)
    texts += ["someone@example.com", "Someone@Example.com"]  # not the channel's identity
    for region in (None, "IT", "US"):
        unchanged, to_add = _compare("sms", texts, region)
        assert unchanged > 10
        assert to_add > 10


def test_admission_outcomes_cover_every_position_once() -> None:
    items = [
        "a@example.com",
        "A@EXAMPLE.com",  # the same identity: a duplicate of item 0
        "not an address@",
        "+393331234567",  # a phone where e-mail is the identity
        {"email": "b@example.com"},
        " b@example.com ",  # a duplicate of item 4
        "c@example.com",
    ]
    adm = admit(items, Policy(channel="email", provider="p", mode="desired"))
    assert sorted([*adm.outcomes, *adm.origin]) == list(range(len(items)))
    assert adm.keys == ["a@example.com", "b@example.com", "c@example.com"]
    assert adm.outcomes[1].reason == "duplicate of item 0"
    assert adm.outcomes[1].recipient == Recipient(email="A@example.com")
    assert adm.outcomes[5].reason == "duplicate of item 4"
    assert adm.outcomes[2].status is OutcomeStatus.rejected
    assert adm.outcomes[3].status is OutcomeStatus.rejected
    assert adm.outcomes[3].recipient == Recipient(phone="+393331234567")
    # Bare items are built on demand, once, as the general path builds them.
    assert adm.unbuilt == 2  # items 0 and 6 (item 4 was a mapping: built by the intake)
    first = adm.recipient(0)
    assert first is adm.recipient(0)
    assert adm.unbuilt == 1
    assert first == Recipient(email="a@example.com")
    assert first.model_fields_set == {"email"}
    assert adm.valid == [
        Recipient(email="a@example.com"),
        Recipient(email="b@example.com"),
        Recipient(email="c@example.com"),
    ]
    assert adm.valid[0] is first
    assert adm.unbuilt == 0
    assert adm.valid is adm.valid  # built once: the engine reads it per item
