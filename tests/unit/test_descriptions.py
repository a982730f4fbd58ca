"""A task's parameters in words: what the lists show, and what the search box reads."""

from typing import Any

import pytest

from dashboard.descriptions import params_text, searchable_text

SHOWN = [
    ("pi", {"digits": 1, "method": "leibniz"}, "1 digit · leibniz"),
    ("pi", {"digits": 200_000, "method": "chudnovsky"}, "200,000 digits · chudnovsky"),
    ("pi", {"digits": 5}, "5 digits"),  # a row from before the method was chosen
    ("demo", {"seconds": 2.5, "should_fail": True}, "sleep 2.5 s · fails"),
    (
        "demo",
        {"seconds": 3, "should_fail": False, "chosen_at_random": True},
        "sleep 3 s · succeeds (at random)",
    ),
    ("csv", {"source": "history"}, "my task history"),
    ("csv", {"source": "sample", "rows": 1}, "1 sample row"),
    ("csv", {"source": "sample", "rows": 10_000_000}, "10,000,000 sample rows"),
    ("mystery", {"colour": "red", "size": 3}, "colour=red · size=3"),
]


@pytest.mark.parametrize(("kind", "params", "words"), SHOWN)
def test_the_parameters_read_as_the_lists_show_them(
    kind: str, params: dict[str, Any], words: str
) -> None:
    assert params_text(kind, params) == words


def test_search_reads_the_shown_words_and_large_numbers_without_separators() -> None:
    pi = {"digits": 100_000, "method": "chudnovsky"}
    assert searchable_text("pi", pi) == "100,000 digits · chudnovsky 100000"
    assert searchable_text("demo", {"seconds": 5, "should_fail": True}) == "sleep 5 s · fails"
    assert searchable_text("csv", {"source": "sample", "rows": 999}) == "999 sample rows"
    demo = {"seconds": 3600.0, "should_fail": False}
    assert searchable_text("demo", demo) == "sleep 3600 s · succeeds"
