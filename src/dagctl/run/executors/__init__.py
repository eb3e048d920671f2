"""Where an attempt runs. The slot is :class:`dagctl.run.protocols.Executor`; ``threads`` is the default (its
shell fast path is ``spawner``, its log files come from ``logfiles``), ``inline`` runs attempts synchronously
for tests, ``local`` is the shared body of both, and ``celery*`` send attempts and whole runs to Celery
workers (optional extra, imported lazily). ``factory`` picks one by name."""
