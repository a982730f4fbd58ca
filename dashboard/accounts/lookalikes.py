"""E-mail addresses that only look like others: refused at registration, so that the admin's
list of users and every "logged in as" show what they seem to.

Two kinds. Compatibility characters, which Unicode's NFKC folds into plain ones (a fullwidth
"a" U+FF41, the ligature "fi" U+FB01, a superscript two): written plainly, they are another
address. And a local part or domain label that mixes the alphabets whose letters are confused
with one another, Latin, Cyrillic and Greek (a Cyrillic "er" U+0440 for the "p" of "paul").
An address wholly in one of them, or in any other script, is welcome; so are Latin letters
beside Han, kana or Hangul, as Unicode's "highly restrictive" profile (UTS #39) allows.
"""

import unicodedata

CONFUSED_ALPHABETS = frozenset({"LATIN", "CYRILLIC", "GREEK"})
COMPATIBILITY = "write it in plain characters: it has fullwidth letters, ligatures or the like"
MIXED = "write each part in one alphabet: it mixes Latin, Cyrillic or Greek letters"


def lookalike_reason(email: str) -> str | None:
    """Why this address could pass for another one, or None."""
    if unicodedata.normalize("NFKC", email) != unicodedata.normalize("NFC", email):
        return COMPATIBILITY
    local, _, domain = email.rpartition("@")
    if any(len(_alphabets(part)) > 1 for part in (local, *domain.split("."))):
        return MIXED
    return None


def _alphabets(part: str) -> set[str]:
    # A letter's Unicode name begins with its script's: "CYRILLIC SMALL LETTER ER".
    named = (unicodedata.name(character, "").partition(" ")[0] for character in part)
    return {name for name in named if name in CONFUSED_ALPHABETS}
