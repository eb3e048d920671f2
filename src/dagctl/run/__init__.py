"""Doing it: a Plan becomes attempts on an executor, and their results become events.

Owns the :class:`~dagctl.run.runner.Runner` (ready queue, retries, timeouts, cancel), the attempt types
(:mod:`~dagctl.run.attempts`: ``Attempt``, ``AttemptResult``, ``CancelToken``), turning a planned task into an
attempt (:mod:`~dagctl.run.resolve`), retry maths (:mod:`~dagctl.run.backoff`), resuming and partial runs
(:mod:`~dagctl.run.resume`), what a task does (:mod:`~dagctl.run.actions`: shell, Python) and where it runs
(:mod:`~dagctl.run.executors`: threads, inline, Celery). :func:`dagctl.run.api.run_dag` is the library entry.

May import ``dag``, ``store`` and the base modules. Never imports ``schedule`` or ``cli``.
"""
