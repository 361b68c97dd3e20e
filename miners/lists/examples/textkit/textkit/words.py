"""Word-level helpers."""

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def _ascii(text):
    """Drop accents: 'café' -> 'cafe'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def slugify(text, separator="-"):
    """Turn a title into a URL slug.

    Accents are dropped, runs of anything but letters and digits become one
    separator, and the result is lower case with no separator at either end.
    """
    lowered = _ascii(text).lower()
    return _NON_WORD.sub(separator, lowered).strip(separator)


def wrap_words(text, width):
    """Split text into lines of at most width characters, breaking between words.

    A word longer than width gets a line of its own.
    """
    lines = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = word if not current else current + " " + word
    if current:
        lines.append(current)
    return lines


def rle_encode(text):
    """Run-length encode a string into a list of (character, count) pairs."""
    runs = []
    for char in text:
        if runs and runs[-1][0] == char:
            runs[-1] = (char, runs[-1][1] + 1)
        else:
            runs.append((char, 1))
    return runs


def rle_decode(runs):
    """Rebuild the string from (character, count) pairs made by rle_encode."""
    return "".join(char * count for char, count in runs)
