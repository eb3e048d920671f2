"""Shell completion for bash, zsh and fish: the scripts, their installation, and what values complete to.

The script a shell sources (``dagctl --show-completion bash``) calls ``dagctl`` back on every Tab with
``_DAGCTL_COMPLETE=complete_<shell>`` and the words typed so far in the environment. :func:`dagctl.cli.main`
sends such a call to typer, never to the typer-free path of ``dagctl run``, and loads only the module of
the command being completed (:func:`words_typed`). typer completes commands, options and choices; the
arguments named in :data:`dagctl.cli.conventions.COMPLETERS` complete with the functions here:

* run ids (:func:`run_ids`): ``latest``, then the ids newest first, from the folder names in ``logs/runs``
  (a directory listing: no event is read);
* DAG files (:func:`dag_files`): ``*.yaml`` / ``*.yml`` in the folder being typed (the current one by
  default) and under ``configs/dags``; when nothing matches the shell completes file names as usual;
* tasks (:func:`task_ids`): the tasks of the run named before them (``dagctl logs RUN <Tab>``), from that
  run's own event file; or of the DAG file named before them (``dagctl exec-task DAG.yaml <Tab>``,
  :func:`dag_task_ids`), from its ``tasks:`` list.

A completer never fails: anything wrong (no logs folder, a bad environment variable) completes to nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import COMPLETE_VAR

SHELLS = ("bash", "zsh", "fish")
PROG = "dagctl"
DAG_FOLDER = Path("configs/dags")
MAX_CANDIDATES = 1000
"""At most this many values are offered at once (a history of many runs: type a few digits first)."""
YAML_SUFFIXES = (".yaml", ".yml")


# ------------------------------------------------------------------------------------------- values


def run_ids(incomplete: str) -> list[str]:
    """``latest`` and the run ids starting with ``incomplete``, newest first."""
    from dagctl.errors import DagctlError
    from dagctl.settings import Settings
    from dagctl.store.layout import run_ids as folder_names

    try:
        ids = folder_names(Settings.from_env().runs_dir)
    except (DagctlError, OSError):
        return []
    found = [i for i in (["latest"] if ids else []) + ids if i.startswith(incomplete)]
    return found[:MAX_CANDIDATES]


def dag_files(incomplete: str) -> list[str]:
    """DAG files starting with ``incomplete``: in the folder it names (the current one when it names none),
    and, while no folder is typed, under ``configs/dags`` too."""
    cut = incomplete.rfind("/") + 1
    typed_folder = incomplete[:cut]
    found: list[str] = []
    try:
        with os.scandir(typed_folder or ".") as entries:
            found = sorted(
                typed_folder + e.name
                for e in entries
                if e.name.endswith(YAML_SUFFIXES) and e.name.startswith(incomplete[cut:]) and _is_file(e)
            )
    except OSError:
        pass
    if not typed_folder and DAG_FOLDER.is_dir():
        for folder, dirs, files in os.walk(DAG_FOLDER):
            dirs.sort()
            for name in sorted(files):
                path = f"{folder}/{name}"
                if name.endswith(YAML_SUFFIXES) and path.startswith(incomplete) and path not in found:
                    found.append(path)
            if len(found) >= MAX_CANDIDATES:
                break
    return found[:MAX_CANDIDATES]


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def task_ids(run: str | None, incomplete: str) -> list[str]:
    """The tasks of run ``run`` (an id, a prefix or ``latest``) starting with ``incomplete``, in the order
    they started."""
    from dagctl.errors import DagctlError
    from dagctl.settings import Settings
    from dagctl.store.history import History
    from dagctl.store.jsonl import iter_records
    from dagctl.store.layout import events_file

    try:
        history = History(Settings.from_env())
        run_dir = history.run_dir(history.resolve(run or "latest"))
        seen = dict.fromkeys(
            str(r["task_id"]) for r in iter_records(events_file(run_dir)) if isinstance(r.get("task_id"), str)
        )
    except (DagctlError, OSError, ValueError):
        return []
    return [t for t in seen if t.startswith(incomplete)][:MAX_CANDIDATES]


def dag_task_ids(dag: str | Path | None, incomplete: str) -> list[str]:
    """The tasks of DAG file ``dag`` starting with ``incomplete``, in the file's order (its ``tasks:`` list, read
    without checking the rest of the file: a DAG being edited still completes)."""
    if dag is None:
        return []
    from dagctl.dag.yamlread import read_document
    from dagctl.errors import DagctlError

    try:
        data = read_document(dag).data
    except (DagctlError, OSError, ValueError):
        return []
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list):
        return []
    ids = dict.fromkeys(t["id"] for t in tasks if isinstance(t, dict) and isinstance(t.get("id"), str))
    return [t for t in ids if t.startswith(incomplete)][:MAX_CANDIDATES]


# ------------------------------------------------------------------------------------------- requests


def words_typed(environ: dict[str, str] | None = None) -> list[str]:
    """The words of a completion request before the one being completed, without the program name:
    enough for :func:`dagctl.cli.app.build_app` to load just the command's module. Empty when unsure."""
    import shlex

    env = os.environ if environ is None else environ
    shell = env.get(COMPLETE_VAR, "").partition("_")[2]
    try:
        if shell == "bash":
            words = shlex.split(env.get("COMP_WORDS", ""))
            return words[1 : int(env.get("COMP_CWORD", "0"))]
        typed = env.get("_TYPER_COMPLETE_ARGS", "")
        words = shlex.split(typed)[1:]
        return words if typed.endswith(" ") else words[:-1]
    except ValueError:  # an open quote, a bad number: let every command be loaded
        return []


