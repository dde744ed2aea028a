"""The credentials the sandbox accepts, as constants, so tests import them instead of repeating strings.

None of these is a real secret: they only open the local sandbox.
"""

from __future__ import annotations

import re

STRIPE_TEST_KEY = "sk_test_sandbox"
STRIPE_LIVE_KEY = "sk_live_sandbox"
STRIPE_RESTRICTED_KEY = "rk_test_sandbox_restricted"

STRIPE_PLATFORM_ACCOUNT = "acct_sandbox"
STRIPE_CONNECTED_ACCOUNTS = ("acct_sandbox_a", "acct_sandbox_b")
STRIPE_ACCOUNTS = (STRIPE_PLATFORM_ACCOUNT, *STRIPE_CONNECTED_ACCOUNTS)

ORB_API_KEY = "orb_sandbox_key"

INTEGRATOR_TOKEN = "integrator_sandbox_token"
INTEGRATOR_LIMITED_TOKEN = "integrator_sandbox_limited"

# Stripe shows the key prefix, a run of stars and the last four characters; the permission message of
# the brief uses eleven stars for the restricted key, kept here so tests can compare whole messages.
_STRIPE_PREFIX = re.compile(r"^((?:sk|rk|pk)_(?:test|live)_)")


def mask_stripe_key(key: str, stars: int = 4) -> str:
    """Mask a Stripe key the way Stripe's error messages do: prefix, stars, last four characters.

    Args:
        key: The key as the client sent it.
        stars: How many stars replace the hidden middle part.

    Returns:
        A string that never contains the whole key.
    """
    match = _STRIPE_PREFIX.match(key)
    prefix = match.group(1) if match else ""
    rest = key[len(prefix) :]
    if len(rest) <= 4:
        # Too short to show a tail without giving the whole secret away.
        return prefix + "*" * max(stars, len(rest))
    return prefix + "*" * stars + rest[-4:]


STRIPE_RESTRICTED_KEY_MASKED = mask_stripe_key(STRIPE_RESTRICTED_KEY, stars=11)
