"""Schedule files: what the user wrote in ``configs/schedules/*.yaml``, validated as strictly as a DAG.

A schedule file is a YAML list of entries (the source note's format loads unchanged)::

    - id: weekly_ops_chain
      cron: "*/5 * * * *"
      dag: configs/dags/weekly_ops_chain.yaml
      tenant: local-dev
      enabled: true
      # optional: params, timezone, overlap (skip|queue|allow), catchup ("2h"), jitter ("30s"), description

Every problem is reported at its ``FILE:LINE:COL`` with a fix, through the same pydantic-to-position
mapping the DAG loader uses (:func:`dagctl.dag.loader._pydantic_problems`). Cron and timezone rules come from
:mod:`dagctl.schedule.cron`. A relative ``dag:`` path is looked up from the schedule file's folder upwards, so
``../dags/x.yaml`` and the repository-relative ``configs/dags/x.yaml`` both work wherever dagctl starts
(cron and systemd start it in ``$HOME`` or ``/``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from dagctl.dag.durations import DURATION_HELP, parse_duration
from dagctl.dag.spec import DagSpec, Name
from dagctl.dag.yamlread import Document, one_line, parse_document, read_text
from dagctl.errors import DagctlError, Problem, SpecError
from dagctl.host import gc_paused

from .cron import FIELDS_HINT, cron_problems, hashed_expression, parse_cron, rare_fires, timezone_problem

__all__ = [
    "Overlap",
    "ScheduleSource",
    "ScheduleSpec",
    "check_schedule_document",
    "dag_problems",
    "duplicate_problems",
    "is_schedule_document",
    "load_schedule_dir",
    "load_schedule_file",
    "param_problems",
    "parse_schedule_text",
    "resolve_dag_path",
    "schedule_files",
    "schedules_from_document",
]

YAML_SUFFIXES = (".yaml", ".yml")
CRON_QUOTE_HINT = 'quote the cron expression, e.g. cron: "*/5 * * * *" (YAML reads an unquoted * as an alias)'
_CRON_LINE = re.compile(r"^\s*(?:-\s+)?cron\s*:")


class Overlap(str, enum.Enum):
    """What to do with a slot while the previous run of the same schedule is still going."""

    SKIP = "skip"  # record schedule_skipped and do not run it
    QUEUE = "queue"  # run it after the previous run(s) finish, in slot order
    ALLOW = "allow"  # run it alongside


def _seconds(value: Any) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        text = str(exc).split(" — ")[0]
        raise ValueError(f"{text} — {DURATION_HELP}") from None


def _catchup(value: Any) -> timedelta | None:
    if value is None or value is False:
        return None
    window = _seconds(value)
    if window <= timedelta(0):
        raise ValueError('catchup window is zero — remove catchup: for no catchup, or give a window like "2h"')
    return window


_DURATION_SCHEMA = WithJsonSchema(
    {
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
        "description": 'Seconds, or a duration such as "30s", "10m", "2h".',
    }
)
Catchup = Annotated[timedelta | None, BeforeValidator(_catchup), _DURATION_SCHEMA]
Jitter = Annotated[timedelta, BeforeValidator(_seconds), _DURATION_SCHEMA]


def _split_problem(problem: str) -> str:
    """A cron/timezone problem as ``what — how to fix`` (the cron module joins them with '; ')."""
    what, sep, fix = problem.partition("; ")
    return f"{what} — {fix}" if sep else f"{what} — {FIELDS_HINT}"


class ScheduleSpec(BaseModel):
    """One entry of a schedule file. Frozen; satisfies :class:`dagctl.schedule.slots.ScheduleLike`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    cron: Annotated[str, Strict()] = Field(
        description='Five cron fields or a macro, e.g. "*/5 * * * *"; L, 15W, 5L, 1#2 and H are understood '
        "(H is hashed from the schedule id: after loading, cron holds the numbers it stands for)."
    )
    dag: Annotated[str, Strict(), StringConstraints(min_length=1)] = Field(
        description="The DAG file; relative paths are looked up from the schedule file's folder upwards."
    )
    tenant: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="Tenant of the runs (default: the DAG's tenant_id)."
    )
    enabled: Annotated[bool, Strict()] = True
    description: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="Param overrides for every run.")
    timezone: Annotated[str, Strict()] = Field(default="UTC", description="IANA zone the cron fields are read in.")
    overlap: Overlap = Overlap.SKIP
    catchup: Catchup = Field(default=None, description="Run slots missed within this window after downtime.")
    jitter: Jitter = Field(default=timedelta(0), description="Delay each run by a stable random 0..jitter.")

    _file: str = PrivateAttr(default="<string>")
    _position: tuple[int, int] = PrivateAttr(default=(1, 1))
    _positions: dict[str, tuple[int, int]] = PrivateAttr(default_factory=dict)
    _param_positions: dict[str, tuple[int, int]] = PrivateAttr(default_factory=dict)
    _dag_path: Path | None = PrivateAttr(default=None)
    _cron_written: str | None = PrivateAttr(default=None)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str, info: ValidationInfo) -> str:
        """Valid, whitespace collapsed, and hashed ``H`` fields resolved with the schedule id, so that every
        reader of ``cron`` (slots, ``schedule list``, the web panel, exports) sees the same numbers."""
        key = info.data.get("id")
        key = key if isinstance(key, str) else ""  # a bad id is reported on its own
        problems = cron_problems(value, key)
        if problems:
            raise ValueError(_split_problem(problems[0].removeprefix("cron expression ")))
        return hashed_expression(value, key)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written_cron(cls, data: Any, handler: Any) -> ScheduleSpec:
        spec: ScheduleSpec = handler(data)
        written = data.get("cron") if isinstance(data, dict) else None
        if isinstance(written, str):
            spec._cron_written = " ".join(written.split())
        return spec

    @field_validator("overlap", mode="before")
    @classmethod
    def _known_overlap(cls, value: Any) -> Any:
        if isinstance(value, str) and value in Overlap._value2member_map_:
            return value
        raise ValueError(
            f"{value!r} is not an overlap policy — write skip (default: do not start while the "
            "previous run is going), queue (run after it) or allow (run alongside)"
        )

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        problem = timezone_problem(value)
        if problem:
            raise ValueError(_split_problem(problem))
        return value

    @property
    def file(self) -> str:
        """The schedule file this entry came from."""
        return self._file

    @property
    def cron_written(self) -> str:
        """The cron expression as written (``H H * * *``); :attr:`cron` has its ``H`` fields hashed."""
        return self._cron_written or self.cron

    @property
    def position(self) -> tuple[int, int]:
        """``(line, column)`` of the entry's ``id`` in its file."""
        return self._position

    @property
    def dag_path(self) -> Path:
        """The DAG file, resolved when the schedule was loaded (``dag`` as written otherwise)."""
        return self._dag_path if self._dag_path is not None else Path(self.dag)

    def position_of(self, key: str) -> tuple[int, int]:
        """``(line, column)`` of one of the entry's keys' values (the entry's id if unknown)."""
        return self._positions.get(key, self._position)

    def param_position(self, name: str) -> tuple[int, int]:
        """``(line, column)`` of the value of ``params: {name: ...}`` (of ``params:`` if unknown)."""
        return self._param_positions.get(name, self.position_of("params"))

    @property
    def where(self) -> str:
        return f"{self._file}:{self._position[0]}:{self._position[1]}"


