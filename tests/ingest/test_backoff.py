"""Backoff: the pure delay calculator the daemon uses between reconnects."""

from __future__ import annotations

import random

import pytest

from ingest.sources.backoff import Backoff


def test_doubles_up_to_the_maximum_without_jitter() -> None:
    backoff = Backoff(initial=1, maximum=10, jitter=0)

    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    assert backoff.attempts == 6


def test_custom_factor() -> None:
    backoff = Backoff(initial=0.5, maximum=100, factor=3, jitter=0)

    assert [backoff.next_delay() for _ in range(4)] == [0.5, 1.5, 4.5, 13.5]


def test_reset_starts_again() -> None:
    backoff = Backoff(initial=2, maximum=60, jitter=0)
    for _ in range(5):
        backoff.next_delay()

    backoff.reset()

    assert backoff.attempts == 0
    assert backoff.next_delay() == 2


def test_jitter_stays_within_its_band_and_below_the_maximum() -> None:
    backoff = Backoff(initial=1, maximum=30, jitter=0.5, rng=random.Random(7))
    bases = [1, 2, 4, 8, 16, 30, 30, 30]

    delays = [backoff.next_delay() for _ in bases]

    for base, delay in zip(bases, delays, strict=True):
        assert base * 0.5 <= delay <= min(30, base * 1.5)
    assert len(set(delays)) == len(delays)  # jitter actually varies the delays


def test_seeded_rng_is_reproducible() -> None:
    def run() -> list[float]:
        backoff = Backoff(initial=1, maximum=60, jitter=0.2, rng=random.Random(42))
        return [backoff.next_delay() for _ in range(10)]

    assert run() == run()


def test_long_outage_does_not_overflow() -> None:
    backoff = Backoff(initial=1, maximum=300, factor=10, jitter=0.1, rng=random.Random(1))

    for _ in range(10_000):
        delay = backoff.next_delay()

    assert 270 <= delay <= 300


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"initial": -1},
        {"initial": 10, "maximum": 5},
        {"factor": 0.5},
        {"jitter": -0.1},
        {"jitter": 1.5},
        {"initial": float("nan")},
        {"maximum": float("inf")},
    ],
)
def test_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
