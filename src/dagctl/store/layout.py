"""Names of the files dagctl keeps in a run folder (``logs/runs/<run_id>/``). Shared by writers and readers."""

RUN_EVENTS = "events.jsonl"  # the run's own copy of its events
CANCEL_REQUEST = "cancel.json"  # written by `dagctl cancel`; the runner polls for it
SNAPSHOT = "dag.yaml"  # the DAG file as executed
RUN_META = "run.json"
OUTPUTS = "outputs"  # outputs/<task>.json of succeeded tasks