# ------------------------------------------------------------------------------------------ documents


def is_schedule_document(doc: Document) -> bool:
    """A schedule file is a top-level list; a DAG file is a mapping."""
    return isinstance(doc.data, list)


def _sub_documents(doc: Document) -> list[Document]:
    """Each entry of a list document as a document of its own (paths re-rooted, in one pass over the
    positions), so the DAG loader's pydantic-error mapping works on it unchanged."""
    subs = [Document(file=doc.file, data=entry) for entry in doc.data]
    for table, attr in ((doc.marks, "marks"), (doc.key_marks, "key_marks"), (doc.coerced, "coerced")):
        for path, value in table.items():
            if path and isinstance(path[0], int) and 0 <= path[0] < len(subs):
                getattr(subs[path[0]], attr)[path[1:]] = value
    return subs


def _entry_problems(sub: Document, exc: ValidationError, who: str) -> list[Problem]:
    from dagctl.dag.specread import _pydantic_problems

    out = []
    for p in _pydantic_problems(sub, exc, ScheduleSpec):
        message = p.message.replace(" in the top level", "").replace(" in top level", "")
        out.append(Problem(p.file, p.line, p.column, one_line(f"{who}: {message}"), p.hint))
    return out


_EMPTY_FIXES: dict[str, str] = {
    "id": "write the schedule's name, e.g. id: nightly",
    "cron": 'write five cron fields in quotes, e.g. cron: "0 9 * * *"',
    "dag": "write the path of the DAG file it runs, e.g. dag: ../dags/nightly.yaml",
    "timezone": "write an IANA name such as UTC or America/New_York, or remove the line for the default "
    "(SCHED_TIMEZONE, else UTC)",
    "overlap": "write skip, queue or allow, or remove the line for the default (skip)",
    "jitter": 'write a duration such as "30s", or remove the line for none',
    "params": "write name: value lines indented under params:, or remove the line",
    "enabled": "write true or false, or remove the line (default: true)",
    "tenant": "write the tenant's name, or remove the line for the DAG's tenant_id",
}
"""Keys that have no meaning empty (null, or text of spaces only), and how to fill them in."""
_NULL_MEANS_DEFAULT = frozenset({"tenant"})  # `tenant:` alone is the default, as if left out
_PLACEHOLDERS: dict[str, Any] = {"id": "_", "cron": "* * * * *", "dag": "_"}
"""What an empty required key is validated as, so the entry's other problems are still found."""


