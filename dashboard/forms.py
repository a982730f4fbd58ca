"""What the page's forms show: the values a person typed and a message beside each bad field."""

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dashboard.models import TaskView
from dashboard.submissions import CsvRequest, DemoRequest, PiRequest, field_errors

SHOULD_FAIL_CHOICES = {"random": None, "fail": True, "succeed": False}
# An HTML checkbox sends its value when ticked and nothing at all when not.
CHECKED = "on"


@dataclass
class FormState:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    created: TaskView | None = None
    # Why a valid request could not be queued (Redis or the broker is down).
    unavailable: str | None = None
    # Why a valid request was refused (the owner's limit, dashboard.quotas).
    refused: str | None = None


def empty_pi_form() -> FormState:
    return FormState(values={"digits": "1000", "method": "chudnovsky"})


def empty_demo_form() -> FormState:
    return FormState(values={"seconds": "7", "should_fail": "random"})


def empty_csv_form() -> FormState:
    return FormState(values={"rows": "100000", "source": "sample"})


def kept_form(empty: FormState, values: dict[str, str]) -> FormState:
    """The form after a start: what was just sent (defaults where left blank), so starting the
    same again is one click, as a person re-running a job expects."""
    sent = {name: value for name, value in values.items() if value}
    return FormState(values={**empty.values, **sent})


def _notify(values: dict[str, str]) -> bool:
    return values.get("notify_email") == CHECKED


def parse_pi_form(values: dict[str, str]) -> PiRequest | FormState:
    try:
        return PiRequest.model_validate({**values, "notify_email": _notify(values)}, strict=False)
    except ValidationError as error:
        return FormState(values=values, errors=field_errors(error))


def parse_demo_form(values: dict[str, str]) -> DemoRequest | FormState:
    choice = values.get("should_fail", "random")
    if choice not in SHOULD_FAIL_CHOICES:
        return FormState(values=values, errors={"should_fail": "choose random, fail or succeed"})
    data = {
        "seconds": values.get("seconds", ""),
        "should_fail": SHOULD_FAIL_CHOICES[choice],
        "notify_email": _notify(values),
    }
    try:
        return DemoRequest.model_validate(data, strict=False)
    except ValidationError as error:
        return FormState(values=values, errors=field_errors(error))


def parse_csv_form(values: dict[str, str]) -> CsvRequest | FormState:
    data: dict[str, object] = {"source": values.get("source", ""), "notify_email": _notify(values)}
    if data["source"] == "sample":
        data["rows"] = values.get("rows", "")
    try:
        return CsvRequest.model_validate(data, strict=False)
    except ValidationError as error:
        return FormState(values=values, errors=field_errors(error))
