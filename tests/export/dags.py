"""DAG files the export tests share."""

from __future__ import annotations

BRANCHES = """\
name: branches
params:
  mode: full
  limit: 10
tasks:
  - id: check
    run: printf 'ok=yes\\ncount=5\\n' > "$DAGCTL_OUTPUT"
  - id: when_yes
    depends_on: check
    when: outputs.check.ok == "yes" and params.mode in ["full", "all"]
    run: echo "yes=1" > "$DAGCTL_OUTPUT"
  - id: when_no
    depends_on: check
    when: outputs.check.count > params.limit or not outputs.check.ok == "yes"
    run: echo "never=1" > "$DAGCTL_OUTPUT"
  - id: after_no
    depends_on: when_no
    run: echo "after=1" > "$DAGCTL_OUTPUT"
  - id: boom
    depends_on: check
    run: exit 3
  - id: cleanup
    depends_on: [boom, when_yes]
    trigger_rule: all_done
    run: echo "cleaned=${outputs.when_yes.yes:-none}" > "$DAGCTL_OUTPUT"
  - id: on_failure
    depends_on: [boom]
    trigger_rule: one_failed
    run: echo "alert=sent" > "$DAGCTL_OUTPUT"
  - id: join
    depends_on: [when_yes, when_no]
    trigger_rule: none_failed
    when: outputs.check.missing is None
    run: echo "joined=${outputs.when_yes.yes:-none}" > "$DAGCTL_OUTPUT"
  - id: all_failed_t
    depends_on: [boom]
    trigger_rule: all_failed
    run: echo "all_failed=1" > "$DAGCTL_OUTPUT"
  - id: one_success_t
    depends_on: [boom, when_yes]
    trigger_rule: one_success
    run: echo "one=1" > "$DAGCTL_OUTPUT"
  - id: none_failed_skip
    depends_on: [boom]
    trigger_rule: none_failed
    run: echo "nf=1" > "$DAGCTL_OUTPUT"
  - id: flaky
    retries: 2
    retry_delay: 0
    run: test "$DAGCTL_ATTEMPT" -ge 2 && echo "attempt=$DAGCTL_ATTEMPT" > "$DAGCTL_OUTPUT"
"""

MATRICES = """\
name: matrices
params:
  xs: [1, 2, 3]
tasks:
  - id: list
    run: |
      echo '{"files": ["b.csv", "a.csv", "b.csv"]}' > "$DAGCTL_OUTPUT"
  - id: sweep
    matrix: {x: "${params.xs}", tag: [p, q]}
    max_parallel: 2
    min_success: 4
    env: {X: "${matrix.x}", TAG: "${matrix.tag}"}
    run: test "$X" != 2 && echo "score=$((X * 10))" > "$DAGCTL_OUTPUT"
    aggregate: {strategy: best, metric: score, order: max}
  - id: retried
    matrix: {x: [1, 2]}
    retries: 1
    retry_delay: 0
    env: {X: "${matrix.x}"}
    run: test "$X" != 2 -o "$DAGCTL_ATTEMPT" -ge 2 && echo "attempt=$DAGCTL_ATTEMPT" > "$DAGCTL_OUTPUT"
  - id: per_file
    depends_on: list
    matrix: {file: "${outputs.list.files}"}
    python: steps:measure
    params: {file: "${matrix.file}"}
    aggregate: {strategy: python, python: steps:summarise}
  - id: vote
    matrix: {x: [1, 2, 3, 4]}
    env: {X: "${matrix.x}"}
    run: if [ $((X % 2)) = 1 ]; then echo parity=odd; else echo parity=even; fi > "$DAGCTL_OUTPUT"
    aggregate: {strategy: vote, key: parity}
  - id: mean
    matrix: {x: [1.5, 2.5]}
    python: steps:half
    params: {x: "${matrix.x}"}
    aggregate: {strategy: average, metrics: [half]}
  - id: strict
    matrix: {x: [1, 2]}
    env: {X: "${matrix.x}"}
    run: test "$X" != 2
  - id: after_strict
    depends_on: strict
    run: echo never
  - id: cleanup
    depends_on: [strict, sweep]
    trigger_rule: all_done
    run: echo "best=${outputs.sweep.best.matrix.x}" > "$DAGCTL_OUTPUT"
  - id: report
    depends_on: [sweep, per_file, vote, mean]
    when: outputs.vote.winner == "odd"
    run: >-
      echo "best=${outputs.sweep.best.matrix.x}/${outputs.sweep.best.matrix.tag} total=${outputs.per_file.total}
      mean=${outputs.mean.mean.half}" > "$DAGCTL_OUTPUT"
"""

MATRIX_STEPS = """\
def measure(file):
    return {"size": len(file), "file": file}


def summarise(cells):
    ok = [c for c in cells if c["status"] == "success"]
    return {"total": sum(c["outputs"]["size"] for c in ok), "files": [c["matrix"]["file"] for c in cells]}


def half(x):
    return {"half": x / 2}
"""

