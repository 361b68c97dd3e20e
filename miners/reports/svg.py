"""Bar charts and histograms as inline SVG, for ``citrace report`` (no plotting library: the
report must open anywhere, offline, and citrace must not depend on matplotlib).

Every string drawn comes from the data (project names, causes, stages) and is untrusted:
each one goes through ``escape`` before it reaches the markup.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Sequence

FONT = 'font-family="sans-serif" font-size="12"'
BAR_COLOUR = "#4a78b5"
LABEL_CHARS = 32  # longer labels are cut (the tables next to the charts have them whole)
MAX_BINS = 40


def escape(text: object) -> str:
    """Text safe inside SVG/HTML elements and double- or single-quoted attributes."""
    return html.escape(str(text), quote=True)


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, unit: str = "",
              width: int = 640, max_bars: int = 40) -> str:
    """Horizontal bars, one per ``(label, value)``, in the order given; bars past
    ``max_bars`` are summed into one "N more" bar so the chart stays readable. When the
    values span more than ``LOG_SPAN`` times, the bars are on a log scale (said under the
    chart), so that 200 problems still show next to 20,000 calls; any value above zero
    gets a bar at least ``MIN_BAR`` pixels long."""
    bars = _fold_tail(list(bars), max_bars)
    if not bars:
        return _empty(title, width)
    row, top, label_width = 20, 8, 7 * min(LABEL_CHARS, max(len(b[0]) for b in bars)) + 12
    plot_width = max(80, width - label_width - 70)
    scale = _scale([value for _, value in bars])
    height = top + row * len(bars) + 8 + (row if scale.log else 0)
    parts = [_open(width, height, title)]
    for n, (label, value) in enumerate(bars):
        y = top + n * row
        length = plot_width * scale.fraction(value)
        if value > 0:
            length = max(length, MIN_BAR)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" {FONT}>'
            f"<title>{escape(label)}</title>{escape(_cut(label))}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" '
            f'fill="{BAR_COLOUR}"><title>{escape(label)}: {escape(_number(value))}'
            f"{escape(unit)}</title></rect>"
            f'<text x="{label_width + length + 4:.1f}" y="{y + 14}" {FONT}>'
            f"{escape(_number(value))}{escape(unit)}</text>")
    if scale.log:
        parts.append(f'<text x="{label_width}" y="{height - 8}" {FONT} fill="#666">'
                     f"log scale</text>")
    parts.append("</svg>")
    return "".join(parts)


LOG_SPAN = 20.0
MIN_BAR = 2.0  # pixels


class _Scale:
    """Where a value ends on a bar: linearly, or on a log scale from the smallest value."""

    def __init__(self, largest: float, smallest: float, *, log: bool) -> None:
        self.largest, self.smallest, self.log = largest, smallest, log

    def fraction(self, value: float) -> float:
        if value <= 0:
            return 0.0
        if self.log:
            # The smallest value gets a tenth of the width, the largest all of it.
            span = math.log10(self.largest / self.smallest) or 1.0
            return 0.1 + 0.9 * math.log10(value / self.smallest) / span
        return value / self.largest


def _scale(values: Sequence[float]) -> _Scale:
    positive = [v for v in values if v > 0]
    if not positive:
        return _Scale(1.0, 1.0, log=False)
    largest, smallest = max(positive), min(positive)
    return _Scale(largest, smallest, log=largest / smallest > LOG_SPAN)


def histogram(values: Sequence[int], *, title: str, x_label: str, width: int = 640) -> str:
    """Counts of integer ``values``: one column per value, or per range of values when they
    span more than ``MAX_BINS``."""
    if not values:
        return _empty(title, width)
    low, high = min(values), max(values)
    step = max(1, math.ceil((high - low + 1) / MAX_BINS))
    counts = Counter((v - low) // step for v in values)
    bins = (high - low) // step + 1
    left, top, bottom = 40, 16, 40
    height = 220
    plot_height = height - top - bottom
    column = (width - left - 10) / bins
    tallest = max(counts.values())
    parts = [_open(width, height, title),
             f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 10}" '
             f'y2="{top + plot_height}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" {FONT}>{tallest}</text>',
             f'<text x="{left - 4}" y="{top + plot_height}" text-anchor="end" {FONT}>0</text>',
             f'<text x="{(left + width) / 2:.0f}" y="{height - 6}" text-anchor="middle" '
             f"{FONT}>{escape(x_label)}</text>"]
    for n in range(bins):
        first = low + n * step
        name = str(first) if step == 1 else f"{first}-{first + step - 1}"
        bar = plot_height * counts[n] / tallest
        x = left + n * column
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_height - bar:.1f}" '
            f'width="{max(column - 2, 1):.1f}" height="{bar:.1f}" fill="{BAR_COLOUR}">'
            f"<title>{escape(name)}: {counts[n]}</title></rect>")
        if bins <= 20 or n % math.ceil(bins / 20) == 0:
            parts.append(f'<text x="{x + column / 2:.1f}" y="{top + plot_height + 14}" '
                         f'text-anchor="middle" {FONT}>{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>")


def _empty(title: str, width: int) -> str:
    return (_open(width, 30, title)
            + f'<text x="4" y="19" {FONT} fill="#666">nothing to show yet</text></svg>')


def _fold_tail(bars: list[tuple[str, float]], limit: int) -> list[tuple[str, float]]:
    if len(bars) <= limit:
        return bars
    rest = bars[limit - 1:]
    return [*bars[:limit - 1], (f"{len(rest)} more", sum(v for _, v in rest))]


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"
