"""Retry maths. Pure: attempt number and settings in, delay out."""

from __future__ import annotations

from collections.abc import Callable

JITTER = 0.1  # +-10 %


def backoff_delay(
    attempt: int, *, base: float, factor: float, cap: float, rand: Callable[[], float] | None = None
) -> float:
    """Delay before retrying after failed ``attempt`` (1-based): ``base * factor**(attempt-1)``, capped at
    ``cap``, then jittered by +-10 % (never above ``cap``, never negative) so retries of many tasks
    that failed together do not stampede."""
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    if rand is None:
        import random  # imported here: most runs never retry

        rand = random.random
    raw = min(base * factor ** (attempt - 1), cap)
    jittered = raw * (1 + JITTER * (2 * rand() - 1))
    return max(0.0, min(jittered, cap))
