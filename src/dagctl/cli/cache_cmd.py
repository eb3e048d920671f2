"""``dagctl cache ls|show|clear``: what the task cache holds, and forgetting it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .conventions import Group
from .render import echo, echo_err, echo_json, print_rows

if TYPE_CHECKING:
    from dagctl.run.cache import CacheStore, Entry


def _store() -> CacheStore:
    from dagctl.run.cache import CacheStore
    from dagctl.settings import Settings

    return CacheStore(Settings.from_env().task_cache_dir)


def _when(timestamp: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


def _one(store: CacheStore, key: str) -> Entry:
    from dagctl.errors import UsageError

    found = store.find(key)
    if not found:
        raise UsageError(f"no cache entry '{key}'", hint="see dagctl cache ls (a unique prefix of a key is enough)")
    if len(found) > 1:
        raise UsageError(f"'{key}' matches {len(found)} cache entries", hint="give more characters of the key")
    return found[0]


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        cls=Group, help="The task cache: entries of tasks with cache:, reused by later runs.", no_args_is_help=True
    )

    @group.command("ls")
    def ls(
        dag: str | None = typer.Option(None, "--dag", help="Only entries made by this DAG."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List cache entries, most recently used first.

        \b
        Example:
          dagctl cache ls --dag nightly
        """
        entries = sorted((e for e in _store().entries() if dag is None or e.dag == dag), key=lambda e: -e.used)
        if as_json:
            echo_json([e.as_dict() for e in entries])
            return
        if not entries:
            echo("the task cache is empty" if dag is None else f"the task cache holds no entry of DAG '{dag}'")
            return
        rows = [[e.key[:12], e.dag, e.task, _when(e.created), _when(e.used), f"{e.size:,}"] for e in entries]
        print_rows(
            None,
            ["KEY", "DAG", "TASK", "CREATED", "LAST USED", "BYTES"],
            rows,
            kinds=["fixed", "text", "text", "fixed", "fixed", "fixed"],
        )

    @group.command("show")
    def show(
        key: str = typer.Argument(..., help="A key, or a unique prefix of one."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """One entry: where it came from and the outputs it restores.

        \b
        Example:
          dagctl cache show 3f9a2c
        """
        entry = _one(_store(), key)
        data = {**entry.as_dict(), "outputs": entry.outputs}
        if as_json:
            echo_json(data)
            return
        for name in ("key", "dag", "task", "run_id", "log"):
            echo(f"{name + ':':<9} {data[name] or '-'}")
        echo(f"created:  {_when(entry.created)}   last used: {_when(entry.used)}   {entry.size:,} bytes")
        echo("outputs:")
        echo_json(entry.outputs)

    @group.command("clear")
    def clear(
        older_than: str | None = typer.Option(None, "--older-than", help="Only entries unused for this long (7d)."),
        dag: str | None = typer.Option(None, "--dag", help="Only entries made by this DAG."),
        key: str | None = typer.Option(None, "--key", help="Only this entry (a key or a unique prefix)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Forget entries: every one, or those matching the options. The next runs compute them again.

        \b
        Example:
          dagctl cache clear --older-than 30d
        """
        from dagctl.clock import SystemClock
        from dagctl.dag.durations import parse_duration
        from dagctl.errors import UsageError

        store = _store()
        if key is not None:
            chosen = [_one(store, key)]
        else:
            cutoff = None
            if older_than is not None:
                try:
                    cutoff = SystemClock().now().timestamp() - parse_duration(older_than)
                except ValueError as exc:
                    raise UsageError(f"--older-than: {exc}", hint="e.g. --older-than 7d") from None
            chosen = [
                e for e in store.entries() if (dag is None or e.dag == dag) and (cutoff is None or e.used < cutoff)
            ]
        for entry in chosen:
            store.remove(entry)
        freed = sum(e.size for e in chosen)
        if as_json:
            echo_json({"removed": len(chosen), "bytes": freed})
        else:
            echo_err(f"removed {len(chosen)} cache entr{'y' if len(chosen) == 1 else 'ies'} ({freed:,} bytes)")

    app.add_typer(group, name="cache")
