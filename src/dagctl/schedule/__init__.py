"""When: cron expressions, schedule files, due slots, the tick planner and the loop that runs them.

Decisions are pure functions (:mod:`~dagctl.schedule.cron`, :mod:`~dagctl.schedule.slots`,
:func:`dagctl.schedule.tick.plan_tick`); :mod:`~dagctl.schedule.loop` does the IO around them (state-store
lock, claims, threads, signals), :mod:`~dagctl.schedule.launchers` starts claimed runs, and
:mod:`~dagctl.schedule.backfill` runs past slots. :mod:`~dagctl.schedule.validation` checks many DAG and
schedule files at once. :mod:`~dagctl.schedule.cronext` reads the extended cron forms (``L``, ``W``, ``#``,
``H``) through croniter, and :mod:`~dagctl.schedule.retention` applies ``retention:`` once a day.

May import ``run``, ``dag``, ``store`` and the base modules. Never imports ``cli``.
"""
