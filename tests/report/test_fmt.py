"""Seconds as short, steady text for live screens and chart axes."""

from __future__ import annotations

import pytest

from dagctl.report.fmt import nice_step, short_duration, tick_label


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (-1, "0.0s"), (0.04, "0.0s"), (4.24, "4.2s"), (9.94, "9.9s"), (9.96, "10s"), (59.4, "59s"),
     (59.6, "1m00s"), (185, "3m05s"), (3599.4, "59m59s"), (3725, "1h02m"), (90000, "25h00m")],
)  # fmt: skip
def test_short_duration(seconds, text):
    assert short_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.25, "250ms"), (1.5, "1.5s"), (30, "30s"), (120, "2m"), (90, "1m30s"), (3600, "1h"), (5400, "1h30m")],
)
def test_tick_label(seconds, text):
    assert tick_label(seconds) == text


def test_nice_steps():
    assert [nice_step(span, 10) for span in (0.009, 0.9, 7, 45, 100, 1000, 7200, 10**6)] == [
        0.001, 0.1, 1.0, 5.0, 10.0, 120.0, 900.0, 172800.0,
    ]  # fmt: skip
