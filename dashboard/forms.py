"""What the page's forms show: the values a person typed and a message beside each bad field."""

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dashboard.models import TaskView
from dashboard.submissions import DemoRequest, PiRequest, field_errors

SHOULD_FAIL_CHOICES = {"random": None, "fail": True, "succeed": False}


@dataclass
class FormState:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    created: TaskView | None = None
    # Why a valid request could not be queued (Redis or the broker is down).
    unavailable: str | None = None


def empty_pi_form() -> FormState:
    return FormState(values={"digits": "1000", "method": "chudnovsky"})


def empty_demo_form() -> FormState:
    return FormState(values={"seconds": "7", "should_fail": "random"})


def parse_pi_form(values: dict[str, str]) -> PiRequest | FormState:
    try:
        return PiRequest.model_validate(values)
    except ValidationError as error:
        return FormState(values=values, errors=field_errors(error))


def parse_demo_form(values: dict[str, str]) -> DemoRequest | FormState:
    choice = values.get("should_fail", "random")
    if choice not in SHOULD_FAIL_CHOICES:
        return FormState(values=values, errors={"should_fail": "choose random, fail or succeed"})
    data = {"seconds": values.get("seconds", ""), "should_fail": SHOULD_FAIL_CHOICES[choice]}
    try:
        return DemoRequest.model_validate(data)
    except ValidationError as error:
        return FormState(values=values, errors=field_errors(error))
