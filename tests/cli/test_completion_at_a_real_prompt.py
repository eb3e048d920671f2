"""Tab at the prompt of a real interactive bash, zsh and fish, with the script `dagctl --install-completion` wrote:
what the command line becomes, and the order values are listed in. Each shell shows its line on Ctrl-T
(`<<line>>`), so a space after a completed word is seen."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.cli.test_completion import GATED_RUN, RUN_IDS, dagctl, environment
from tests.cli.test_completion import folder as folder  # the fixtures, shared
from tests.cli.test_completion import matrix_and_gates as matrix_and_gates

PROMPT = "PROMPT> "
SHOW_LINE = "\x14"  # Ctrl-T: each shell's rc binds it to print the command line
CLEAR_LINE = "\x05\x15"  # Ctrl-E, Ctrl-U
RC = {
    "bash": (".bashrc", f'PS1=\'{PROMPT}\'\nbind -x \'"\\C-t": printf "<<%s>>\\n" "$READLINE_LINE"\'\n'),
    "zsh": (
        ".zshrc",
        f"PS1='{PROMPT}'\nbindkey -e\nunsetopt beep\n"
        '_show_line() { zle -I; print -r -- "<<$BUFFER>>"; }\nzle -N _show_line\nbindkey "^T" _show_line\n',
    ),
    "fish": (
        ".config/fish/config.fish",
        f"set -g fish_greeting ''\nfunction fish_prompt; echo -n '{PROMPT}'; end\n"
        'bind \\ct \'printf "<<%s>>\\n" "$(commandline)"\'\n',
    ),
}
ARGS = {"bash": ["--noprofile", "-i"], "zsh": ["-d", "-i"], "fish": ["-i"]}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]|[\x07\x08\r]")


class Prompt:
    """An interactive shell in ``folder`` whose HOME has the completion `dagctl --install-completion` installs."""

    def __init__(self, shell: str, folder: Path) -> None:
        home = folder / "home"
        rc, text = RC[shell]
        (home / rc).parent.mkdir(parents=True, exist_ok=True)
        (home / rc).write_text(text)  # what the installation adds goes after it
        installed = dagctl(folder, "--install-completion", shell)
        assert installed.returncode == 0, installed.stderr
        for path in (home, *home.rglob("*")):  # zsh's compinit asks before using a group-writable folder
            path.chmod(path.stat().st_mode & 0o755)
        env = {**environment(folder), "TERM": "xterm", "COLUMNS": "250", "LINES": "40"}
        self.child = pexpect.spawn(
            shell, ARGS[shell], cwd=str(folder), env=env, encoding="utf-8", timeout=30, dimensions=(40, 250)
        )
        self.child.expect_exact(PROMPT)

    def tab(self, typed: str, tabs: int = 1) -> tuple[str, str]:
        """Type ``typed``, press Tab ``tabs`` times: the command line then, and what the shell printed meanwhile
        (a list of values), without terminal codes."""
        self.line(typed)
        self.child.send("\t" * tabs)  # one after the other: bash lists on a second Tab that follows a Tab
        line = self.line()
        shown = ANSI.sub("", self.child.before)
        self.child.send(CLEAR_LINE)
        self.line()
        return line, shown

    def line(self, typed: str = "") -> str:
        """Type ``typed``, then the command line, once the shell is done with every key before."""
        self.child.send(typed + SHOW_LINE)
        self.child.expect(r"<<(.*?)>>\r?\n")
        return str(self.child.match.group(1))

    def close(self) -> None:
        self.child.close(force=True)


@pytest.fixture(params=["bash", "zsh", "fish"])
def prompt(request: pytest.FixtureRequest, folder: Path) -> Iterator[Prompt]:
    if shutil.which(request.param) is None:
        pytest.skip(f"{request.param} is not installed")
    shell = Prompt(request.param, folder)
    try:
        yield shell
    finally:
        shell.close()


def test_tab_goes_into_a_folder_and_not_to_the_project_file(prompt: Prompt) -> None:
    """configs/ holds dagctl.yaml (the project file) and dags/: `configs/da<Tab>` is `configs/dags/`, no space."""
    assert prompt.tab("dagctl run configs/da")[0] == "dagctl run configs/dags/"
    assert prompt.tab("dagctl run configs/da", tabs=2)[0] == "dagctl run configs/dags/nightly.yaml "


def test_the_first_tab_completes(prompt: Prompt) -> None:
    """zsh loads the installed ~/.zfunc/_dagctl on the first Tab: that Tab completes, and so do the next ones."""
    for _ in range(3):
        assert prompt.tab("dagctl gra")[0] == "dagctl graph "


def test_run_ids_are_listed_latest_then_newest_first(prompt: Prompt) -> None:
    shown = prompt.tab("dagctl show ", tabs=2)[1]
    order = ["latest", *sorted(RUN_IDS, reverse=True)]
    assert all(value in shown for value in order), shown
    assert sorted(order, key=shown.index) == order, shown


def test_the_tasks_of_a_dag_file_are_listed_in_its_order(prompt: Prompt) -> None:
    shown = prompt.tab("dagctl exec-task configs/dags/nightly.yaml ", tabs=2)[1]
    assert sorted(["load", "extract", "export"], key=shown.index) == ["load", "extract", "export"], shown


@pytest.mark.usefixtures("matrix_and_gates")
def test_a_matrix_cell_completes_after_its_task_name(prompt: Prompt) -> None:
    assert prompt.tab(f"dagctl logs {GATED_RUN} train:2")[0] == f"dagctl logs {GATED_RUN} train:2 "
    shown = prompt.tab("dagctl approve latest ", tabs=2)[1]
    assert "prepare" not in shown and shown.index("deploy") < shown.index("review"), shown  # gates, waiting first
