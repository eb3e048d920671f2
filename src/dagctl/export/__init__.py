"""Exporting a DAG to other engines: today Argo Workflows on Kubernetes (``dagctl export argo``).

Owns the mapping of a :class:`~dagctl.dag.plan.Plan` (and, for a CronWorkflow, a schedule) to an Argo
manifest, as plain dicts built by pure functions: :mod:`~dagctl.export.argo` (the manifest, with notes on
what it approximates), :mod:`~dagctl.export.dagscope` (a DAG's tasks as an Argo DAG template: the workflow's
and, recursively, a sub-DAG's), :mod:`~dagctl.export.steps` (the ``exec-task`` containers),
:mod:`~dagctl.export.fanout` (matrices), :mod:`~dagctl.export.loop` (``repeat:``), :mod:`~dagctl.export.subdag`
(``dag:`` tasks), :mod:`~dagctl.export.memo` (``cache:`` as memoization), :mod:`~dagctl.export.gates`
(approval gates), :mod:`~dagctl.export.scope` and :mod:`~dagctl.export.options` (what building a manifest
keeps track of; fixed names), :mod:`~dagctl.export.keys` (which keys of a plan are mapped, and which are
refused until they are), :mod:`~dagctl.export.names` (Argo and Kubernetes names),
:mod:`~dagctl.export.depends` (trigger rules as ``depends`` expressions), :mod:`~dagctl.export.when`
(``when:`` as Argo's ``when``) and :mod:`~dagctl.export.cron` (a schedule as a CronWorkflow). Only
:mod:`~dagctl.export.hera_models` imports Hera (lazily, behind the ``argo`` extra): it loads a manifest
through Hera's models of the Argo schema, checks that it round-trips, and renders it as YAML. Each step of
an exported workflow runs ``dagctl exec-task`` (:mod:`dagctl.run.single`).

May import ``schedule``, ``run``, ``dag``, ``store`` and the base modules. Nothing imports it but ``cli``.
"""
