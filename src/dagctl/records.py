"""Plain data classes without :mod:`dataclasses`: the value types of the run path (plan, attempt, result,
settings, events).

``dagctl run`` imports these modules on every start. Importing :mod:`dataclasses` (which imports
:mod:`inspect`) and generating the methods of a dozen dataclasses cost ~15 ms of a start that is otherwise
~60 ms, measured on the 2-core reference machine; a DAG of short shell tasks pays it on every run. So the
run path declares its value types the way a dataclass is declared, and this module does the rest::

    class AttemptResult(Record):
        status: str
        duration_s: float
        outputs: dict[str, Any] | None = None
        tags: list[str] = field(default_factory=list)

* each annotated class attribute (not ``ClassVar``) is a field, in order, base class first (``FIELDS``;
  ``OWN_FIELDS`` are the ones a class adds); the class gets ``__slots__`` for them;
* ``__init__`` is generated from the fields (no :mod:`inspect`): a field with a default is optional,
  :func:`field` gives a fresh default per instance; subclasses of :class:`KwRecord` take keyword arguments
  only. A class's first instances are set up by a generic loop; from its :data:`COMPILE_AFTER`-th on, by
  source text compiled for the class (a class made a few times per command is never compiled);
* equality, ``repr``, :meth:`~PlainData.to_dict`, :meth:`~PlainData.replace`, copying and pickling go by
  ``FIELDS``;
* :class:`Record` is immutable (like a frozen dataclass: setting an attribute raises ``AttributeError``)
  and hashable; :class:`PlainData` is mutable.

Type checkers see these classes as dataclasses (:pep:`681` ``dataclass_transform``), so every call is checked
against the generated ``__init__``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar, TypeVar

    from typing_extensions import dataclass_transform

    D = TypeVar("D", bound="_Fields")
    T = TypeVar("T")
else:

    def dataclass_transform(**_: object):  # typing's, without importing typing at run time
        return lambda cls: cls


init_field = object.__setattr__
"""``init_field(obj, name, value)``: sets a field of a :class:`Record`, which refuses plain assignment."""


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A field whose default is made afresh for each instance: ``tags: list[str] = field(default_factory=list)``."""
    return _Factory(default_factory)  # type: ignore[return-value]  # the class turns it into an __init__ default


_MISSING = object()


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _check_order(cls: type, fields: tuple[str, ...], defaults: dict[str, Any]) -> None:
    """Positional fields: one without a default may not follow one with a default (checked at class creation)."""
    seen_default = False
    for name in fields:
        if name in defaults:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")


COMPILE_AFTER = 128
"""Instances a record class makes with the generic ``__init__`` before its own is compiled."""


