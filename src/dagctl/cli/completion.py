"""Shell completion for bash, zsh and fish: the scripts, their installation, and what values complete to.

The script a shell sources (``dagctl --show-completion bash``) calls ``dagctl`` back on every Tab with
``_DAGCTL_COMPLETE=complete_<shell>`` and the line typed so far (up to the cursor) in the environment.
:func:`dagctl.cli.main` sends such a call to typer, never to the typer-free path of ``dagctl run``, and loads
only the module of the command being completed (:func:`words_typed`). typer completes commands, options and
choices; the arguments named in :data:`dagctl.cli.conventions.COMPLETERS` complete with the functions here:

* run ids (:func:`run_ids`): ``latest``, then the ids newest first, from the folder names in ``logs/runs``
  (a directory listing: no event is read);
* DAG files (:func:`dag_files`): ``*.yaml`` / ``*.yml`` in the folder being typed (the current one by
  default) but not the project file ``dagctl.yaml``, then under ``configs/dags``, then the subfolders of
  the folder being typed (``configs/``: with a slash and no space after, to go on typing inside it);
* tasks (:func:`task_ids`): the tasks and matrix cells (``train:3``) of the run named before them
  (``dagctl logs RUN <Tab>``), from that run's own event file, only its approval gates for ``approve`` and
  ``reject`` (the waiting ones first); or the tasks of the DAG file named before them
  (``dagctl exec-task DAG.yaml <Tab>``, :func:`dag_task_ids`), from its ``tasks:`` list.

Each shell shows the values in that order (bash ``-o nosort``, zsh ``compadd -V``, fish ``--keep-order``),
and adds no space after a folder. A completer never fails: anything wrong (no logs folder, a bad
environment variable) completes to nothing, and the shell then completes file names as usual.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from typer import _completion_classes as typer_shells
from typer._completion_classes import BashComplete, FishComplete, ZshComplete

from . import COMPLETE_VAR

SHELLS = ("bash", "zsh", "fish")
PROG = "dagctl"
DAG_FOLDER = Path("configs/dags")
MAX_CANDIDATES = 1000
"""At most this many values are offered at once (a history of many runs: type a few digits first)."""
YAML_SUFFIXES = (".yaml", ".yml")
GATE_COMMANDS = ("approve", "reject")
"""Commands whose TASK is an approval gate of the run."""
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


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
    """What a DAG argument starting with ``incomplete`` may be, in this order: the DAG files of the folder it
    names (the current one when it names none) but the project file ``dagctl.yaml``; while no folder is typed,
    the DAG files under ``configs/dags``; then the subfolders of the folder it names, with a trailing slash.

    A folder is offered so that Tab goes into it (``configs/da`` completes to ``configs/dags/``, not to a file
    that happens to match); hidden ones only when ``incomplete`` names them (``.``)."""
    from dagctl.dag.projectfile import PROJECT_CONFIG

    cut = incomplete.rfind("/") + 1
    typed_folder, typed_name = incomplete[:cut], incomplete[cut:]
    files: list[str] = []
    folders: list[str] = []
    try:
        with os.scandir(typed_folder or ".") as entries:
            for e in entries:
                if not e.name.startswith(typed_name) or (e.name.startswith(".") and not typed_name):
                    continue
                if _is(e, "dir"):
                    folders.append(f"{typed_folder}{e.name}/")
                elif e.name.endswith(YAML_SUFFIXES) and e.name != PROJECT_CONFIG and _is(e, "file"):
                    files.append(typed_folder + e.name)
    except OSError:
        pass
    found = sorted(files)
    if not typed_folder and DAG_FOLDER.is_dir():
        for folder, dirs, names in os.walk(DAG_FOLDER):
            dirs.sort()
            for name in sorted(names):
                path = f"{folder}/{name}"
                if name.endswith(YAML_SUFFIXES) and name != PROJECT_CONFIG and path.startswith(incomplete):
                    found.append(path)
            if len(found) >= MAX_CANDIDATES:
                break
    return (found + sorted(folders))[:MAX_CANDIDATES]


def _is(entry: os.DirEntry[str], kind: str) -> bool:
    try:
        return entry.is_dir() if kind == "dir" else entry.is_file()
    except OSError:
        return False


def task_ids(run: str | None, incomplete: str, command: str | None = None) -> list[str]:
    """The tasks and matrix cells (``train:3``) of run ``run`` (an id, a prefix or ``latest``) starting with
    ``incomplete``, in the order they started (a matrix task, then its cells).

    For ``approve`` and ``reject`` (``command``) only the run's approval gates, those waiting for a decision
    first."""
    from dagctl.errors import DagctlError
    from dagctl.settings import Settings
    from dagctl.store.history import History
    from dagctl.store.jsonl import iter_records
    from dagctl.store.layout import events_file
    from dagctl.store.runsummary import fold_run

    try:
        history = History(Settings.from_env())
        records = iter_records(events_file(history.run_dir(history.resolve(run or "latest"))))
        if command in GATE_COMMANDS:
            tasks = fold_run(records).tasks  # gates and their status as `approve` sees them (waiting_gate)
            gates = [t for t, s in tasks.items() if s.approval is not None]
            units = sorted(gates, key=lambda t: tasks[t].status != "waiting")
        else:  # the task or cell each event is about: no fold, which costs ~9 ms a 1,000 events on every Tab
            units = list(dict.fromkeys(u for u in map(_unit, records) if u))
    except (DagctlError, OSError, ValueError):
        return []
    return [t for t in units if t.startswith(incomplete)][:MAX_CANDIDATES]


def _unit(record: dict[str, Any]) -> str | None:
    """The matrix cell or the task an event is about, as :func:`dagctl.store.runsummary.fold_run` keys them."""
    for key in ("cell", "task_id"):
        value = record.get(key)
        if isinstance(value, str) and value:
            return value
    return None


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
    env = os.environ if environ is None else environ
    shell = env.get(COMPLETE_VAR, "").partition("_")[2]
    try:
        if shell == "bash" and "COMP_LINE" not in env:  # a script from before dagctl sent the line
            words = shlex.split(env.get("COMP_WORDS", ""))
            return words[1 : int(env.get("COMP_CWORD", "0"))]
        line = env.get("COMP_LINE" if shell == "bash" else "_TYPER_COMPLETE_ARGS", "")
        shlex.split(line)  # an open quote: unsure
        return _line_split(line)[0]
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
    """Before typer answers a completion request: the request and answer formats of the scripts of
    :func:`script` (:class:`Bash`, :class:`Zsh`, :class:`Fish`) replace click's and typer's."""
    for shell in (Bash, Zsh, Fish):  # into the registry typer reads (its own click's, or click's)
        typer_shells.add_completion_class(shell, shell.name)  # type: ignore[attr-defined]


def _line_split(line: str) -> tuple[list[str], str]:
    """The words of a command line typed up to the cursor, after the program's (and the variables set before it,
    ``DAGCTL_LOGS_DIR=x dagctl ...``): those before the one being typed, and that one (empty after a space). An
    open quote is taken as closed, as the shell would."""
    lex = shlex.shlex(line, posix=True)
    lex.whitespace_split, lex.commenters = True, ""
    words: list[str] = []
    try:
        words.extend(lex)
    except ValueError:  # an open quote: what is typed after it is the word
        words.append(lex.token)
    while words and _ASSIGNMENT.match(words[0]):
        del words[0]
    words = words[1:]
    if not words or line[-1:].isspace():
        return words, ""
    return words[:-1], words[-1]


def after_word_break(values: list[str], incomplete: str, word_breaks: str) -> list[str]:
    """``values`` as bash inserts them: it replaces only the part of the word after the last of its
    ``COMP_WORDBREAKS`` characters (``:`` and ``=`` among them), so ``train:`` completes to ``train:3`` with ``3``."""
    cut = max((incomplete.rfind(c) for c in ":=" if c in word_breaks), default=-1) + 1
    head = incomplete[:cut]
    return [v[cut:] if cut and v.startswith(head) else v for v in values]


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


class Bash(BashComplete):
    """A request from dagctl's bash script: the line up to the cursor in ``COMP_LINE`` (the words bash split,
    ``COMP_WORDS``, cut ``train:3`` in three), its ``COMP_WORDBREAKS``; the answer: one value a line."""

    def source(self) -> str:
        return script("bash")

    def get_completion_args(self) -> tuple[list[str], str]:
        if "COMP_LINE" not in os.environ:  # a script from before dagctl sent the line
            return super().get_completion_args()
        return _line_split(os.environ["COMP_LINE"])

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        values = [item.value for item in self.get_completions(args, incomplete)]
        return "\n".join(after_word_break(values, incomplete, os.environ.get("COMP_WORDBREAKS", "")))


class Zsh(ZshComplete):
    """A request from dagctl's zsh script (``_TYPER_COMPLETE_ARGS``: the words up to the cursor); the answer:
    one value a line, a tab and its help after it when it has one (the script adds them in this order)."""

    def source(self) -> str:
        return script("zsh")

    def get_completion_args(self) -> tuple[list[str], str]:
        return _line_split(os.environ.get("_TYPER_COMPLETE_ARGS", ""))

    def format_completion(self, item: Any) -> str:
        return f"{item.value}\t{_one_line(item.help)}" if item.help else str(item.value)

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        return "\n".join(self.format_completion(item) for item in self.get_completions(args, incomplete))


class Fish(FishComplete):
    """A request from dagctl's fish script; the answer: typer's (``value<TAB>help`` a line), help kept plain."""

    def source(self) -> str:
        return script("fish")

    def get_completion_args(self) -> tuple[list[str], str]:
        return _line_split(os.environ.get("_TYPER_COMPLETE_ARGS", ""))

    def format_completion(self, item: Any) -> str:
        return f"{item.value}\t{_one_line(item.help)}" if item.help else str(item.value)


# ------------------------------------------------------------------------------------------- scripts

_BASH = r"""_dagctl_completion() {
    mapfile -t COMPREPLY < <(COMP_LINE="${COMP_LINE:0:COMP_POINT}" COMP_WORDBREAKS="$COMP_WORDBREAKS" \
                               @COMPLETE_VAR@=complete_bash "$1" 2>/dev/null)
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null  # a folder: go on typing inside it
    fi
    return 0
}

