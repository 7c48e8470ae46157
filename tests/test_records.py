"""fast_init: the same records as @dataclass(frozen=True, slots=True) builds, faster."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from dhcpd.records import fast_init


@fast_init
@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    count: int = 3
    tags: tuple[str, ...] = field(default_factory=tuple)
    items: list[int] = field(default_factory=list)
    doubled: int = field(init=False, default=0)
    derived: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("count must not be negative")
        object.__setattr__(self, "derived", self.count * 2)


@dataclass(frozen=True, slots=True)
class Reference:
    name: str
    count: int = 3
    tags: tuple[str, ...] = field(default_factory=tuple)


def test_positional_keyword_and_default_arguments_fill_the_fields() -> None:
    assert Sample("a") == Sample(name="a", count=3)
    built = Sample("b", 5, ("x",))
    assert (built.name, built.count, built.tags, built.doubled, built.derived) == \
        ("b", 5, ("x",), 0, 10)
    assert repr(Sample("c")) == "Sample(name='c', count=3, tags=(), items=[], doubled=0)"


def test_each_record_gets_its_own_default_factory_value() -> None:
    first, second = Sample("a"), Sample("b")
    first.items.append(1)
    assert second.items == []


def test_post_init_runs_and_may_refuse() -> None:
    with pytest.raises(ValueError, match="negative"):
        Sample("a", -1)


def test_the_record_stays_frozen_hashable_replaceable_and_picklable() -> None:
    record = Reference("a", 1)
    sample = Sample("a", 1, ("t",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.count = 2  # type: ignore[misc]
    assert dataclasses.replace(sample, count=4).derived == 8
    assert pickle.loads(pickle.dumps(sample)) == sample
    assert record.count == 1


@fast_init
@dataclass(frozen=True, slots=True)
class Key:
    a: int
    b: str = "x"


def test_equal_records_hash_alike() -> None:
    assert hash(Key(1)) == hash(Key(1, "x"))
    assert {Key(1): "found"}[Key(1)] == "found"


def test_wrong_arguments_fail_like_a_dataclass() -> None:
    with pytest.raises(TypeError):
        Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample("a", nonsense=1)  # type: ignore[call-arg]


def test_only_frozen_slotted_dataclasses_are_accepted() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        x: int

    with pytest.raises(TypeError, match="frozen=True, slots=True"):
        fast_init(NoSlots)


def test_the_record_is_of_its_own_class_and_copies_keep_every_field() -> None:
    sample = Sample("a", 2, ("t",), [1])
    assert type(sample) is Sample  # not the private twin it was built as
    for copied in (copy.copy(sample), copy.deepcopy(sample), pickle.loads(pickle.dumps(sample))):
        assert type(copied) is Sample and copied == sample
        assert (copied.doubled, copied.derived) == (0, 4)  # init=False fields too
    with pytest.raises(dataclasses.FrozenInstanceError):
        del sample.name


def test_a_fast_init_record_cannot_be_subclassed() -> None:
    # Its twin has its exact layout; a subclass's would not match.
    with pytest.raises(TypeError, match="cannot be subclassed"):
        class Wider(Key):  # the class statement itself fails
            pass
