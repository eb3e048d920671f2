"""The run catalog: filtered listings open only the runs that can match, and stay exact (store.runcatalog)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagctl.host import hostname
from dagctl.settings import Settings
from dagctl.store.events import DagDone, DagResume, DagStart, TaskOk, format_ts
from dagctl.store.history import History
from dagctl.store.jsonl import encode_record
from dagctl.store.runcatalog import UNKNOWN, Entry, RunCatalog, may_match, read_entry
from tests.conftest import ROOT, logs_under

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
DAGS = ("etl", "report", "ingest")
TENANTS = ("acme", "globex")
STATUSES = ("success", "failed", "success", "cancelled", "success", None, "paused")


def run_id(n: int) -> str:
    when = T0 + timedelta(minutes=n)
    return when.strftime("%Y%m%d-%H%M%S.000-") + f"{n:06x}"


def append(settings: Settings, rid: str, *records: dict) -> None:
    folder = settings.runs_dir / rid
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "events.jsonl").open("ab") as fh:
        fh.write(b"".join(encode_record(r) for r in records))


def start(rid: str, dag: str, tenant: str, *, pid: int = 1, host: str = "another-host") -> dict:
    ts = format_ts(T0)
    return DagStart(ts=ts, run_id=rid, dag_name=dag, tenant_id=tenant, host=host, pid=pid).to_record()


def done(rid: str, dag: str, tenant: str, status: str) -> dict:
    return DagDone(ts=format_ts(T0), run_id=rid, dag_name=dag, tenant_id=tenant, status=status).to_record()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    logs_under(tmp_path, monkeypatch)
    return Settings.from_env()


@pytest.fixture
def history(settings: Settings) -> Iterator[History]:
    for n in range(210):
        rid, dag, tenant = run_id(n), DAGS[n % 3], TENANTS[n % 2]
        status = STATUSES[n % len(STATUSES)]
        append(settings, rid, start(rid, dag, tenant), *([done(rid, dag, tenant, status)] if status else []))
    yield History(settings)


class Spy:
    """Counts the runs whose events a History reads in full (the cost the catalog avoids)."""

    def __init__(self, history: History, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[str] = []
        real = history.events_of

        def events_of(rid: str) -> list[dict]:
            self.reads.append(rid)
            return real(rid)

        monkeypatch.setattr(history, "events_of", events_of)


def brute(history: History, **filters: str | None) -> list[str]:
    """The answer without the catalog: fold every run, filter in Python."""
    out = []
    for rid in history.run_ids():
        s = history.summary(rid)
        if all(not want or getattr(s, key) == want for key, want in _keys(filters).items()):
            out.append(rid)
    return out


def _keys(filters: dict[str, str | None]) -> dict[str, str | None]:
    names = {"dag": "dag_name", "tenant": "tenant_id", "status": "status"}
    return {names[k]: v for k, v in filters.items()}


def listed(history: History, **filters: str | None) -> list[str]:
    return [s.run_id for s in history.summaries(**filters)]  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ behaviour


@pytest.mark.parametrize(
    "filters",
    [
        {"dag": "etl"},
        {"tenant": "globex"},
        {"status": "failed"},
        {"status": "running"},
        {"status": "paused"},
        {"dag": "report", "status": "success"},
        {"dag": "ingest", "tenant": "acme", "status": "cancelled"},
        {"dag": "nope"},
    ],
)
def test_filtered_listings_equal_folding_every_run(history: History, filters: dict[str, str]) -> None:
    assert listed(history, **filters) == brute(history, **filters)


def test_a_filtered_listing_reads_only_the_runs_that_can_match(history: History, monkeypatch) -> None:
    spy = Spy(history, monkeypatch)
    assert listed(history, dag="nope") == []  # builds the catalog: two small reads per folder, no folds
    assert spy.reads == []
    assert (history.settings.run_catalog_path).is_file()
    got = [s.run_id for s in history.summaries(dag="etl", status="failed", limit=5)]
    live = {run_id(n) for n in range(210) if STATUSES[n % len(STATUSES)] in (None, "paused")}
    assert len(got) == 5 and set(spy.reads) - set(got) <= live  # read: what is shown, and runs not yet final
    spy.reads.clear()
    running = listed(history, status="running")
    assert running and set(spy.reads) == live  # runs not final yet are the only candidates


def catalog(settings: Settings) -> RunCatalog:
    return RunCatalog(settings.run_catalog_path, settings.runs_dir)


def test_only_final_statuses_are_trusted_a_paused_run_that_resumes_is_seen_again(history: History, settings) -> None:
    rid = run_id(6)  # paused, etl... (6 % 7 -> "paused")
    assert rid in listed(history, status="paused")
    assert catalog(settings).entries()[rid] == Entry(DAGS[0], TENANTS[0], "paused", False)
    dag, tenant = DAGS[6 % 3], TENANTS[6 % 2]
    resume = DagResume(ts=format_ts(T0), run_id=rid, dag_name=dag, tenant_id=tenant, host="h", pid=2).to_record()
    ok = TaskOk(ts=format_ts(T0), run_id=rid, dag_name=dag, tenant_id=tenant, task_id="a").to_record()
    append(settings, rid, resume, ok)
    assert rid not in listed(history, status="paused") and rid in listed(history, status="running")
    append(settings, rid, done(rid, dag, tenant, "success"))
    assert rid in listed(history, status="success") and rid not in listed(history, status="running")
    assert catalog(settings).entries()[rid] == Entry(DAGS[0], TENANTS[0], "success", True)


def test_a_run_whose_owner_died_is_found_by_status_abandoned_and_recorded_once(settings) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that is certainly dead
    rid = run_id(1)
    append(settings, rid, start(rid, "etl", "acme", pid=child.pid, host=hostname()))
    history = History(settings)
    assert listed(history, status="running") == []
    assert listed(history, status="abandoned") == [rid]
    assert listed(history, status="abandoned", dag="etl") == [rid]
    lines = (settings.runs_dir / rid / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["dag_start", "dag_done"]


def test_new_and_pruned_runs_are_noticed_and_a_damaged_catalog_is_rebuilt(history: History, settings) -> None:
    assert len(listed(history, dag="etl")) == 70
    newest = run_id(500)
    append(settings, newest, start(newest, "etl", "acme"), done(newest, "etl", "acme", "failed"))
    assert listed(history, dag="etl", limit=1) == [newest]  # type: ignore[call-arg]
    import shutil

    shutil.rmtree(settings.runs_dir / newest)
    assert newest not in listed(history, dag="etl")
    assert newest not in catalog(settings).entries()
    for damage in (b"{not json", b'{"v": 99, "runs": {}}', b"[]", b'{"v": 1, "ids": "x", "names": []}'):
        settings.run_catalog_path.write_bytes(damage)
        assert listed(history, status="failed") == brute(history, status="failed")
        assert json.loads(settings.run_catalog_path.read_text())["v"] == 1


def test_an_unwritable_catalog_costs_time_not_answers(history: History, settings) -> None:
    settings.run_catalog_path.parent.parent.mkdir(parents=True, exist_ok=True)
    settings.run_catalog_path.parent.write_text("a file where the cache folder should be")
    assert listed(history, tenant="acme") == brute(history, tenant="acme")
    assert listed(history, status="cancelled", dag="etl") == brute(history, status="cancelled", dag="etl")


def test_since_limits_what_the_catalog_reads(history: History, settings) -> None:
    since = T0 + timedelta(minutes=200)
    got = [s.run_id for s in history.summaries(dag="etl", since=since)]
    assert got == [r for r in brute(history, dag="etl") if r >= run_id(200)]
    assert got == [r for r in catalog(settings).candidates(dag="etl") if r >= run_id(200)]


# ------------------------------------------------------------------------------------- pure pieces


def test_may_match_rules_out_only_what_an_entry_proves() -> None:
    final = Entry("etl", "acme", "success", True)
    assert may_match(final, dag="etl", tenant="acme", status="success")
    assert not may_match(final, dag="report", tenant=None, status=None)
    assert not may_match(final, dag=None, tenant="globex", status=None)
    assert not may_match(final, dag=None, tenant=None, status="failed")
    live = Entry("etl", "acme", "running", False)
    assert may_match(live, dag=None, tenant=None, status="abandoned")  # its owner may have died
    assert may_match(UNKNOWN, dag="x", tenant="y", status="z")
    assert may_match(final, dag="", tenant="", status="")  # empty filters filter nothing


def test_read_entry_takes_the_dag_from_the_first_record_and_the_status_from_the_last_dag_done(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    assert read_entry(path) == (UNKNOWN, -1)
    path.write_bytes(b'{"torn\n' + encode_record(start("r", "etl", "acme")))
    assert read_entry(path)[0] == Entry("etl", "acme", "running", False)
    filler = [
        TaskOk(ts="t", run_id="r", dag_name="etl", tenant_id="acme", task_id=f"t{i}").to_record() for i in range(99)
    ]
    path.write_bytes(path.read_bytes() + b"".join(map(encode_record, [*filler, done("r", "etl", "acme", "failed")])))
    assert read_entry(path) == (Entry("etl", "acme", "failed", True), path.stat().st_size)
    path.write_bytes(path.read_bytes() + b'{"event":"dag_done","sta')  # a torn last line is skipped
    assert read_entry(path)[0] == Entry("etl", "acme", "failed", True)


def test_the_listing_is_kept_while_the_runs_folder_is_unchanged_and_settled(history: History, settings) -> None:
    from dagctl.clock import FakeClock

    mtime = os.stat(settings.runs_dir).st_mtime_ns
    now = datetime.fromtimestamp(mtime / 1e9, timezone.utc)
    soon = RunCatalog(settings.run_catalog_path, settings.runs_dir, FakeClock(now + timedelta(seconds=0.5)))
    soon.refresh()
    assert soon.listed
    soon.refresh()
    assert soon.listed  # listed within a second of the folder's last change: not trusted yet
    later = RunCatalog(settings.run_catalog_path, settings.runs_dir, FakeClock(now + timedelta(seconds=2)))
    later.refresh()
    assert later.listed
    before = later.reads
    later.refresh()
    assert not later.listed and later.reads == before + 0  # settled: no listing, no run read again
    newest = run_id(900)
    append(settings, newest, start(newest, "etl", "acme"), done(newest, "etl", "acme", "success"))
    assert later.candidates(dag="etl")[0] == newest and later.listed


# --------------------------------------------------------------------------------- dagctl runs (CLI)


def test_dagctl_runs_filters_by_dag_status_and_tenant(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("name: ok_dag\ntenant_id: acme\ntasks:\n  - {id: a, run: 'true'}\n")
    (tmp_path / "bad.yaml").write_text("name: bad_dag\ntenant_id: globex\ntasks:\n  - {id: a, run: 'exit 3'}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(tmp_path / "logs"), "NO_COLOR": "1"}
    for key in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH"):
        env.pop(key, None)

    def dagctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dagctl", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    for name in ("ok.yaml", "bad.yaml", "ok.yaml"):
        dagctl("run", name, "-q")

    def ids(*flags: str) -> list[tuple[str, str, str]]:
        result = dagctl("runs", "--json", *flags)
        assert result.returncode == 0, result.stderr
        return [(r["dag_name"], r["status"], r["tenant_id"]) for r in json.loads(result.stdout)]

    assert ids("--dag", "ok_dag") == [("ok_dag", "success", "acme")] * 2
    assert ids("--status", "failed") == [("bad_dag", "failed", "globex")]
    assert ids("--tenant", "globex", "--status", "success") == []
    assert ids("--dag", "unknown") == []
    assert (tmp_path / "logs" / "cache" / "runs.json").is_file()
    dagctl("run", "bad.yaml", "-q")
    assert ids("--dag", "bad_dag") == [("bad_dag", "failed", "globex")] * 2  # a new run is noticed
    empty = dagctl("runs", "--dag", "unknown")
    assert empty.returncode == 0 and "no runs found matching the filters" in empty.stderr