complete -o default -o nosort -F _dagctl_completion dagctl 2>/dev/null ||
    complete -o default -F _dagctl_completion dagctl
"""
"""bash 4.4+ keeps dagctl's order (``-o nosort``); an older one sorts. Nothing offered: file names."""

_ZSH = r"""#compdef dagctl

_dagctl_completion() {
  local -a found described plain folders
  local entry
  found=("${(@f)$(_TYPER_COMPLETE_ARGS="${words[1,CURRENT]}" @COMPLETE_VAR@=complete_zsh dagctl 2>/dev/null)}")
  for entry in "${found[@]}"; do
    if [[ -z $entry ]]; then
      continue
    elif [[ $entry == *$'\t'* ]]; then
      described+=("${${entry%%$'\t'*}//:/\\:}:${entry#*$'\t'}")
    elif [[ $entry == */ ]]; then
      folders+=("$entry")
    else
      plain+=("$entry")
    fi
  done
  if (( ! $#described && ! $#plain && ! $#folders )); then
    _files
    return
  fi
  local ret=1
  (( $#described )) && _describe -V value described && ret=0
  (( $#plain )) && compadd -V dagctl -- "${plain[@]}" && ret=0
  (( $#folders )) && compadd -V dagctl -S '' -- "${folders[@]}" && ret=0
  return ret
}

compdef _dagctl_completion dagctl
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
  _dagctl_completion "$@"
fi
"""
"""Values in dagctl's order (``-V``: an unsorted group), folders without a space after (``-S ''``). Sourced, the
script registers its function with ``compdef``; loaded from ``fpath`` (``~/.zfunc/_dagctl``, :func:`install`) by
the first Tab, as the body of ``_dagctl``, it does so and completes that Tab too. Nothing offered: file names."""

_FISH = (
    'complete --command dagctl --no-files --keep-order --arguments "(env @COMPLETE_VAR@=complete_fish'
    ' _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) dagctl)" --condition'
    ' "env @COMPLETE_VAR@=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline'
    ' -cp) dagctl"\n'
)
"""fish 3.1+: values in dagctl's order (``--keep-order``); fish adds no space after a folder's slash. Nothing
offered (``is-args`` fails): file names."""


def script(shell: str) -> str:
    """The completion script of ``shell`` (``bash``, ``zsh``, ``fish`` or ``auto``: the current one)."""
    text = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}[_which(shell)]
    return text.replace("@COMPLETE_VAR@", COMPLETE_VAR)


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
