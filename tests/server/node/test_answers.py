"""``_answers``: an answer is given once, at once; a later step's shape runs first and its failure is
the answer's error; a cancelled answer gives nothing; ``answered`` awaits the same path."""

from __future__ import annotations

import asyncio

import pytest

from confagent.errors import Unavailable
from confagent.server.node import Answer, answered


def recording() -> tuple[Answer[str], list[object]]:
    given: list[object] = []
    return Answer(given.append, given.append), given


def test_an_answer_is_given_once_at_once() -> None:
    answer, given = recording()
    answer.set_result("first")
    answer.set_exception(Unavailable())
    answer.set_result("second")
    assert given == ["first"] and answer.done()


def test_an_earlier_steps_answer_is_shaped_before_it_is_given() -> None:
    answer, given = recording()
    earlier = answer.after(lambda revision: f"at {revision}")
    earlier.set_result(7)
    assert given == ["at 7"]


def test_a_shape_that_fails_gives_its_error_instead() -> None:
    answer, given = recording()

    def broken(revision: int) -> str:
        raise KeyError(revision)

    answer.after(broken).set_result(7)
    assert len(given) == 1 and isinstance(given[0], KeyError)


def test_an_error_passes_every_shape() -> None:
    answer, given = recording()
    error = Unavailable()
    answer.after(str).after(int).set_exception(error)
    assert given == [error]


def test_a_cancelled_answer_gives_nothing() -> None:
    answer, given = recording()
    assert answer.cancel()
    answer.set_result("late")
    assert given == [] and answer.done()


def test_answered_awaits_what_the_start_gives() -> None:
    async def put(value: int, answer: Answer[int]) -> None:
        asyncio.get_running_loop().call_soon(answer.set_result, value + 1)

    async def refused(value: int, answer: Answer[int]) -> None:
        answer.set_exception(Unavailable())

    async def scenario() -> None:
        assert await answered(put, 1) == 2
        with pytest.raises(Unavailable):
            await answered(refused, 1)

    asyncio.run(scenario())
