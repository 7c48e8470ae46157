"""Per-packet records: frozen dataclasses with a written __init__, fast compiled or not.

The server builds some twenty records per DORA (the receive context, the
exchange, the client, the offer, the lease, the reply...). A frozen
dataclass's generated __init__ sets each field through object.__setattr__
(its own __setattr__ refuses), a C call per field. So each record class
writes its own __init__ and is finished by `native_record`, called after the
class statement (mypyc compiles a class natively only without decorators of
ours):

    @dataclass(frozen=True, slots=True, init=False)
    class PacketDropEvent:
        packet: bytes
        reason: DropReason

        def __init__(self, packet: bytes, reason: DropReason) -> None:
            self.packet = packet  # type: ignore[misc]  # frozen: the only stores
            self.reason = reason  # type: ignore[misc]

    native_record(PacketDropEvent)

- Compiled by mypyc (setup.py), the class is native: the written __init__
  stores each field directly (~50 ns for four fields, against ~1 us for
  the interpreted twin below), `==` compares fields, and the dataclass's
  __setattr__ still refuses any change from Python code.
- Interpreted, those stores would meet that __setattr__; so the record is
  built as a private twin class with the same slots and no __setattr__, the
  written __init__ runs on it, and it then becomes an instance of the class
  (`__class__` assignment, allowed between classes of identical layout).

Either way the record stays a frozen dataclass in every other respect (eq,
hash, repr, dataclasses.replace, FrozenInstanceError on assignment), and it
pickles and copies through its constructor: __init__'s parameters must be
its init fields, in order (tests/test_compiled.py checks every record).

A record class must live in a module that setup.py compiles, or in one that
stays interpreted as a whole; never a record made some other way in a
compiled module: mypyc compiles `a == b` between two instances of a
dataclass it does not compile natively to `a is b`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, TypeVar

T = TypeVar("T")


def native_record(cls: type[T]) -> type[T]:
    """Finish a record class (see the module's docstring)."""
    params = getattr(cls, "__dataclass_params__", None)
    native = "__mypyc_attrs__" in cls.__dict__  # compiled (mypyc keeps no __slots__ then)
    if params is None or not params.frozen or params.init or not (
            native or "__slots__" in cls.__dict__):
        raise TypeError(f"{cls.__name__}: native_record needs "
                        "@dataclass(frozen=True, slots=True, init=False)")
    if "__init__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: native_record needs a written __init__")
    if cls.__bases__ != (object,):
        raise TypeError(f"{cls.__name__}: a record derives from object only")
    names = tuple(f.name for f in dataclasses.fields(cls) if f.init)  # type: ignore[arg-type]
    # By its constructor: a compiled frozen record's own __setstate__ would meet its
    # __setattr__, and an interpreted one's plain __new__ wants the arguments.
    cls.__reduce__ = functools.partialmethod(_reduce_by_fields, names)  # type: ignore[method-assign,assignment]
    if native:  # nothing in the way of the written __init__
        return cls
    builder = type(f"_{cls.__name__}Builder", (), {"__slots__": cls.__dict__["__slots__"]})
    written = cls.__dict__["__init__"]

    def __new__(cls_: type[T], /, *args: Any, **kwargs: Any) -> T:
        record = builder()
        written(record, *args, **kwargs)
        record.__class__ = cls_
        return record  # type: ignore[no-any-return]

    __new__.__qualname__ = f"{cls.__qualname__}.__new__"
    __new__.__doc__ = written.__doc__
    cls.__new__ = __new__  # type: ignore[assignment,method-assign]
    cls.__init__ = object.__init__  # type: ignore[method-assign]  # done in __new__
    # Its twin has its exact layout; a subclass's would not match.
    cls.__init_subclass__ = classmethod(_no_subclass)  # type: ignore[method-assign,assignment]
    return cls


def _reduce_by_fields(self: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    return (type(self), tuple(getattr(self, name) for name in names))


def _no_subclass(cls: type, /, **kwargs: Any) -> None:
    raise TypeError(f"{cls.__name__}: a record cannot be subclassed")
