"""Small text utilities."""

from textkit.durations import format_duration, parse_duration
from textkit.words import rle_decode, rle_encode, slugify, wrap_words

__all__ = ["format_duration", "parse_duration", "rle_decode", "rle_encode", "slugify",
           "wrap_words"]
