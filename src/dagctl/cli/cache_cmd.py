"""``dagctl cache ls|show|clear``: what the task cache holds, and forgetting it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .conventions import Group
from .render import echo, echo_err, echo_json, print_rows

if TYPE_CHECKING:
    from pathlib import Path

    from dagctl.run.cache import CacheStore, Entry


def _store(verb: str = "read") -> CacheStore:
    """The task cache of this environment; a ``DAGCTL_CACHE_DIR`` that is no folder (a file) is an environment
    problem (exit 3), as it is for ``dagctl run``, not an empty cache. A folder that does not exist yet is empty."""
    from dagctl.run.cache import CacheStore
    from dagctl.settings import Settings

    root = Settings.from_env().task_cache_dir
    if root.exists() and not root.is_dir():
        from dagctl.errors import EnvironmentProblem

        raise EnvironmentProblem(
            f"cannot {verb} the task cache {root} (DAGCTL_CACHE_DIR): it exists and is not a directory",
            hint="point DAGCTL_CACHE_DIR at a folder, or unset it",
        )
    return CacheStore(root)


def _when(timestamp: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


def _one(store: CacheStore, key: str, *, unreadable: bool = False) -> Entry:
    """The entry ``key`` (a unique prefix) names; with ``unreadable``, a damaged one may be named too."""
    from dagctl.errors import UsageError

    found = store.find(key)
    if unreadable:
        found += [e for e in store.unreadable() if e.key.startswith(key)]
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
          dagctl cache ls --dag diamond_pipeline
        """
        found = list(_store().scan())
        entries = sorted((e for e in found if e.readable and (dag is None or e.dag == dag)), key=lambda e: -e.used)
        if as_json:
            echo_json([e.as_dict() for e in entries])
            return
        damaged = sum(1 for e in found if not e.readable) if dag is None else 0
        if damaged:
            echo_err(
                f"{damaged} unreadable cache entr{'y' if damaged == 1 else 'ies'} (never used; "
                "dagctl cache clear removes them)"
            )
        if not entries:
            if dag is not None:
                echo(f"the task cache holds no entry of DAG '{dag}'")
            else:
                echo("the task cache holds no readable entry" if damaged else "the task cache is empty")
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
        """Forget entries: every one, or those matching all the options given. The next runs compute them again.

        Unreadable (damaged) entries go too, and are counted, unless --dag is given (whose they were cannot be
        read); so do the temporary files of writes that never finished (their process died), unless --dag or
        --key is given. With --key and --dag or --older-than, the entry goes only if it matches them too.

        \b
        Example:
          dagctl cache clear --older-than 30d
        """
        from dagctl.clock import SystemClock

        from .argcheck import seconds

        store = _store("clear")
        now = SystemClock().now().timestamp()
        leftovers: list[Path] = []
        cutoff = None
        if older_than is not None:
            cutoff = now - seconds(older_than, "--older-than", example="7d")

        def matches(e: Entry) -> bool:
            # an unreadable entry says not whose it is: --dag leaves it, anything else removes it with the rest
            return (dag is None or (e.readable and e.dag == dag)) and (cutoff is None or e.used < cutoff)

        if key is not None:
            named = _one(store, key, unreadable=True)
            chosen = [named] if matches(named) else []
            if not chosen and not as_json:  # the filters combine: say which one kept it
                if dag is not None and not named.readable:
                    why = f"it is unreadable, so not known to be of DAG '{dag}'"
                elif dag is not None and named.dag != dag:
                    why = f"it is an entry of DAG '{named.dag}', not of '{dag}'"
                else:
                    why = f"it was last used {_when(named.used)}, less than --older-than {older_than} ago"
                echo_err(f"cache entry {named.key[:12]} kept: {why}")
        else:
            chosen = [e for e in store.scan() if matches(e)]
            if dag is None:  # the temporary files of writes that never finished belong to no entry
                leftovers = store.stale_temporary(now=now)
        for entry in chosen:
            store.remove(entry)
        freed = sum(e.size for e in chosen)
        temporary = 0
        for path in leftovers:
            try:
                size = path.stat().st_size
                path.unlink()
            except OSError:
                continue
            freed += size
            temporary += 1
        unreadable = sum(1 for e in chosen if not e.readable)
        if as_json:
            echo_json({"removed": len(chosen), "bytes": freed, "unreadable": unreadable, "temporary": temporary})
        else:
            damaged_note = f", {unreadable} of them unreadable" if unreadable else ""
            temporary_note = (
                f" and {temporary} temporary file{'' if temporary == 1 else 's'} of unfinished writes"
                if temporary
                else ""
            )
            echo_err(
                f"removed {len(chosen)} cache entr{'y' if len(chosen) == 1 else 'ies'}{temporary_note} "
                f"({freed:,} bytes{damaged_note})"
            )

    app.add_typer(group, name="cache")
