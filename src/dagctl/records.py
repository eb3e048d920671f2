"""Plain data classes without :mod:`dataclasses`: the value types of the run path (plan, attempt, result,
settings, events).

``dagctl run`` imports these modules on every start. Importing :mod:`dataclasses` (which imports
:mod:`inspect`) and generating the methods of a dozen dataclasses cost ~15 ms of a start that is otherwise
~60 ms, measured on the 2-core reference machine; a DAG of short shell tasks pays it on every run. So the
run path writes out its ``__init__`` methods (typed, so calls are still checked) and gets the rest here:

* a subclass lists the fields it adds in ``OWN_FIELDS``, in order, and declares ``__slots__ = OWN_FIELDS``;
  ``FIELDS`` (all of them, base class first) is computed;
* equality, ``repr``, :meth:`~PlainData.to_dict`, :meth:`~PlainData.replace`, copying and pickling go by
  ``FIELDS``;
* :class:`Record` is immutable (like a frozen dataclass: setting an attribute raises ``AttributeError``)
  and hashable; its ``__init__`` sets fields with :func:`init_field`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    D = TypeVar("D", bound="PlainData")

init_field = object.__setattr__
"""``init_field(obj, name, value)``: how a :class:`Record`'s ``__init__`` sets its fields."""


def _rebuild(cls: type[D], values: tuple[Any, ...]) -> D:
    obj = cls.__new__(cls)
    for name, value in zip(cls.FIELDS, values, strict=True):
        init_field(obj, name, value)
    return obj


class PlainData:
    """Mutable plain data: fields in ``OWN_FIELDS``, compared and shown field by field."""

    __slots__ = ()
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ()
    """The fields this class adds, in order."""
    FIELDS: ClassVar[tuple[str, ...]] = ()
    """Every field, base class first."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.FIELDS = tuple(name for klass in reversed(cls.__mro__) for name in vars(klass).get("OWN_FIELDS", ()))

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable: unhashable, like a non-frozen dataclass

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


class Record(PlainData):
    """Immutable plain data: setting or deleting an attribute raises; hashable by its field values."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())