def _empty(key: str, value: Any) -> bool:
    if value is None:
        return key not in _NULL_MEANS_DEFAULT
    return isinstance(value, str) and not value.strip()


def _dag_missing(dag: str, schedule_file: str) -> tuple[str, str]:
    """(what, how to fix) for a ``dag:`` that names no file: a folder where the file should be, or nothing."""
    path = Path(dag).expanduser()
    if path.is_absolute():
        candidates = [path]
        where, fix = "", "check the path; an absolute path is used as it is"
    else:
        here = Path(schedule_file).resolve().parent
        candidates = [base / path for base in (here, *here.parents)]
        where = f" (looked in {Path(schedule_file).parent} and its parent folders)"
        fix = "check the path; relative paths start from the schedule file's folder"
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is not None:
        named = f"'{dag}'" if path.is_absolute() else f"'{dag}' ({folder.resolve()})"
        return f"dag: {named} is a directory, not a DAG file", "write the path of the DAG's .yaml file in it"
    return f"DAG file '{dag}' not found{where}", fix


def resolve_dag_path(dag: str, schedule_file: str | Path) -> Path | None:
    """The DAG file a schedule names: absolute as is; relative from the schedule's folder upwards."""
    path = Path(dag).expanduser()
    if path.is_absolute():
        return path if path.is_file() else None
    folder = Path(schedule_file).resolve().parent
    for base in (folder, *folder.parents):
        candidate = base / path
        if candidate.is_file():
            return candidate
    return None


def schedules_from_document(
    doc: Document, *, default_timezone: str = "UTC", check_dags: bool = True
) -> list[ScheduleSpec]:
    """Validate a parsed schedule file; raise :class:`SpecError` listing every problem."""
    specs, problems = check_schedule_document(doc, default_timezone=default_timezone, check_dags=check_dags)
    if problems:
        raise SpecError(problems)
    return specs


