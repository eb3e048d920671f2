"""Outputs made from what the store holds: timelines, CI reports (JUnit, metrics, GitHub Actions).

Pure layout code shared by every face of dagctl: the live view's model (:mod:`~dagctl.report.progress`, a fold
of a run's events with the plan and the durations history knows), a run's timeline (:mod:`~dagctl.report.timeline`:
one bar per attempt with its queued, running and retry-wait time, the critical path, the scaling to a width),
the same timeline as a standalone SVG or HTML page (:mod:`~dagctl.report.svg`), and the duration trend of a DAG's
runs (:mod:`~dagctl.report.trend`). For CI: a run as test cases (:mod:`~dagctl.report.cases`), as JUnit XML
(:mod:`~dagctl.report.junit`), as Prometheus text with the scheduler's state (:mod:`~dagctl.report.metrics`), and
as GitHub Actions commands and step summary (:mod:`~dagctl.report.github`).
Nothing here reads a file, the clock or the terminal: callers pass events,
summaries and ``now``; the CLI draws the results on a terminal, and the web dashboard can draw the same layout.

May import :mod:`dagctl.store`, :mod:`dagctl.dag` and the base modules only. The live view's modules
(``graph``, ``progress``, ``fmt``) are on the path of ``dagctl run`` on a terminal, so they import neither
:mod:`typing` nor :mod:`dataclasses` at run time (see :mod:`dagctl.records`).
"""
