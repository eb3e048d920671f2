"""What the user wrote, made safe: DAG files read, checked and planned. Pure, apart from reading files.

Owns the YAML reader (:mod:`~dagctl.dag.yamlread`, positions for every node), the pydantic models of a DAG
(:mod:`~dagctl.dag.spec`), the loader and its checks, params, durations, ``${...}`` templates, ``when:``
conditions, trigger rules, workflow names (:mod:`~dagctl.dag.workflows`), and the :class:`~dagctl.dag.plan.Plan`
(topological order, priorities) with its on-disk cache and its views (dry-run lines, graphs).

May import only the base modules (``dagctl.errors``, ``clock``, ``settings``, ``records``, ``host``,
``protocols``). Never imports ``run``, ``store``, ``schedule`` or ``cli``.
"""