LOOPS = """\
name: loops
tasks:
  - id: count
    run: echo "n=$DAGCTL_ITERATION" > "$DAGCTL_OUTPUT"
    repeat: {until: "outputs.count.n >= 3 and previous.count.n == 2", max_iterations: 5, delay: 0.1s}
  - id: capped
    run: echo "n=$DAGCTL_ITERATION" > "$DAGCTL_OUTPUT"
    repeat: {until: "outputs.capped.n > 10", max_iterations: 2}
  - id: after_capped
    depends_on: capped
    run: echo never
  - id: capped_ok
    run: echo "n=$DAGCTL_ITERATION" > "$DAGCTL_OUTPUT"
    repeat: {until: "outputs.capped_ok.n > 10", max_iterations: 2, on_max: succeed}
  - id: flaky
    retries: 1
    retry_delay: 0
    run: test "$DAGCTL_ATTEMPT" -ge 2 && echo "n=$DAGCTL_ITERATION" > "$DAGCTL_OUTPUT"
    repeat: {until: "outputs.flaky.n >= 2"}
  - id: after
    depends_on: [count, capped_ok, flaky]
    when: outputs.count.n == 3
    run: echo "count=${outputs.count.n} capped=${outputs.capped_ok.n} flaky=${outputs.flaky.n}" > "$DAGCTL_OUTPUT"
"""

SUBDAGS = """\
name: subdags
params: {day: "2026-01-02", n: 2}
tasks:
  - id: up
    run: echo "path=/data/x" > "$DAGCTL_OUTPUT"
  - id: child_ok
    depends_on: up
    params: {day: "${params.day}", n: "${params.n}", where: "${outputs.up.path}"}
    dag:
      params: {day: "1970-01-01", n: 1, where: ""}
      tasks:
        - {id: a, env: {N: "${params.n}", D: "${params.day}"}, run: 'echo "v=$N-$D" > "$DAGCTL_OUTPUT"'}
        - {id: b, depends_on: a, when: "params.n > 1", run: 'echo "w=${outputs.a.v}" > "$DAGCTL_OUTPUT"'}
        - {id: c, depends_on: a, when: "params.n > 5", run: echo never}
      outputs: {v: "${outputs.b.w}", where: "${params.where}", n: "${params.n}"}
  - id: child_fails
    dag:
      tasks:
        - {id: boom, run: exit 3}
        - {id: tidy, depends_on: boom, trigger_rule: all_done, run: echo tidy}
  - id: after_fail
    depends_on: child_fails
    run: echo never
  - id: nested
    dag: nested.yaml
  - id: report
    depends_on: [child_ok, nested]
    when: outputs.child_ok.n == 2
    run: echo "got=${outputs.child_ok.v} where=${outputs.child_ok.where} deep=${outputs.nested.deep}" > "$DAGCTL_OUTPUT"
"""

NESTED = """\
name: nested
params: {k: 7}
tasks:
  - id: inner
    params: {k: "${params.k}"}
    dag:
      params: {k: 0}
      tasks:
        - {id: leaf, env: {K: "${params.k}"}, run: 'echo "x=$K" > "$DAGCTL_OUTPUT"'}
      outputs: {x: "${outputs.leaf.x}"}
outputs: {deep: "${outputs.inner.x}"}
"""

CACHED = """\
name: cached
params: {n: 2}
tasks:
  - id: make
    cache: {inputs: ["data/*.txt"], ttl: 7d}
    run: echo ran >> make.runs; echo "n=${params.n}" > "$DAGCTL_OUTPUT"
  - id: use
    depends_on: make
    cache: true
    env: {N: "${outputs.make.n}"}
    run: echo ran >> use.runs; echo "twice=$((N * 2))" > "$DAGCTL_OUTPUT"
  - id: cells
    cache: true
    matrix: {x: [1, 2]}
    env: {X: "${matrix.x}"}
    run: echo ran >> cells.runs; echo "x=$X" > "$DAGCTL_OUTPUT"
"""

GATE = """\
name: gate
params: {version: "1.2"}
tasks:
  - {id: build, run: "true"}
  - id: go_ahead
    depends_on: build
    approval: {message: "Deploy ${params.version}?", approvers: [ana, li]}
  - {id: deploy, depends_on: go_ahead, run: 'echo "by=${outputs.go_ahead.approved_by}" > "$DAGCTL_OUTPUT"'}
  - {id: tidy, depends_on: go_ahead, trigger_rule: all_done, run: echo tidy}
"""

NUMBERS = """\
name: numbers
params: {go: "no"}
tasks:
  - id: check
    run: printf 'count=5\\ndelta=-3\\n' > "$DAGCTL_OUTPUT"
  - id: missing
    depends_on: check
    when: outputs.check.missing > 2
    run: echo "ran=1" > "$DAGCTL_OUTPUT"
  - id: not_missing
    depends_on: check
    when: not outputs.check.missing > 2
    run: echo "ran=1" > "$DAGCTL_OUTPUT"
  - id: counted
    depends_on: check
    when: 2 < outputs.check.count <= 5 and outputs.check.delta < -1
    run: echo "ran=1" > "$DAGCTL_OUTPUT"
  - id: gated
    when: params.go == "yes"
    run: echo "n=9" > "$DAGCTL_OUTPUT"
  - id: after_gated
    depends_on: [check, gated]
    trigger_rule: all_done
    when: outputs.gated.n > 2
    run: echo "ran=1" > "$DAGCTL_OUTPUT"
  - id: after_after
    depends_on: after_gated
    trigger_rule: none_failed
    run: echo "ran=1" > "$DAGCTL_OUTPUT"
"""
