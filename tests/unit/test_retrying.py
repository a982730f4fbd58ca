"""The retry of writes through a database or Redis outage, with the clock and sleep replaced."""

from collections.abc import Callable

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import IntegrityError, OperationalError

from dashboard.retrying import REDIS_UNREACHABLE, with_retries

OUTAGE = OperationalError("INSERT ...", {}, ConnectionRefusedError("refused"))


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    def retry(self, write: Callable[[], str], give_up_after: float) -> str:
        return with_retries(
            write, what="test", give_up_after=give_up_after, sleep=self.sleep, clock=self.clock
        )

    def clock(self) -> float:
        return self.now


class FailingWrite:
    def __init__(self, times: int, error: Exception) -> None:
        self.times, self.error, self.calls = times, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return "written"


def test_a_write_goes_through_once_the_database_answers_again() -> None:
    fake, write = FakeTime(), FailingWrite(4, OUTAGE)
    assert fake.retry(write, give_up_after=60) == "written" and write.calls == 5
    assert fake.pauses == [0.2, 0.4, 0.8, 1.6]


def test_it_gives_up_after_its_time_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    with pytest.raises(OperationalError):
        fake.retry(FailingWrite(1000, OUTAGE), give_up_after=30)
    assert fake.now <= 30 and max(fake.pauses) == 5.0
    assert "giving up" in caplog.text


def test_a_wrong_statement_is_not_retried() -> None:
    fake = FakeTime()
    write = FailingWrite(1, IntegrityError("INSERT ...", {}, ValueError("duplicate")))
    with pytest.raises(IntegrityError):
        fake.retry(write, give_up_after=60)
    assert write.calls == 1 and fake.pauses == []


def test_a_redis_outage_is_retried_when_asked_for_and_only_then() -> None:
    fake = FakeTime()
    write = FailingWrite(2, RedisConnectionError("Connection refused"))
    result = with_retries(
        write,
        what="test",
        give_up_after=60,
        errors=REDIS_UNREACHABLE,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    assert result == "written" and write.calls == 3
    with pytest.raises(RedisConnectionError):  # a database write does not retry Redis errors
        fake.retry(FailingWrite(1, RedisConnectionError("refused")), give_up_after=60)