def check_schedule_document(
    doc: Document, *, default_timezone: str = "UTC", check_dags: bool = True
) -> tuple[list[ScheduleSpec], list[Problem]]:
    """(the valid entries, every problem): for ``dagctl validate``, which checks the valid entries further."""
    if not isinstance(doc.data, list):
        kind = "a mapping" if isinstance(doc.data, dict) else f"a single value ({type(doc.data).__name__})"
        return [], [
            doc.problem(
                (),
                f"top level is {kind}, not a list of schedules",
                "a schedule file is a list: start each entry with '- id: ...'",
            )
        ]
    problems: list[Problem] = []
    specs: list[ScheduleSpec] = []
    seen: dict[str, tuple[int, int]] = {}
    subs = _sub_documents(doc)
    for index, entry in enumerate(doc.data):
        if not isinstance(entry, dict):
            problems.append(
                doc.problem(
                    (index,),
                    f"schedule #{index + 1} is not a mapping",
                    "write each entry as '- id: ...' with cron:, dag: and friends below it",
                )
            )
            continue
        raw_id = entry.get("id")
        who = f"schedule '{raw_id}'" if isinstance(raw_id, str) and raw_id.strip() else f"schedule #{index + 1}"
        data = {k: v for k, v in entry.items() if not (isinstance(k, str) and k.startswith("x-"))}
        empty = [key for key in _EMPTY_FIXES if key in data and _empty(key, data[key])]
        for key in empty:  # "is empty" and what to write, rather than how YAML read it
            problems.append(doc.problem((index, key), f"{who}: {key}: is empty", _EMPTY_FIXES[key]))
            if key in _PLACEHOLDERS:
                data[key] = _PLACEHOLDERS[key]
            else:
                del data[key]
        data.setdefault("timezone", default_timezone)
        if isinstance(raw_id, str) and raw_id.strip():
            if raw_id in seen:
                line, col = seen[raw_id]
                problems.append(
                    doc.problem(
                        (index, "id"),
                        f"duplicate schedule id '{raw_id}' (first defined at {doc.file}:{line}:{col})",
                        "schedule ids must be unique; rename one",
                    )
                )
                continue
            seen[raw_id] = doc.position((index, "id"))
        sub = subs[index]
        found: Path | None = None
        dag = entry.get("dag")
        if check_dags and isinstance(dag, str) and dag.strip():
            found = resolve_dag_path(dag, doc.file)
            if found is None:
                what, fix = _dag_missing(dag, doc.file)
                problems.append(doc.problem((index, "dag"), f"{who}: {what}", fix))
        try:
            spec = ScheduleSpec.model_validate(data)
        except ValidationError as exc:
            problems.extend(_entry_problems(sub, exc, who))
            continue
        spec._file = doc.file
        spec._position = doc.position((index, "id"))
        spec._positions = {key: doc.position((index, key)) for key in entry if isinstance(key, str)}
        spec._param_positions = {name: doc.position((index, "params", name)) for name in spec.params}
        spec._dag_path = found
        if not empty and (found is not None or not check_dags):
            specs.append(spec)
    return specs, problems


def _explain_yaml(exc: SpecError, text: str) -> SpecError:
    """Say "quote the cron expression" when YAML choked on an unquoted ``*`` or ``@`` in a cron line."""
    lines = text.splitlines()
    out = []
    for p in exc.problems:
        line = lines[p.line - 1] if 0 < p.line <= len(lines) else ""
        if p.message.startswith("invalid YAML") and _CRON_LINE.match(line):
            p = Problem(p.file, p.line, p.column, f"{p.message} (in the cron expression)", CRON_QUOTE_HINT)
        out.append(p)
    return SpecError(out)


def parse_schedule_text(text: str, file: str) -> Document:
    try:
        return parse_document(text, file)
    except SpecError as exc:
        raise _explain_yaml(exc, text) from None


def load_schedule_file(
    path: str | Path, *, default_timezone: str = "UTC", check_dags: bool = True
) -> list[ScheduleSpec]:
    """Load one schedule file; raise :class:`SpecError` with every problem."""
    with gc_paused():
        text = read_text(path)
        if not text.strip():
            raise SpecError(
                [
                    Problem(
                        str(path),
                        1,
                        1,
                        "schedule file is empty",
                        "write a list of schedules ('- id: ...'), or delete the file",
                    )
                ]
            )
        doc = parse_schedule_text(text, str(path))
        return schedules_from_document(doc, default_timezone=default_timezone, check_dags=check_dags)


def schedule_files(folder: str | Path) -> list[Path]:
    """``*.yaml`` / ``*.yml`` files in a folder and its subfolders, sorted."""
    from dagctl.errors import UsageError

    root = Path(folder)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise UsageError(
            f"schedule folder {root} does not exist",
            hint="pass --dir with your schedules folder, e.g. --dir configs/schedules",
        )
    return sorted(f for f in root.rglob("*") if f.suffix in YAML_SUFFIXES and f.is_file())


def rare_schedules(specs: Iterable[ScheduleSpec], now: datetime) -> list[Problem]:
    """A warning at the ``cron:`` of each schedule that fires less than once a year (:func:`~.cron.rare_fires`):
    ``dagctl validate`` prints them, the scheduler logs them when it starts and when its files change."""
    warnings = []
    for spec in specs:
        note = rare_fires(parse_cron(spec.cron, spec.timezone), now)
        if note is not None:
            line, col = spec.position_of("cron")
            hint = "if that is not meant, check its day-of-month, month and day-of-week fields"
            warnings.append(Problem(spec.file, line, col, f"schedule '{spec.id}': {note}", hint))
    return warnings