def with_shell(args: list[str]) -> list[str]:
    """``--show-completion`` / ``--install-completion`` without a shell name mean the current shell."""
    out: list[str] = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg in ("--show-completion", "--install-completion"):
            following = args[i + 1] if i + 1 < len(args) else None
            if following is None or following.startswith("-"):
                out.append("auto")
    return out


def prepare() -> None:
    """Before typer answers a completion request: its completion classes for bash, zsh and fish (the formats
    the scripts of :func:`script` read) replace click's."""
    from typer._completion_classes import completion_init

    completion_init()


# ------------------------------------------------------------------------------------------- scripts


def script(shell: str) -> str:
    """The completion script of ``shell`` (``bash``, ``zsh``, ``fish`` or ``auto``: the current one)."""
    from typer._completion_shared import get_completion_script

    shell = _which(shell)
    text: str = get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)
    if shell == "bash":  # keep dagctl's order (run ids newest first) where bash can (4.4+)
        line = f"complete -o default -F _{PROG}_completion {PROG}"
        text = text.replace(line, f"{line.replace('-o default', '-o default -o nosort')} 2>/dev/null || {line}")
    return text


def install(shell: str) -> tuple[str, Path]:
    """Write the completion script of ``shell`` where the shell finds it; return the shell and the path.

    bash: ``~/.bash_completions/dagctl.sh``, sourced from ``~/.bashrc``; zsh: ``~/.zfunc/_dagctl``, with
    ``~/.zfunc`` added to ``fpath`` in ``~/.zshrc``; fish: ``~/.config/fish/completions/dagctl.fish``.
    """
    from dagctl.errors import cannot

    shell = _which(shell)
    home = Path.home()
    target, rc, line = {
        "bash": (home / ".bash_completions" / f"{PROG}.sh", home / ".bashrc", None),
        "zsh": (home / ".zfunc" / f"_{PROG}", home / ".zshrc", "fpath+=~/.zfunc; autoload -Uz compinit; compinit"),
        "fish": (home / ".config" / "fish" / "completions" / f"{PROG}.fish", None, None),
    }[shell]
    if shell == "bash":
        line = f"source '{target}'"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(script(shell) + "\n")
        if rc is not None and line is not None:
            old = rc.read_text() if rc.exists() else ""
            if line not in old:
                rc.write_text(old + ("" if not old or old.endswith("\n") else "\n") + line + "\n")
    except OSError as exc:
        raise cannot("write", exc.filename or target, exc) from None
    return shell, target


def _which(shell: str) -> str:
    from dagctl.errors import UsageError

    name = shell.strip().lower()
    if name == "auto":
        name = _current_shell()
    if name not in SHELLS:
        raise UsageError(
            f"no completion for the shell {shell!r}" if shell != "auto" else "cannot tell which shell this is",
            hint="name it: bash, zsh or fish (e.g. dagctl --show-completion bash)",
        )
    return name


def _current_shell() -> str:
    try:
        import shellingham  # type: ignore[import-untyped]  # typer's: looks at the processes above this one

        return str(shellingham.detect_shell()[0])
    except Exception:  # not installed, or no shell above (cron, CI): the login shell
        return Path(os.environ.get("SHELL", "")).name
