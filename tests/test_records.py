"""The run path's value types behave like the dataclasses they replace: fields, equality, immutability,
replace, copying and pickling."""

from __future__ import annotations

import copy
import pickle
from typing import ClassVar

import pytest

from dagctl import records
from dagctl.dag.plan import DagInfo, Plan, PlannedTask
from dagctl.errors import Problem, SpecError
from dagctl.records import KwRecord, PlainData, Record, field
from dagctl.run.attempts import Attempt, AttemptResult
from dagctl.run.state import RunOptions, TaskRun
from dagctl.settings import Settings


def task(tid: str = "a", **changes: object) -> PlannedTask:
    base = PlannedTask(tid, 1, 0, "run", "true", (), (), 1, 0, 1.0, 2.0, 60.0, None, run="true")
    return base.replace(**changes) if changes else base


def test_fields_are_listed_in_order_base_class_first():
    class Base(Record):
        x: int

    class Child(Base):
        kind: ClassVar[str] = "child"  # a class variable, not a field
        y: int
        z: int = 0

    assert Child.FIELDS == ("x", "y", "z") and Child.OWN_FIELDS == ("y", "z")
    assert Child(1, 2).to_dict() == {"x": 1, "y": 2, "z": 0}
    assert repr(Child(1, 2)) == "Child(x=1, y=2, z=0)"
    assert Child(1, y=2, z=3) == Child(1, 2, 3) and Child.kind == "child"


@pytest.mark.parametrize("compiled", [False, True], ids=["generic", "compiled"])
def test_the_generated_init_checks_its_arguments_like_a_dataclass(compiled: bool, monkeypatch):
    monkeypatch.setattr(records, "COMPILE_AFTER", 1 if compiled else 1000)

    class Point(Record):
        x: int
        y: int = 0
        z: int = 0

    class Line(KwRecord):
        a: int
        b: int
        c: int

    with pytest.raises(TypeError, match=r"Point.__init__\(\) missing 1 required positional argument: 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'w'"):
        Point(1, w=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'w'"):
        Point(w=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, x=2)  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes from 2 to 4 positional arguments but 5 were given"):
        Point(1, 2, 3, 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing 2 required keyword-only arguments: 'a' and 'c'"):
        Line(b=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing 3 required keyword-only arguments: 'a', 'b', and 'c'"):
        Line()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 1 positional argument but 4 were given"):
        Line(1, 2, 3)  # type: ignore[misc]
    assert Point(1, z=3) == Point(x=1, y=0, z=3) and Line(a=1, b=2, c=3).to_dict() == {"a": 1, "b": 2, "c": 3}
    assert Point.__dict__["__init__"].__code__.co_filename.startswith("<") is compiled  # the generated source's
    with pytest.raises(TypeError, match="without a default follows one with a default"):

        class Bad(Record):
            a: int = 0
            b: int


def test_keyword_records_take_keywords_only():
    class Fact(KwRecord):
        ts: str
        tags: list[str] = field(default_factory=list)

    class Later(Fact):
        status: str = "ok"
        code: int

    fact = Later(ts="t", code=3)
    assert fact.to_dict() == {"ts": "t", "tags": [], "status": "ok", "code": 3}
    with pytest.raises(TypeError):
        Later("t", code=3)  # type: ignore[misc]
    assert Fact(ts="a").tags is not Fact(ts="b").tags


def test_records_are_immutable_and_compare_by_value():
    a, b = task(), task()
    assert a == b and a is not b
    assert a != task(priority=9)
    with pytest.raises(AttributeError, match="immutable"):
        a.retries = 3  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del a.retries
    with pytest.raises(AttributeError):
        a.unknown = 1  # type: ignore[attr-defined]
    assert (a == "a") is False


def test_hashable_records_dedupe_in_sets():
    p1, p2 = Problem("f.yaml", 3, 1, "bad"), Problem("f.yaml", 3, 1, "bad")
    assert hash(p1) == hash(p2) and {p1, p2} == {p1}
    assert len(SpecError([p1, p2, Problem("f.yaml", 1, 1, "first")]).problems) == 2


def test_replace_goes_through_init_and_rejects_unknown_fields():
    info = DagInfo("d")
    assert info.params == {} and info.replace(tenant_id="t").tenant_id == "t"
    with pytest.raises(TypeError, match="no field 'nme'"):
        info.replace(nme="x")
    plan = Plan(info, {"a": task()}, (("a",),))
    assert plan.with_tenant("t").dag.tenant_id == "t" and plan.dag.tenant_id == "default"


def test_defaults_are_not_shared_between_instances():
    one, two = DagInfo("d"), DagInfo("d")
    one.params["x"] = 1
    assert two.params == {}
    options = RunOptions()
    options.params["x"] = 1
    assert RunOptions().params == {}


@pytest.mark.parametrize(
    "value",
    [
        Attempt("r/a/1", "r", "d", "a", 1, "run", command=["true"], env={"A": "1"}),
        AttemptResult("success", 0.5, exit_code=0, outputs={"n": 1}),
        Settings(),
        Problem("f.yaml", 1, 2, "msg", "hint"),
        task(),
        TaskRun("a", status="success", outputs={"x": 1}),
    ],
)
def test_copies_and_pickles_round_trip(value: PlainData):
    for clone in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert clone == value and type(clone) is type(value)


def test_attempts_round_trip_through_dicts():
    attempt = Attempt("r/a/1", "r", "d", "a", 1, "run", command="true", params={"p": [1]}, timeout=3.0)
    assert Attempt.from_dict(attempt.to_dict()) == attempt
    assert list(attempt.to_dict()) == list(Attempt.FIELDS)
    result = AttemptResult("failed", 1.0, exit_code=2, error="exit code 2")
    assert AttemptResult.from_dict(result.to_dict()) == result and not result.ok


def test_plain_data_is_mutable_and_unhashable():
    run = TaskRun("a")
    run.status = "running"
    assert run == TaskRun("a", status="running")
    with pytest.raises(TypeError):
        hash(run)
    with pytest.raises(AttributeError):
        run.typo = 1  # type: ignore[attr-defined]  # slots: a misspelt field is an error, not a new attribute


def test_init_is_compiled_after_a_class_made_enough_instances_and_then_is_the_classes_own() -> None:
    class Point(PlainData):
        x: int
        y: int = 0
        tags: list[str] = field(default_factory=list)

    stub = Point.__dict__["__init__"]
    early = [Point(n) for n in range(records.COMPILE_AFTER - 1)]  # set up generically
    assert Point.__dict__["__init__"] is stub
    assert [(p.x, p.y, p.tags) for p in early[:2]] == [(0, 0, []), (1, 0, [])] and early[0].tags is not early[1].tags
    later = Point(1, tags=["a"])
    compiled = Point.__dict__["__init__"]
    assert compiled is not stub and (later.x, later.y, later.tags) == (1, 0, ["a"])
    assert Point(2, y=3).y == 3 and Point.__dict__["__init__"] is compiled and Point(3).tags == []
    with pytest.raises(TypeError, match="missing"):
        Point()
