"""What a user may submit: the validated parameters of each kind of task.

The API takes these as JSON bodies and the page's forms as form fields; both go through the
same models, so a bad value gets the same message in both places. Numbers and yes/no values
are strict in JSON: `"digits": true` or `"digits": "12"` is a 422, not 1 or 12 digits. A form
has only text, so the forms validate with `strict=False` (dashboard.forms).
"""

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from dashboard.jobs.pi import LEIBNIZ_MAX_DIGITS, MAX_DIGITS, PiMethod

DEFAULT_DIGITS = 1000
DEMO_MAX_SECONDS = 3600
CSV_MAX_ROWS = 10_000_000


class Notified(BaseModel):
    """Every kind of task can e-mail its owner when it ends."""

    # A field the task does not have is refused, not dropped: {"digit": 100000} would start
    # the default 1,000 digits without a word (QA finding).
    model_config = ConfigDict(extra="forbid")

    notify_email: bool = Field(False, strict=True, description="E-mail me when the task ends")


class PiRequest(Notified):
    # method comes first so the digits check can see it.
    method: PiMethod = PiMethod.CHUDNOVSKY
    # The default is checked too: {"method": "leibniz"} alone asked for 1,000 Leibniz digits,
    # was accepted and failed in the worker (API probe).
    digits: int = Field(DEFAULT_DIGITS, ge=1, le=MAX_DIGITS, strict=True, validate_default=True)

    @field_validator("digits")
    @classmethod
    def _leibniz_is_capped(cls, digits: int, info: ValidationInfo) -> int:
        if info.data.get("method") == PiMethod.LEIBNIZ and digits > LEIBNIZ_MAX_DIGITS:
            # An API call that left digits out got the default's "input": 1000 (QA: puzzling).
            default = f" (digits is {DEFAULT_DIGITS:,} unless given)"
            raise ValueError(
                f"the Leibniz series is capped at {LEIBNIZ_MAX_DIGITS} digits"
                f"{default if digits == DEFAULT_DIGITS else ''}; choose Chudnovsky for more"
            )
        return digits


class DemoRequest(Notified):
    # Not NaN, which passes no bound yet would say "at most 3,600" to someone who typed it.
    seconds: float = Field(7, ge=0, le=DEMO_MAX_SECONDS, allow_inf_nan=False, strict=True)
    # None means "decide at random", as the original homework service did.
    should_fail: bool | None = Field(None, strict=True)

    @field_validator("seconds")
    @classmethod
    def _no_negative_zero(cls, seconds: float) -> float:
        return seconds + 0.0  # -0.0 would be said as "after -0 s"


class CsvRequest(Notified):
    """A sample data set of `rows` rows, or an export of the requesting user's task history."""

    source: Literal["sample", "history"] = "sample"
    rows: int = Field(
        100_000, ge=1, le=CSV_MAX_ROWS, strict=True, description="Rows of the sample data set"
    )

    @field_validator("rows")
    @classmethod
    def _only_for_sample_data(cls, rows: int, info: ValidationInfo) -> int:
        """Run only when rows is sent (source comes first, so it is known): with a history
        export, which has a row per task of yours, they were dropped without a word (API
        probe)."""
        if info.data.get("source") == "history":
            raise ValueError("rows is for sample data: a history export has a row per task")
        return rows


def field_errors(error: ValidationError) -> dict[str, str]:
    """Maps each invalid field to a message a person can read beside that field."""
    messages: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][-1]) if item["loc"] else "form"
        messages.setdefault(field, readable(item))
    return messages


# Pydantic's words are for programmers ("Input should be a valid integer, unable to parse
# string as an integer"); a person at the form reads these. The JSON API keeps Pydantic's.
PLAIN_WORDS = {
    "int_parsing": "enter a whole number",
    "int_from_float": "enter a whole number",
    "int_type": "enter a whole number",
    "float_parsing": "enter a number",
    "float_type": "enter a number",
    "finite_number": "enter a number",
    "missing": "fill this in",
    "bool_parsing": "choose yes or no",
    "bool_type": "choose yes or no",
}


def readable(item: Any) -> str:
    """One validation error in words for a person: what to enter instead."""
    kind, limits = item.get("type"), item.get("ctx") or {}
    if isinstance(item.get("input"), str) and not item["input"].strip():
        return "fill this in"  # not "use at least 8 characters" below a hint that says so
    if kind in PLAIN_WORDS:
        return PLAIN_WORDS[kind]
    if kind == "string_too_short":
        least = limits["min_length"]
        return "fill this in" if least == 1 else f"use at least {least} characters"
    if kind == "string_too_long":
        return f"use at most {limits['max_length']:,} characters"
    if kind in ("less_than_equal", "greater_than_equal"):
        bound = limits.get("le", limits.get("ge"))
        return f"enter {'at most' if kind == 'less_than_equal' else 'at least'} {_number(bound)}"
    message = str(item["msg"]).removeprefix("Value error, ")
    # The e-mail check's own reason ("An email address must have an @-sign."), without the
    # programmer's preface.
    message = message.removeprefix("value is not a valid email address: ")
    # A choice among fixed values: '' is the "any" of a filter, not one to offer.
    return message.replace("Input should be", "choose").replace("'', ", "")


def _number(value: Any) -> str:
    """10000000 as "10,000,000" and 0.0 as "0": the way the form's own hint writes them."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)
