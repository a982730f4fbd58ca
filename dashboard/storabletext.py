"""Text from a request that SQL may store and argon2 may hash.

Two kinds of character pass for text in Python yet fail further on, as a 500: a NUL, which
PostgreSQL refuses in any string, and a lone surrogate (JSON's "\\ud800" escape decodes to
one), which no UTF-8 encoder takes. Fields that keep or hash what they are given refuse both
with a 422 naming the field; error answers that repeat an input show a surrogate as U+FFFD.
"""

from typing import Annotated

from pydantic import AfterValidator

# For query parameters: the rule in the OpenAPI schema too.
NO_NUL = r"^[^\x00]*$"


def refuse_unstorable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    if has_lone_surrogate(text):
        raise ValueError("must not contain a lone surrogate (an unpaired \\ud800-\\udfff)")
    return text


StorableText = Annotated[str, AfterValidator(refuse_unstorable)]


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """The text with each lone surrogate as U+FFFD, the replacement character."""
    if not has_lone_surrogate(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