def _lazy_init(cls: type, fields: tuple[str, ...], defaults: dict[str, Any], *, frozen: bool, kw_only: bool) -> Any:
    """An ``__init__`` that sets the fields generically (:func:`_generic_init`) for the class's first
    :data:`COMPILE_AFTER` instances, then compiles the class's own (:func:`_make_init`) and puts it in its place.

    Compiling one costs ~0.25 ms (parsing its source), the generic one 0.5-1.5 µs more per instance than a
    compiled one, so at most about as much as compiling is spent before compiling. A class made a few times per
    command (settings, options, the plan, a run's start and end) is never compiled: a ``dagctl run`` starts
    ~2.5 ms sooner; one made thousands of times (events, attempts) is, early on."""
    generic = _generic_init(cls, fields, defaults, kw_only=kw_only)
    made = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal made
        made += 1
        if made < COMPILE_AFTER:
            generic(self, args, kwargs)
            return
        init = _make_init(cls, fields, defaults, frozen=frozen, kw_only=kw_only)
        if cls.__dict__.get("__init__") is __init__:
            cls.__init__ = init  # type: ignore[misc]
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _generic_init(cls: type, fields: tuple[str, ...], defaults: dict[str, Any], *, kw_only: bool) -> Any:
    """Sets ``fields`` from the arguments of a call, as the compiled ``__init__`` would (a ``TypeError`` worded
    as Python words it for a missing, unknown or repeated argument), with a loop instead of generated code."""
    positional = () if kw_only else fields
    name = f"{cls.__qualname__}.__init__()"
    kind = "keyword-only" if kw_only else "positional"

    def init(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if args:
            if len(args) > len(positional):
                least = sum(1 for n in positional if n not in defaults) + 1  # self counts, as in Python's words
                most = len(positional) + 1
                plural = "s" if most > 1 else ""
                takes = f"from {least} to {most}" if least < most else str(most)
                raise TypeError(f"{name} takes {takes} positional argument{plural} but {len(args) + 1} were given")
            for field_name, value in zip(positional, args, strict=False):
                if field_name in kwargs:
                    raise TypeError(f"{name} got multiple values for argument {field_name!r}")
                kwargs[field_name] = value
        pop = kwargs.pop
        for field_name in fields:
            value = pop(field_name, _MISSING)
            if value is _MISSING:
                value = defaults.get(field_name, _MISSING)
                if value is _MISSING:
                    _refuse(name, kind, fields, defaults, kwargs, field_name)
                if type(value) is _Factory:
                    value = value.make()
            init_field(self, field_name, value)
        if kwargs:
            raise TypeError(f"{name} got an unexpected keyword argument {next(iter(kwargs))!r}")

    return init


def _refuse(
    name: str, kind: str, fields: tuple[str, ...], defaults: dict[str, Any], rest: dict[str, Any], first: str
) -> None:
    """The ``TypeError`` of a call missing ``first`` (and maybe more): an unknown argument is named first, as
    Python does."""
    if set(rest) - set(fields):
        raise TypeError(f"{name} got an unexpected keyword argument {next(n for n in rest if n not in fields)!r}")
    later = fields[fields.index(first) + 1 :]
    missing = [first, *(n for n in later if n not in rest and n not in defaults)]
    names = [repr(n) for n in missing]
    listed = " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + f", and {names[-1]}"
    plural = "s" if len(missing) > 1 else ""
    raise TypeError(f"{name} missing {len(missing)} required {kind} argument{plural}: {listed}")


def _make_init(cls: type, fields: tuple[str, ...], defaults: dict[str, Any], *, frozen: bool, kw_only: bool) -> Any:
    """``__init__`` for ``fields``, as source compiled once: as fast as one written by hand."""
    namespace: dict[str, Any] = {"_set": init_field, "_MISSING": _MISSING}
    params, body = [], []
    for name in fields:
        value = defaults.get(name, _MISSING)
        if value is _MISSING:
            params.append(name)
            expr = name
        elif isinstance(value, _Factory):
            namespace[f"_f_{name}"] = value.make
            params.append(f"{name}=_MISSING")
            expr = f"_f_{name}() if {name} is _MISSING else {name}"
        else:
            namespace[f"_d_{name}"] = value
            params.append(f"{name}=_d_{name}")
            expr = name
        body.append(f"    _set(self, {name!r}, {expr})" if frozen else f"    self.{name} = {expr}")
    signature = ", ".join(["self", *(["*"] if kw_only and params else []), *params])
    source = f"def __init__({signature}) -> None:\n" + ("\n".join(body) or "    pass") + "\n"
    exec(compile(source, f"<{cls.__module__}.{cls.__qualname__}.__init__>", "exec"), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


class _FieldsMeta(type):
    """Turns annotated class attributes into slots, ``FIELDS`` and a generated ``__init__``."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kwargs: Any) -> _FieldsMeta:
        annotations = ns.get("__annotations__", {})
        own = tuple(n for n, a in annotations.items() if not _is_classvar(a))
        own_defaults = {n: ns.pop(n) for n in own if n in ns}
        inherited: list[str] = []
        defaults: dict[str, Any] = {}
        for base in reversed(bases):
            for f in getattr(base, "FIELDS", ()):
                if f not in inherited:
                    inherited.append(f)
            defaults.update(getattr(base, "_DEFAULTS", {}))
        defaults.update(own_defaults)
        ns.setdefault("__slots__", own)
        ns["OWN_FIELDS"] = own
        ns["FIELDS"] = (*inherited, *own)
        ns["_DEFAULTS"] = defaults
        cls = super().__new__(mcls, name, bases, ns, **kwargs)
        if "__init__" not in ns and ns["FIELDS"]:
            frozen, kw_only = getattr(cls, "_FROZEN", False), getattr(cls, "_KW_ONLY", False)
            if not kw_only:
                _check_order(cls, ns["FIELDS"], defaults)
            cls.__init__ = _lazy_init(cls, ns["FIELDS"], defaults, frozen=frozen, kw_only=kw_only)  # type: ignore[misc]
        return cls


class _Fields(metaclass=_FieldsMeta):
    """What :class:`PlainData` and :class:`Record` share: fields, equality, repr, copies, pickling."""

    __slots__ = ()
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ()
    """The fields this class adds, in order."""
    FIELDS: ClassVar[tuple[str, ...]] = ()
    """Every field, base class first."""
    _DEFAULTS: ClassVar[dict[str, Any]] = {}
    _FROZEN: ClassVar[bool] = False
    _KW_ONLY: ClassVar[bool] = False

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.FIELDS)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self._values())

    def to_dict(self) -> dict[str, Any]:
        """Field name → value (values as they are: not copied)."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def replace(self: D, **changes: Any) -> D:
        """A copy with ``changes`` applied, made through ``__init__`` (like :func:`dataclasses.replace`)."""
        unknown = changes.keys() - set(self.FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return type(self)(**{**self.to_dict(), **changes})


def _rebuild(cls: type[D], values: tuple[Any, ...]) -> D:
    obj = cls.__new__(cls)
    for name, value in zip(cls.FIELDS, values, strict=True):
        init_field(obj, name, value)
    return obj


@dataclass_transform(field_specifiers=(field,))
class PlainData(_Fields):
    """Mutable plain data, compared and shown field by field; unhashable, like a non-frozen dataclass."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record(_Fields):
    """Immutable plain data: setting or deleting an attribute raises; hashable by its field values."""

    __slots__ = ()
    _FROZEN = True

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __hash__(self) -> int:
        return hash(self._values())


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
class KwRecord(Record):
    """A :class:`Record` built with keyword arguments only (events: many optional fields, read by name)."""

    __slots__ = ()
    _KW_ONLY = True
