"""What a user may submit: the validated parameters of each kind of task.

The API takes these as JSON bodies and the page's forms as form fields; both go through the
same models, so a bad value gets the same message in both places.
"""

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator

from dashboard.jobs.pi import LEIBNIZ_MAX_DIGITS, MAX_DIGITS, PiMethod

DEMO_MAX_SECONDS = 3600
CSV_MAX_ROWS = 10_000_000


class Notified(BaseModel):
    """Every kind of task can e-mail its owner when it ends."""

    notify_email: bool = Field(False, description="E-mail me when the task ends")


class PiRequest(Notified):
    # method comes first so the digits check can see it.
    method: PiMethod = PiMethod.CHUDNOVSKY
    digits: int = Field(1000, ge=1, le=MAX_DIGITS)

    @field_validator("digits")
    @classmethod
    def _leibniz_is_capped(cls, digits: int, info: ValidationInfo) -> int:
        if info.data.get("method") == PiMethod.LEIBNIZ and digits > LEIBNIZ_MAX_DIGITS:
            raise ValueError(
                f"the Leibniz series is capped at {LEIBNIZ_MAX_DIGITS} digits; "
                "choose Chudnovsky for more"
            )
        return digits


class DemoRequest(Notified):
    seconds: float = Field(7, ge=0, le=DEMO_MAX_SECONDS)
    # None means "decide at random", as the original homework service did.
    should_fail: bool | None = None


class CsvRequest(Notified):
    """A sample data set of `rows` rows, or an export of the requesting user's task history."""

    source: Literal["sample", "history"] = "sample"
    rows: int = Field(100_000, ge=1, le=CSV_MAX_ROWS, description="Rows of the sample data set")


def field_errors(error: ValidationError) -> dict[str, str]:
    """Maps each invalid field to a message a person can read beside that field."""
    messages: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][-1]) if item["loc"] else "form"
        messages.setdefault(field, _readable(item))
    return messages


def _readable(item: Any) -> str:
    if item.get("type") == "string_too_short":  # pydantic says "String should have ..."
        return f"use at least {item['ctx']['min_length']} characters"
    message = str(item["msg"])
    return message.removeprefix("Value error, ")
