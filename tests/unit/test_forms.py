"""The page's forms: what a person typed becomes a request, or a message beside the field."""

import pytest

from dashboard.forms import (
    FormState,
    empty_csv_form,
    empty_pi_form,
    kept_form,
    parse_csv_form,
    parse_demo_form,
    parse_pi_form,
)
from dashboard.submissions import CsvRequest, DemoRequest, PiRequest, readable


def test_a_ticked_box_asks_for_an_email_and_an_empty_one_does_not() -> None:
    ticked = parse_pi_form({"digits": "10", "method": "chudnovsky", "notify_email": "on"})
    assert isinstance(ticked, PiRequest) and ticked.notify_email
    plain = parse_demo_form({"seconds": "1", "should_fail": "fail", "notify_email": ""})
    assert isinstance(plain, DemoRequest) and not plain.notify_email


def test_a_csv_of_sample_rows_or_of_my_history() -> None:
    sample = parse_csv_form({"rows": "100000", "source": "sample"})
    assert isinstance(sample, CsvRequest) and sample.rows == 100_000
    # The rows box does not matter for the history export, whatever it holds.
    history = parse_csv_form({"rows": "lots", "source": "history"})
    assert isinstance(history, CsvRequest) and history.source == "history"


def test_bad_csv_values_are_said_beside_their_field() -> None:
    too_many = parse_csv_form({"rows": "10000001", "source": "sample"})
    assert isinstance(too_many, FormState)
    assert too_many.errors["rows"] == "enter at most 10,000,000"
    assert too_many.values["rows"] == "10000001"  # kept, so the person can correct it
    none = parse_csv_form({"rows": "0", "source": "sample"})
    assert isinstance(none, FormState) and none.errors["rows"] == "enter at least 1"
    odd = parse_csv_form({"rows": "10", "source": "everything"})
    assert isinstance(odd, FormState) and "source" in odd.errors


def test_after_a_start_the_form_keeps_what_was_sent_so_the_same_runs_again_in_one_click() -> None:
    sent = {"digits": "50000", "method": "leibniz", "notify_email": "on"}
    assert kept_form(empty_pi_form(), sent).values == sent
    # A box left blank (the rows of a history export) shows its default again, not nothing.
    kept = kept_form(empty_csv_form(), {"rows": "", "source": "history", "notify_email": ""})
    assert kept.values == {"rows": "100000", "source": "history"}
    assert kept.errors == {} and kept.created is None


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"rows": "lots", "source": "sample"}, "rows", "enter a whole number"),
        ({"rows": "1.5", "source": "sample"}, "rows", "enter a whole number"),
        ({"rows": "", "source": "sample"}, "rows", "fill this in"),
        ({"rows": "10", "source": "everything"}, "source", "choose 'sample' or 'history'"),
        ({"seconds": "abc"}, "seconds", "enter a number"),
        ({"seconds": "nan"}, "seconds", "enter a number"),
        ({"seconds": "1e999"}, "seconds", "enter a number"),
        ({"seconds": "3601"}, "seconds", "enter at most 3,600"),
        ({"seconds": "-0.5"}, "seconds", "enter at least 0"),
        ({"digits": "1000001", "method": "chudnovsky"}, "digits", "enter at most 1,000,000"),
        ({"digits": " ", "method": "chudnovsky"}, "digits", "fill this in"),
        ({"digits": "5", "method": "tau"}, "method", "choose 'chudnovsky' or 'leibniz'"),
    ],
)
def test_messages_say_what_to_enter_in_a_persons_words(
    values: dict[str, str], field: str, message: str
) -> None:
    parse = parse_csv_form if "rows" in values else parse_pi_form if "digits" in values else None
    state = (parse or parse_demo_form)(values)
    assert isinstance(state, FormState) and state.errors == {field: message}


def test_pydantic_words_that_have_no_plainer_form_are_kept() -> None:
    email = {"type": "value_error", "msg": "Value error, value is not a valid email address"}
    assert readable(email) == "value is not a valid email address"
    long = {"type": "string_too_long", "msg": "...", "ctx": {"max_length": 1024}}
    assert readable(long) == "use at most 1,024 characters"
    assert readable({"type": "missing", "msg": "Field required"}) == "fill this in"


def test_an_empty_field_is_asked_for_and_an_email_says_its_own_reason() -> None:
    """QA: an empty registration said "value is not a valid email address: An email address
    must have an @-sign." and, under "At least 8 characters.", "use at least 8 characters"."""
    preface = "value is not a valid email address: "
    no_at = {"type": "value_error", "msg": preface + "An email address must have an @-sign."}
    assert (
        readable({**no_at, "input": "bob.example.com"}) == "An email address must have an @-sign."
    )
    assert readable({**no_at, "input": ""}) == "fill this in"
    short = {"type": "string_too_short", "msg": "...", "ctx": {"min_length": 8}}
    assert readable({**short, "input": ""}) == "fill this in"
    assert readable({**short, "input": "abc"}) == "use at least 8 characters"


def test_minus_zero_seconds_is_zero() -> None:
    demo = parse_demo_form({"seconds": "-0", "should_fail": "succeed"})
    assert isinstance(demo, DemoRequest) and str(demo.seconds) == "0.0"
