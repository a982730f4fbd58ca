"""A task's parameters in words, as the lists show them and as the search box reads them.

The lists show "sleep 2 s · fails" and "1,000 digits · chudnovsky", so that is what a person
types into the search box; the stored JSON ({"seconds": 2, "should_fail": false}) would find
every demo task for "fail" and none for "fails" or "sleep". Each row stores its searchable
text (`Task.params_text`, written with the row), which the search indexes are made on.
"""

from typing import Any

SEPARATOR = " · "


def plural(count: int | float, noun: str) -> str:
    """'1 digit', '1,000 digits'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def params_text(kind: str, params: dict[str, Any]) -> str:
    """The parameters in the words the lists show."""
    if kind == "pi" and "digits" in params:
        # A row from before the method was chosen has none: no dangling separator then.
        shown = [plural(params["digits"], "digit"), str(params.get("method", ""))]
        return SEPARATOR.join(part for part in shown if part)
    if kind == "demo" and "seconds" in params:
        outcome = "fails" if params.get("should_fail") else "succeeds"
        chosen = " (at random)" if params.get("chosen_at_random") else ""
        return f"sleep {params['seconds']:g} s{SEPARATOR}{outcome}{chosen}"
    if kind == "csv" and params.get("source") == "history":
        return "my task history"
    if kind == "csv" and "rows" in params:
        return plural(params["rows"], "sample row")
    return SEPARATOR.join(f"{name}={value}" for name, value in params.items())


def searchable_text(kind: str, params: dict[str, Any]) -> str:
    """What a search reads of the parameters: the shown words, and each number of a thousand
    or more as typed without separators too, so "100000" finds "100,000 sample rows"."""
    shown = params_text(kind, params)
    bare = [str(value) for value in params.values() if _has_separators(value)]
    return " ".join([shown, *bare])


def _has_separators(value: Any) -> bool:
    # Counts (digits, rows) are shown with separators; seconds are shown as typed.
    is_count = isinstance(value, int) and not isinstance(value, bool)
    return is_count and abs(value) >= 1000
