"""E-mail addresses that only look like others: refused at registration, so that the admin's
list of users and every "logged in as" show what they seem to.

An address is checked as given and as it is kept (in lower case: a capital I with a dot
lowers to an "i" with a combining dot). Four kinds are refused:
- invisible characters, which Unicode says to ignore when showing text (a combining grapheme
  joiner, a variation selector, a Hangul filler) or which show as blank;
- compatibility characters, which NFKC folds into plain ones (a fullwidth "a" U+FF41, the
  ligature "fi" U+FB01, a superscript two): written plainly, they are another address;
- a combining mark left over a Latin, Greek or Cyrillic letter once composed (NFC): these
  alphabets write their accented letters precomposed, so a leftover mark is a disguise;
- a local part or domain label that mixes scripts (a Cyrillic "er" U+0440 for the "p" of
  "paul", an Armenian "oh" for an "o", an Arabic-Indic one for an "l"), but for Latin beside
  Han, kana, Bopomofo or Hangul, as Unicode's "highly restrictive" profile (UTS #39) allows.
An address wholly in one script is welcome, whichever script. What this does not catch is a
whole-script look-alike ("pop" written all in Cyrillic), which needs Unicode's confusables
tables.
"""

import unicodedata

INVISIBLE = "leave out the invisible characters in it"
COMPATIBILITY = "write it in plain characters: it has fullwidth letters, ligatures or the like"
COMBINING = "write its letters without added marks: it has a mark over a letter that hides it"
MIXED = "write each part in one alphabet: it mixes letters of several (Latin and Cyrillic, say)"

# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt), and the blank
# Braille pattern, which is not ignorable but shows as nothing.
INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x2800, 0x2800),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
# Alphabets whose accented letters are all precomposed.
PRECOMPOSED_ALPHABETS = frozenset({"LATIN", "GREEK", "CYRILLIC"})
HAN_AND_LATIN = frozenset({"CJK", "IDEOGRAPHIC", "LATIN"})
# Scripts written together, each with Latin (UTS #39, section 5.2): Japanese, Chinese, Korean.
WRITTEN_TOGETHER = (
    HAN_AND_LATIN | {"HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA"},
    HAN_AND_LATIN | {"BOPOMOFO"},
    HAN_AND_LATIN | {"HANGUL"},
)
# Characters of every script: ASCII digits ("DIGIT ONE") and the like.
COMMON = frozenset({"DIGIT"})
# Names that do not begin with their script's: "EXTENDED ARABIC-INDIC DIGIT ONE".
SCRIPT_OF_FIRST_WORD = {"ARABIC-INDIC": "ARABIC", "EXTENDED": "ARABIC"}


def lookalike_reason(email: str) -> str | None:
    """Why this address could pass for another one, or None."""
    for form in dict.fromkeys((email, email.lower())):  # once when they are the same
        reason = _reason(unicodedata.normalize("NFC", form))
        if reason is not None:
            return reason
    return None


def _reason(email: str) -> str | None:
    if any(_invisible(character) for character in email):
        return INVISIBLE
    if unicodedata.normalize("NFKC", email) != email:
        return COMPATIBILITY
    local, _, domain = email.rpartition("@")
    parts = (local, *domain.split("."))
    if any(_disguising_mark(part) for part in parts):
        return COMBINING
    if any(not _one_script(_scripts(part)) for part in parts):
        return MIXED
    return None


def _invisible(character: str) -> bool:
    code = ord(character)
    return any(low <= code <= high for low, high in INVISIBLE_RANGES)


def _script(character: str) -> str | None:
    """The script a letter or digit is written in, from its Unicode name ("CYRILLIC SMALL
    LETTER ER"); None for a character of every script or of none."""
    if not character.isalnum():
        return None
    first = unicodedata.name(character, "").partition(" ")[0]
    script = SCRIPT_OF_FIRST_WORD.get(first, first)
    return None if not script or script in COMMON else script


def _scripts(part: str) -> set[str]:
    return {script for script in map(_script, part) if script is not None}


def _one_script(scripts: set[str]) -> bool:
    return len(scripts) <= 1 or any(scripts <= together for together in WRITTEN_TOGETHER)


def _disguising_mark(part: str) -> bool:
    base = None  # the script of the letter a mark would sit on
    for character in part:
        if not unicodedata.category(character).startswith("M"):
            base = _script(character)
        elif base in PRECOMPOSED_ALPHABETS:
            return True
    return False
