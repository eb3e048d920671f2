"""Lists a person reads at 80 columns: run ids never wrapped (shortened to a tail every command accepts),
dates whole, long paths cut at their start; and the same lists whole in a pipe, for scripts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from dagctl.cli.plain import describe  # noqa: F401  (the CLI package imports cleanly)
from dagctl.cli.render import fit_table, short_run_id

ROOT = Path(__file__).resolve().parents[2]

HEADERS = ["RUN", "DAG", "STATUS", "STARTED", "DURATION", "OK/FAIL/SKIP", "TRIGGER"]
KINDS = ["run", "text", "fixed", "fixed", "fixed", "fixed", "text"]
ROWS = [
    ["20261206-210357.232-f97d2f", "nightly_etl", "success", "2026-12-06 21:03:57", "1m 02s", "41/0/2", "schedule"],
    ["20261206-200001.004-0a1b2c", "child", "abandoned", "2026-12-06 20:00:01", "3s", "1/0/0", "c of f97d2f"],
]  # fmt: skip


def widest(rows: list[list[str]]) -> int:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return sum(widths) + 2 * (len(widths) - 1)


def test_at_120_columns_everything_is_whole() -> None:
    assert widest([HEADERS, *ROWS]) <= 120
    _, rows, shortened = fit_table(HEADERS, ROWS, KINDS, 120)
    assert rows == ROWS and not shortened


def test_at_80_columns_run_ids_are_shortened_and_dates_stay_whole() -> None:
    heads, rows, shortened = fit_table(HEADERS, ROWS, KINDS, 80)
    assert shortened and [r[0] for r in rows] == ["f97d2f", "0a1b2c"]
    assert [r[3] for r in rows] == [r[3] for r in ROWS]  # dates whole
    assert [r[2] for r in rows] == ["success", "abandoned"]  # statuses whole
    assert widest([heads, *rows]) <= 80


def test_a_long_path_is_cut_at_its_start_and_text_at_its_end() -> None:
    heads = ["TASK", "STATUS", "ERROR / REASON", "LOG"]
    log = "/srv/dagctl/logs/runs/20261206-210357.232-f97d2f/transform_orders.log"
    error = "exit code 2: psql: could not connect to server: Connection refused (is it running on port 5432?)"
    rows = [["transform_orders", "failed", error, log]]
    _, [row], _ = fit_table(heads, rows, ["text", "fixed", "text", "path"], 80)
    assert widest([heads, row]) <= 80
    assert row[3].startswith("…") and row[3].endswith("transform_orders.log")
    assert row[2].startswith("exit code 2: psql") and row[2].endswith("…")
    assert row[0] == "transform_orders"  # a short column is left alone


def test_no_width_means_a_pipe_and_nothing_is_cut() -> None:
    assert fit_table(HEADERS, ROWS, KINDS, None)[1] == ROWS


def test_the_shortened_id_is_accepted_as_input(cli, tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    assert cli("run", str(tmp_path / "d.yaml"), "-q").code == 0
    run_id = cli("show", "latest", "--json").out.split('"run_id": "')[1].split('"')[0]
    shown = cli("show", short_run_id(run_id))
    assert shown.code == 0 and run_id in shown.out
    unknown = cli("show", "ffffff")
    assert unknown.code != 0 and "unknown run 'ffffff'" in unknown.err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pseudo-terminal of Linux")
def test_runs_and_show_fit_a_real_80_column_terminal(project: Path) -> None:
    dag = project / "configs" / "dags" / "a_rather_long_dag_name_for_reports.yaml"
    dag.write_text(
        "name: a_rather_long_dag_name_for_reports\ntasks:\n"
        "  - {id: transform_all_the_orders_of_the_day, run: 'echo cannot reach db.internal:5432; exit 3'}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1", "DAGCTL_LOGS_DIR": str(project / "logs")}
    for _ in range(2):
        pexpect.run(f"{sys.executable} -m dagctl run {dag} -q", cwd=str(project), env=env, timeout=60)

    def screen(*args: str) -> list[str]:
        child = pexpect.spawn(sys.executable, ["-m", "dagctl", *args], cwd=str(project), env=env, dimensions=(40, 80))
        out = child.read().decode()
        child.close()
        assert child.exitstatus == 0, out
        return [line for line in out.replace("\r", "").split("\n") if line]

    runs = screen("runs")
    assert all(len(line) <= 80 for line in runs), runs
    assert "shortened" in runs[-1] and "2026-" in runs[1]
    short = runs[1].split()[0]
    assert len(short) == 6
    show = screen("show", short)
    table = show[show.index(next(line for line in show if line.startswith("TASK"))) :]
    assert all(len(line) <= 80 for line in table), table
    assert "…" in table[1] and table[1].rstrip().endswith(".log")


def test_queue_jobs_keep_their_whole_ids_on_a_narrow_terminal(monkeypatch, capsys) -> None:
    from dagctl.cli import render
    from dagctl.cli.queue_cmd import print_status

    monkeypatch.setattr(render, "terminal_columns", lambda: 80)
    job_id = "9f1c2e4a-77b3-4d1e-a0c2-5e8f6a1b3c7d"
    status = {
        "broker": "redis://127.0.0.1:6379/0",
        "window": 100,
        "counts": {"queued": 1},
        "waiting": {"dagctl": 1},
        "workers": [],
        "jobs": [
            {
                "id": job_id,
                "state": "failed",
                "dag_path": "/srv/configs/dags/nightly_warehouse_refresh.yaml",
                "schedule_id": "nightly",
                "tenant": "acme",
                "enqueued_at": "2026-12-06T03:00:00Z",
                "attempts": 2,
                "worker": "worker-1@host",
                "run_id": "20261206-030001.004-0a1b2c",
                "error": "the broker lost this attempt (restarted empty?)",
            }
        ],
    }
    print_status(status)
    out = capsys.readouterr().out
    assert job_id in out and "0a1b2c" in out


def test_terminal_widths_of_symbols_wide_and_combining_characters() -> None:
    """The views' symbols and bars take one column, East Asian wide characters two, combining marks none; asked
    again (the width of non-ASCII text is remembered), the answers stay the same."""
    import unicodedata

    from dagctl.cli.render import TermStyle, text_width

    symbols = "".join(TermStyle.SYMBOLS.values()) + "━─…·→—◆–"
    for _ in range(2):
        assert text_width(symbols) == len(symbols)
        assert text_width("━━━ ✓ 日本") == 10
        assert text_width("e\u0301t\u00e9") == 3  # é as e + combining acute, then é in one character
        assert text_width("✓ 日") == 4
    for ch in symbols:  # a symbol added to the views must be one column wide, or the rows would not line up
        assert not unicodedata.combining(ch) and unicodedata.east_asian_width(ch) not in ("W", "F")
