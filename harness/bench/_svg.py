"""Small inline SVG charts for report.html: line charts and bar charts, no script.

Every chart is an ``<svg class="plot" data-plot=NAME>`` with a title, axes with
round ticks, and its data as ``polyline.series`` or ``rect.bar`` elements, so a
test can find and count them in the rendered page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 760
HEIGHT = 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 150, 34, 44
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")

Points = Sequence[tuple[float, float]]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low .. high`` (about ``count`` of them)."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


class _Frame:
    """Maps data to pixels inside the plot area."""

    def __init__(
        self, x_ticks: list[float], y_ticks: list[float], *, log_x: bool = False
    ) -> None:
        self.x_ticks, self.y_ticks, self.log_x = x_ticks, y_ticks, log_x
        self.width = WIDTH - _LEFT - _RIGHT
        self.height = HEIGHT - _TOP - _BOTTOM

    def _fx(self, x: float) -> float:
        return math.log10(max(x, 1e-12)) if self.log_x else x

    def x(self, x: float) -> float:
        low, high = self._fx(self.x_ticks[0]), self._fx(self.x_ticks[-1])
        span = (high - low) or 1.0
        return _LEFT + (self._fx(x) - low) / span * self.width

    def y(self, y: float) -> float:
        low, high = self.y_ticks[0], self.y_ticks[-1]
        span = (high - low) or 1.0
        return _TOP + self.height - (y - low) / span * self.height

    def axes(self, x_label: str, y_label: str, *, x_ticks: bool = True) -> list[str]:
        bottom, right = _TOP + self.height, _LEFT + self.width
        parts = [
            f'<rect x="{_LEFT}" y="{_TOP}" width="{self.width}" '
            f'height="{self.height}" fill="#fafafa" stroke="#999"/>'
        ]
        for tick in self.y_ticks:
            y = self.y(tick)
            parts.append(
                f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
                'stroke="#e3e3e3"/>'
                f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                f'font-size="11">{_label(tick)}</text>'
            )
        for tick in self.x_ticks if x_ticks else []:
            x = self.x(tick)
            parts.append(
                f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" '
                'stroke="#999"/>'
                f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" '
                f'font-size="11">{_label(tick)}</text>'
            )
        parts.append(
            f'<text x="{_LEFT + self.width / 2:.0f}" y="{HEIGHT - 8}" '
            f'text-anchor="middle" font-size="12">{escape(x_label)}</text>'
            f'<text x="14" y="{_TOP + self.height / 2:.0f}" font-size="12" '
            f'text-anchor="middle" transform="rotate(-90 14 '
            f'{_TOP + self.height / 2:.0f})">{escape(y_label)}</text>'
        )
        return parts


def _open(name: str, title: str) -> list[str]:
    return [
        f'<svg class="plot" data-plot="{escape(name)}" xmlns="http://www.w3.org/2000/svg"'
        f' width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{_LEFT}" y="20" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>",
    ]


def _legend(names: Sequence[str]) -> list[str]:
    parts = []
    for number, name in enumerate(names):
        y = _TOP + 14 + number * 18
        x = WIDTH - _RIGHT + 12
        colour = COLOURS[number % len(COLOURS)]
        parts.append(
            f'<rect class="legend" x="{x}" y="{y - 9}" width="12" height="10" '
            f'fill="{colour}"/><text x="{x + 18}" y="{y}" font-size="12">'
            f"{escape(name)}</text>"
        )
    return parts


def line_chart(
    name: str,
    title: str,
    series: Mapping[str, Points],
    *,
    x_label: str,
    y_label: str,
    log_x: bool = False,
) -> str:
    """One polyline per series; an empty chart says so instead of drawing."""
    points = [p for values in series.values() for p in values]
    parts = _open(name, title)
    if not points:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}">no data</text></svg>')
        return "".join(parts)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if log_x:
        low = 10 ** math.floor(math.log10(max(min(xs), 1e-3)))
        high = 10 ** math.ceil(math.log10(max([*xs, low * 10])))
        x_ticks = [low * 10**k for k in range(round(math.log10(high / low)) + 1)]
    else:
        x_ticks = nice_ticks(min(xs), max(xs))
    frame = _Frame(x_ticks, nice_ticks(0, max(ys) or 1), log_x=log_x)
    parts.extend(frame.axes(x_label, y_label))
    for number, (label, values) in enumerate(series.items()):
        coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in values)
        colour = COLOURS[number % len(COLOURS)]
        parts.append(
            f'<polyline class="series" data-series="{escape(label)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" points="{coords}"/>'
        )
    parts.extend(_legend(list(series)))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    name: str,
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    y_label: str,
    x_label: str = "",
) -> str:
    """Vertical bars, one per label, left to right."""
    parts = _open(name, title)
    top_value = max((value for _, value in bars), default=0.0) or 1.0
    frame = _Frame([0, max(len(bars), 1)], nice_ticks(0, top_value))
    parts.extend(frame.axes(x_label, y_label, x_ticks=False))
    slot = frame.width / max(len(bars), 1)
    base = frame.y(0)
    for number, (label, value) in enumerate(bars):
        x = _LEFT + number * slot + slot * 0.15
        top = frame.y(value)
        colour = COLOURS[number % len(COLOURS)] if len(bars) <= 8 else COLOURS[0]
        parts.append(
            f'<rect class="bar" data-label="{escape(label)}" data-value="{value:g}" '
            f'x="{x:.1f}" y="{top:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{base - top:.1f}" fill="{colour}"><title>{escape(label)}: '
            f"{value:g}</title></rect>"
        )
        if len(bars) <= 12 or number % max(1, len(bars) // 8) == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{base + 16:.1f}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
