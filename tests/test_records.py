"""native_record, interpreted: the same records as a frozen dataclass, built with the
written __init__. (The compiled side: tests/test_compiled.py.)"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from dhcpd.records import native_record


@dataclass(frozen=True, slots=True, init=False)
class Sample:
    name: str
    count: int = 3
    tags: tuple[str, ...] = ()
    derived: int = field(init=False, repr=False, compare=False)

    def __init__(self, name: str, count: int = 3, tags: tuple[str, ...] = ()) -> None:
        if count < 0:
            raise ValueError("count must not be negative")
        self.name = name  # type: ignore[misc]
        self.count = count  # type: ignore[misc]
        self.tags = tags  # type: ignore[misc]
        self.derived = count * 2  # type: ignore[misc]


native_record(Sample)


def test_positional_keyword_and_default_arguments_fill_the_fields() -> None:
    assert Sample("a") == Sample(name="a", count=3)
    built = Sample("b", 5, ("x",))
    assert (built.name, built.count, built.tags, built.derived) == ("b", 5, ("x",), 10)
    assert repr(Sample("c")) == "Sample(name='c', count=3, tags=())"


def test_the_written_init_may_refuse() -> None:
    with pytest.raises(ValueError, match="negative"):
        Sample("a", -1)


def test_wrong_arguments_fail_like_a_dataclass() -> None:
    with pytest.raises(TypeError):
        Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample("a", nonsense=1)  # type: ignore[call-arg]


def test_the_record_stays_frozen_hashable_and_replaceable() -> None:
    sample = Sample("a", 1, ("t",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.count = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del sample.name
    assert dataclasses.replace(sample, count=4).derived == 8
    assert hash(Sample("a", 1, ("t",))) == hash(sample)
    assert {sample: "found"}[Sample("a", 1, ("t",))] == "found"


def test_the_record_is_of_its_own_class_and_copies_keep_every_field() -> None:
    sample = Sample("a", 2, ("t",))
    assert type(sample) is Sample  # not the private twin it was built as
    for copied in (copy.copy(sample), copy.deepcopy(sample), pickle.loads(pickle.dumps(sample))):
        assert type(copied) is Sample and copied == sample
        assert copied.derived == 4  # rebuilt by __init__


def test_only_frozen_slotted_dataclasses_with_a_written_init_are_accepted() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass(frozen=True, slots=True)
    class GeneratedInit:
        x: int

    @dataclass(frozen=True, slots=True, init=False)
    class NoInit:
        x: int

    with pytest.raises(TypeError, match="frozen=True, slots=True, init=False"):
        native_record(NoSlots)
    with pytest.raises(TypeError, match="frozen=True, slots=True, init=False"):
        native_record(GeneratedInit)
    with pytest.raises(TypeError, match="written __init__"):
        native_record(NoInit)


def test_a_record_cannot_be_subclassed() -> None:
    # Its twin has its exact layout; a subclass's would not match.
    with pytest.raises(TypeError, match="cannot be subclassed"):
        class Wider(Sample):  # the class statement itself fails
            pass
