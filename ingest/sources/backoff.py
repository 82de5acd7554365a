"""Exponential backoff with jitter for reconnecting to a mailbox.

A source raises :class:`~ingest.errors.SourceUnavailable` and forgets its
connection; the daemon decides when to try again. Retrying immediately would
hammer a server that is restarting (and trip its login rate limits), while a
fixed long pause would delay every escalation after a one-second network
blip. Doubling the pause up to a ceiling gets both right, and jitter stops
several mailboxes on the same server from reconnecting in lockstep.

The helper is pure: it computes delays and never sleeps, so the caller owns
the clock and tests need no patching. Randomness comes from an injectable
:class:`random.Random` so a seeded generator gives reproducible delays.
"""

from __future__ import annotations

import math
import random


class Backoff:
    """Delays ``initial, initial*factor, initial*factor**2, ...`` capped at ``maximum``.

    ``jitter`` is a fraction: each delay is multiplied by a random factor in
    ``[1 - jitter, 1 + jitter]`` and then clamped to ``[0, maximum]``, so the
    ceiling is a promise the daemon can rely on (health checks, shutdown).
    """

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 300.0,
        *,
        factor: float = 2.0,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        if not math.isfinite(initial) or initial <= 0:
            raise ValueError("initial must be a positive number of seconds")
        if not math.isfinite(maximum) or maximum < initial:
            raise ValueError("maximum must be at least initial")
        if not math.isfinite(factor) or factor < 1:
            raise ValueError("factor must be >= 1")
        if not 0 <= jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng if rng is not None else random.Random()
        self._attempts = 0
        self._base = initial

    @property
    def attempts(self) -> int:
        """How many delays were handed out since the last :meth:`reset`."""
        return self._attempts

    def next_delay(self) -> float:
        """Return the pause before the next attempt and advance the sequence."""
        base = self._base
        self._attempts += 1
        # Grow the base iteratively and stop at the ceiling: factor ** attempts
        # would overflow after a long outage.
        self._base = min(self.maximum, self._base * self.factor)
        if self.jitter:
            base *= 1 + self._rng.uniform(-self.jitter, self.jitter)
        return min(self.maximum, max(0.0, base))

    def reset(self) -> None:
        """Start again from ``initial`` (call after a successful connection)."""
        self._attempts = 0
        self._base = self.initial
