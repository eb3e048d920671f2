"""Trigger rules: given how upstream tasks ended, run, skip, or keep waiting. Pure.

A task's upstream statuses are ``success``, ``failed``, ``skipped`` or ``cancelled`` once finished.
``failed`` includes timeouts. Rules (the default is ``all_success``):

=============  ==========================================================================================
all_success    run when every upstream succeeded; skip as soon as one did not (skips propagate)
all_done       run when every upstream finished, whatever the outcome (cleanup)
always         same as all_done (an alias Airflow users expect)
all_failed     run when every upstream failed; skip as soon as one succeeded or was skipped
one_success    run as soon as one upstream succeeded; skip when all finished and none succeeded
one_failed     run as soon as one upstream failed (alerting, fallback); skip when all finished and none failed
none_failed    run when every upstream finished and none failed (skipped is fine: joins after branches)
=============  ==========================================================================================

A task without upstream tasks always runs (subject to its ``when:``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Literal

    Decision = Literal["run", "skip", "wait"]

FINISHED = frozenset({"success", "failed", "skipped", "cancelled"})


def decide(rule: str, upstream: Mapping[str, str | None]) -> tuple[Decision, str]:
    """``upstream`` maps each upstream id to its status (None or a non-final status while unfinished)."""
    if not upstream:
        return "run", ""
    done = {t: s for t, s in upstream.items() if s in FINISHED}
    all_done = len(done) == len(upstream)
    ok = [t for t, s in done.items() if s == "success"]
    failed = [t for t, s in done.items() if s == "failed"]
    not_ok = [t for t, s in done.items() if s != "success"]

    if rule == "all_success":
        if not_ok:
            t = not_ok[0]
            return "skip", f"upstream '{t}' {done[t]}"
        return ("run", "") if all_done else ("wait", "")
    if rule in ("all_done", "always"):
        return ("run", "") if all_done else ("wait", "")
    if rule == "all_failed":
        bad = [t for t, s in done.items() if s != "failed"]
        if bad:
            return "skip", f"upstream '{bad[0]}' {done[bad[0]]} (trigger_rule all_failed)"
        return ("run", "") if all_done else ("wait", "")
    if rule == "one_success":
        if ok:
            return "run", ""
        return ("skip", "no upstream succeeded (trigger_rule one_success)") if all_done else ("wait", "")
    if rule == "one_failed":
        if failed:
            return "run", ""
        return ("skip", "no upstream failed (trigger_rule one_failed)") if all_done else ("wait", "")
    if rule == "none_failed":
        if failed:
            return "skip", f"upstream '{failed[0]}' failed (trigger_rule none_failed)"
        cancelled = [t for t, s in done.items() if s == "cancelled"]
        if cancelled:
            return "skip", f"upstream '{cancelled[0]}' cancelled"
        return ("run", "") if all_done else ("wait", "")
    raise ValueError(f"unknown trigger rule {rule!r}")