def duplicate_problems(specs: Iterable[ScheduleSpec]) -> list[Problem]:
    """Schedule ids used more than once across files (the first use wins)."""
    first: dict[str, ScheduleSpec] = {}
    problems = []
    for spec in specs:
        other = first.get(spec.id)
        if other is None:
            first[spec.id] = spec
            continue
        if other.file == spec.file:
            continue  # reported by schedules_from_document
        line, col = spec.position
        problems.append(
            Problem(
                spec.file,
                line,
                col,
                f"duplicate schedule id '{spec.id}' (first defined at {other.where})",
                "schedule ids must be unique across files; rename one",
            )
        )
    return problems


def load_schedule_dir(folder: str | Path, *, default_timezone: str = "UTC") -> list[ScheduleSpec]:
    """Every schedule in a folder (or one file); raise :class:`SpecError` listing every problem of every file."""
    problems: list[Problem] = []
    specs: list[ScheduleSpec] = []
    dags: dict[Path, DagSpec | None] = {}
    for path in schedule_files(folder):
        try:
            specs.extend(_load_checked(path, default_timezone, dags))
        except SpecError as exc:
            problems.extend(exc.problems)
    problems.extend(duplicate_problems(specs))
    if problems:
        raise SpecError(problems)
    return specs


def dag_problems(specs: Sequence[ScheduleSpec]) -> list[Problem]:
    """Deeper checks for ``dagctl validate``: each schedule's DAG loads and takes the params it is given
    (:func:`param_problems`, as ``--once`` and ``--serve`` check them)."""
    from dagctl.dag.loader import load_dag

    cache: dict[Path, Any] = {}
    problems = []
    for spec in specs:
        path = spec.dag_path
        if path not in cache:
            try:
                cache[path] = load_dag(path)
            except SpecError as exc:
                cache[path] = exc
        loaded = cache[path]
        if isinstance(loaded, SpecError):
            line, col = spec.position_of("dag")
            n = len(loaded.problems)
            problems.append(
                Problem(
                    spec.file,
                    line,
                    col,
                    f"schedule '{spec.id}': DAG file {spec.dag} has {n} problem{'s' * (n != 1)}; "
                    f"first: {loaded.problems[0]}",
                    f"run dagctl validate {path}",
                )
            )
            continue
        problems.extend(param_problems(spec, loaded))
    return problems


def param_problems(spec: ScheduleSpec, dag: DagSpec) -> list[Problem]:
    """Every param of schedule ``spec`` that a run of ``dag`` would refuse (unknown, or not fitting its typed
    declaration: type, enum, min/max), and every required param it leaves without a value, with the run's own
    message: at the param's value, or at ``params:`` for an unknown name. The one check of ``dagctl
    validate``, ``schedule --once`` and ``--serve`` (and whatever else reads a :class:`ScheduleSource`)."""
    from dagctl.dag.params import param_problems as check
    from dagctl.dag.params import split_params

    defaults, types = split_params(dag.params)
    problems = []
    for name, error in check(defaults, spec.params, types):
        given = name in spec.params and name in defaults  # not unknown, nor a required param left out
        line, col = spec.param_position(name) if given else spec.position_of("params")
        message = f"schedule '{spec.id}' params: {error.message} for DAG '{dag.name}'"
        problems.append(Problem(spec.file, line, col, one_line(message), one_line(_file_hint(error.hint or ""))))
    return problems


def _file_hint(hint: str) -> str:
    """A command-line hint (``pass -p rows=1000 or less``) as one for a schedule file (``write rows: 1000 or
    less``): a schedule gives its params under ``params:``."""
    if not hint.startswith("pass "):
        return hint or "fix the param"
    return "write " + re.sub(r"-p ([^=\s]+)=", r"\1: ", hint.removeprefix("pass ")) + " under params:"


def _load_checked(path: Path, default_timezone: str, dags: dict[Path, DagSpec | None]) -> list[ScheduleSpec]:
    """:func:`load_schedule_file`, plus :func:`param_problems` for each schedule whose DAG loads (``dags``: the
    DAGs read so far, by path). A DAG that does not load is left to the run, which records why it failed."""
    specs = load_schedule_file(path, default_timezone=default_timezone)
    problems = []
    for spec in specs:
        dag_path = spec.dag_path
        if dag_path not in dags:
            dags[dag_path] = _dag_for_params(dag_path)
        dag = dags[dag_path]
        if dag is not None:
            problems.extend(param_problems(spec, dag))
    if problems:
        raise SpecError(problems)
    return specs


