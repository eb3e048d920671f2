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
