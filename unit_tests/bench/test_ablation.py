"""The ablation launcher's rules still name what the scheduler has (a renamed rule would be ablated into
nothing, silently)."""

from __future__ import annotations

import pytest

from bench.ablation import RULES


@pytest.mark.parametrize("rule", sorted(RULES))
def test_given_a_rule_when_switched_off_then_what_it_replaces_exists(rule: str) -> None:
    owner, name, _ = RULES[rule]
    assert hasattr(owner, name), f"{rule}: {owner!r} has no {name}"