def _dag_for_params(path: Path) -> DagSpec | None:
    """The DAG at ``path`` as far as its params go (its model only: the deeper checks are the run's), or None."""
    from dagctl.dag.loader import load_dag

    try:
        return load_dag(path, checks=())
    except (DagctlError, OSError):
        return None


_MISSING: tuple[tuple[str, int, int, int], ...] = (("<missing>", 0, 0, 0),)


def _stamps(paths: Iterable[Path]) -> tuple[tuple[str, int, int, int], ...]:
    """What identifies each file's version (path, mtime, size, inode); a file that cannot be read is left out."""
    stamps = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        stamps.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(stamps)


class ScheduleSource:
    """A schedules folder that can be reloaded while ``--serve`` runs.

    :meth:`load` is strict (any problem raises). :meth:`reload` is forgiving per file: a file that is now
    broken keeps its last good version (and the problems are returned for logging); a file that was
    removed takes its schedules with it. If the new versions clash on ids, the whole previous set stays.
    """

    def __init__(self, folder: str | Path, *, default_timezone: str = "UTC") -> None:
        self.folder = Path(folder)
        self.default_timezone = default_timezone
        self._good: dict[Path, list[ScheduleSpec]] = {}
        self._fingerprint: tuple[tuple[str, int, int, int], ...] | None = None

    def _files_fingerprint(self) -> tuple[list[Path], tuple[tuple[str, int, int, int], ...]]:
        """The schedule files and their stamps (taken before they are read: a change meanwhile is seen next time)."""
        files = schedule_files(self.folder)
        return files, _stamps(files)

    def _dag_stamps(self) -> tuple[tuple[str, int, int, int], ...]:
        """The stamps of the DAG files the schedules in use run: an edited DAG is a change too (one that no
        longer takes a schedule's params is found when it is saved, not at its run)."""
        return _stamps(sorted({spec.dag_path for specs in self._good.values() for spec in specs}))

    def current(self) -> list[ScheduleSpec]:
        return [spec for path in sorted(self._good) for spec in self._good[path]]

    def load(self) -> list[ScheduleSpec]:
        """Every schedule, or :class:`SpecError` listing every problem of every file."""
        files, fingerprint = self._files_fingerprint()
        good, problems = self._load_files(files, keep_last_good=False)
        problems.extend(duplicate_problems(spec for path in sorted(good) for spec in good[path]))
        if problems:
            raise SpecError(problems)
        self._good = good
        self._fingerprint = fingerprint + self._dag_stamps()
        return self.current()

    def _load_files(
        self, files: list[Path], *, keep_last_good: bool
    ) -> tuple[dict[Path, list[ScheduleSpec]], list[Problem]]:
        """Schedules per file and the problems found; a broken file keeps its last good version if asked."""
        good: dict[Path, list[ScheduleSpec]] = {}
        problems: list[Problem] = []
        dags: dict[Path, DagSpec | None] = {}  # each DAG read once per (re)load
        for path in files:
            try:
                good[path] = _load_checked(path, self.default_timezone, dags)
            except SpecError as exc:
                problems.extend(exc.problems)
                if keep_last_good and path in self._good:
                    good[path] = self._good[path]
        return good, problems

    def changed(self) -> bool:
        """Has any schedule file been added, removed or modified since the last (re)load, or a DAG file they run?"""
        try:
            return self._files_fingerprint()[1] + self._dag_stamps() != self._fingerprint
        except (DagctlError, OSError):
            return self._fingerprint != _MISSING  # the folder is gone: reload() reports it, once

    def reload(self) -> tuple[list[ScheduleSpec], list[Problem]]:
        """(schedules to use now, problems found); never raises for file contents."""
        try:
            files, fingerprint = self._files_fingerprint()
        except (DagctlError, OSError) as exc:
            self._fingerprint = _MISSING
            message = exc.message if isinstance(exc, DagctlError) else f"cannot read the folder: {exc}"
            hint = exc.hint if isinstance(exc, DagctlError) else "check its permissions"
            return self.current(), [Problem(str(self.folder), 1, 1, message, hint or "")]
        self._fingerprint = fingerprint + self._dag_stamps()  # report a broken version once, not on every tick
        good, problems = self._load_files(files, keep_last_good=True)
        clashes = duplicate_problems(spec for path in sorted(good) for spec in good[path])
        if clashes:
            return self.current(), problems + clashes
        self._good = good
        self._fingerprint = fingerprint + self._dag_stamps()
        return self.current(), problems
