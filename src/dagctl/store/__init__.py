"""What happened: the durable files and everything read back from them.

Owns the append-only JSONL files (:mod:`~dagctl.store.jsonl`), the typed, versioned events
(:mod:`~dagctl.store.events`) and the sinks that write them, the scheduler's state store, run history and
run summaries, the reports over events (:mod:`~dagctl.store.reports`), prune, and
:mod:`~dagctl.store.layout`: the one module that builds paths inside a run folder (``logs/runs/<id>/``).

May import only the base modules. Never imports ``dag``, ``run``, ``schedule`` or ``cli``: it stores facts
as data and does not need to know how a DAG is written or run.
"""
