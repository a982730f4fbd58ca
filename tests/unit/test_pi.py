"""The pi job: digits checked against mpmath, progress as a user sees it, and its limits."""

import math

import mpmath
import pytest

from dashboard.jobs import pi
from dashboard.jobs.pi import LEIBNIZ_MAX_DIGITS, PiMethod, compute_pi

LARGEST_CHECKED = 1_000_000

Reports = list[tuple[float, str]]


@pytest.fixture(scope="module")
def reference() -> str:
    """Pi from mpmath with spare digits, so that cutting it short truncates rather than rounds."""
    with mpmath.workdps(LARGEST_CHECKED + 20):
        return str(+mpmath.mp.pi)


def truncated(reference: str, digits: int) -> str:
    return reference[: digits + 2]


def run(digits: int, method: PiMethod) -> tuple[str, Reports]:
    reports: Reports = []
    text = compute_pi(digits, method, lambda percent, value: reports.append((percent, value)))
    return text, reports


@pytest.mark.parametrize("digits", [1, 2, 10, 50, 1000, 100_000, LARGEST_CHECKED])
def test_chudnovsky_matches_mpmath(reference: str, digits: int) -> None:
    text, _ = run(digits, PiMethod.CHUDNOVSKY)
    assert len(text) == digits + 2
    assert text == truncated(reference, digits)


@pytest.mark.parametrize("digits", range(1, LEIBNIZ_MAX_DIGITS + 1))
def test_leibniz_gives_the_right_truncated_digits(reference: str, digits: int) -> None:
    text, _ = run(digits, PiMethod.LEIBNIZ)
    assert text == truncated(reference, digits)


def test_chudnovsky_progress_moves_steadily_and_shows_pi() -> None:
    _, reports = run(200_000, PiMethod.CHUDNOVSKY)
    percents = [percent for percent, _ in reports]
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
    assert len({round(percent) for percent in percents}) >= 20  # far more than "0 then 100"
    assert all(value.startswith("3.14159265358979323846…") for _, value in reports)
    assert all(len(value) < 80 for _, value in reports)


def test_chudnovsky_progress_names_the_final_steps() -> None:
    _, reports = run(50_000, PiMethod.CHUDNOVSKY)
    values = [value for _, value in reports]
    for step in ("digits so far", "square root of 10005", "dividing", "formatting digits"):
        assert any(step in value for value in values), step


def test_leibniz_progress_shows_the_raw_series_converging() -> None:
    _, reports = run(8, PiMethod.LEIBNIZ)
    percents = [percent for percent, _ in reports]
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
    errors = [abs(math.pi - float(value.split()[0])) for _, value in reports]
    assert len(errors) > 10
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-7


def test_leibniz_progress_shows_two_more_decimals_than_asked() -> None:
    _, reports = run(6, PiMethod.LEIBNIZ)
    assert all(len(value.split()[0]) == len("3.") + 8 for _, value in reports)


@pytest.mark.parametrize("method", list(PiMethod))
@pytest.mark.parametrize("digits", [0, -1])
def test_fewer_than_one_digit_is_refused(method: PiMethod, digits: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        compute_pi(digits, method, lambda percent, value: None)


def test_leibniz_is_capped() -> None:
    with pytest.raises(ValueError, match="capped"):
        compute_pi(LEIBNIZ_MAX_DIGITS + 1, PiMethod.LEIBNIZ, lambda percent, value: None)


def test_chudnovsky_is_not_capped_by_the_api_limit() -> None:
    # The API enforces MAX_DIGITS; the job itself must not, so benchmarks can go further.
    assert pi.MAX_DIGITS == 1_000_000
    text, _ = run(20, PiMethod.CHUDNOVSKY)
    assert text == "3.14159265358979323846"


def test_guard_digits_near_a_carry_are_not_trusted() -> None:
    assert pi._too_close_to_call("999999999995")
    assert pi._too_close_to_call("000000000003")
    assert not pi._too_close_to_call("846264338327")


def test_a_doubtful_result_is_recomputed_with_more_guard_digits(
    reference: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    guards: list[int] = []

    def doubtful_once(guard: str) -> bool:
        guards.append(len(guard))
        return len(guards) == 1

    monkeypatch.setattr(pi, "_too_close_to_call", doubtful_once)
    text, _ = run(1000, PiMethod.CHUDNOVSKY)
    assert text == truncated(reference, 1000)
    assert guards == [pi._GUARD_DIGITS, 2 * pi._GUARD_DIGITS]
