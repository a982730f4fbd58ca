"""The page's forms: what a person typed becomes a request, or a message beside the field."""

from dashboard.forms import (
    FormState,
    empty_csv_form,
    empty_pi_form,
    kept_form,
    parse_csv_form,
    parse_demo_form,
    parse_pi_form,
)
from dashboard.submissions import CsvRequest, DemoRequest, PiRequest


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
    assert "less than or equal to 10000000" in too_many.errors["rows"]
    assert too_many.values["rows"] == "10000001"  # kept, so the person can correct it
    none = parse_csv_form({"rows": "0", "source": "sample"})
    assert isinstance(none, FormState) and "greater than or equal to 1" in none.errors["rows"]
    odd = parse_csv_form({"rows": "10", "source": "everything"})
    assert isinstance(odd, FormState) and "source" in odd.errors


def test_after_a_start_the_form_keeps_what_was_sent_so_the_same_runs_again_in_one_click() -> None:
    sent = {"digits": "50000", "method": "leibniz", "notify_email": "on"}
    assert kept_form(empty_pi_form(), sent).values == sent
    # A box left blank (the rows of a history export) shows its default again, not nothing.
    kept = kept_form(empty_csv_form(), {"rows": "", "source": "history", "notify_email": ""})
    assert kept.values == {"rows": "100000", "source": "history"}
    assert kept.errors == {} and kept.created is None
