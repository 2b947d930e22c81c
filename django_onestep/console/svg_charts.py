"""Small server-rendered SVG charts: no script, no CDN, readable with JavaScript off.

``stacked_bars`` draws counts per time bucket, ``lines`` draws values that may be
missing (``None``: no data in that bucket, the line breaks). Both return one ``<svg>``
element, with every text escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

__all__ = ["Series", "lines", "stacked_bars"]

WIDTH, HEIGHT = 640, 186
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 26, 22
PALETTE = ("#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#1565c0", "#00838f", "#5d4037")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = ""


def _number(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def _frame(title: str, labels: Sequence[str], top_value: float, unit: str, body: list[str],
           series: Sequence[Series]) -> SafeString:  # fmt: skip
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="onestep-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + 18}" '
        f'width="{WIDTH}" height="{HEIGHT + 18}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="15" font-size="12" font-weight="bold" fill="#333">{escape(title)}</text>',
    ]
    for step in range(3):  # gridlines at 0, half and the top
        y = TOP + plot_h - plot_h * step / 2
        value = top_value * step / 2
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
                     f'fill="#666">{escape(_number(value))}{escape(unit)}</text>')  # fmt: skip
    parts.extend(body)
    if labels:
        for index in sorted({0, len(labels) // 2, len(labels) - 1}):
            x = LEFT + (WIDTH - LEFT - RIGHT) * (index + 0.5) / len(labels)
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 6}" font-size="10" text-anchor="middle" '
                         f'fill="#666">{escape(labels[index])}</text>')  # fmt: skip
    x = LEFT
    for item in series:  # the legend
        parts.append(f'<rect x="{x}" y="{HEIGHT + 6}" width="10" height="10" fill="{escape(item.color)}"/>')
        parts.append(
            f'<text x="{x + 14}" y="{HEIGHT + 15}" font-size="11" fill="#333">{escape(item.name)}</text>'
        )
        x += 24 + 7 * len(item.name)
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _colored(series: Sequence[Series]) -> list[Series]:
    return [Series(s.name, s.values, s.color or PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]


def stacked_bars(title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> SafeString:
    """One bar per label, its segments stacked in the order of ``series``."""
    series = _colored(series)
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top_value = max(totals, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    body: list[str] = []
    for index in range(len(labels)):
        base = 0.0
        for item in series:
            value = item.values[index] or 0
            if value <= 0:
                continue
            height = plot_h * value / top_value
            y = TOP + plot_h - plot_h * base / top_value - height
            body.append(f'<rect x="{LEFT + index * slot + slot * 0.1:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" '
                        f'height="{height:.1f}" fill="{escape(item.color)}"><title>{escape(labels[index])} '
                        f'{escape(item.name)}: {escape(_number(value))}</title></rect>')  # fmt: skip
            base += value
    return _frame(title, labels, top_value, unit, body, series)


def lines(title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> SafeString:
    """One line per series; a ``None`` value breaks the line."""
    series = _colored(series)
    values = [v for s in series for v in s.values if v is not None]
    top_value = max(values, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    body: list[str] = []
    for item in series:
        segment: list[str] = []
        for index, value in enumerate([*item.values, None]):
            if value is None:
                if len(segment) == 1:
                    cx, cy = segment[0].split(",")
                    body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{escape(item.color)}"/>')
                elif segment:
                    body.append(f'<polyline fill="none" stroke="{escape(item.color)}" stroke-width="2" '
                                f'points="{" ".join(segment)}"/>')  # fmt: skip
                segment = []
                continue
            x = LEFT + slot * (index + 0.5)
            y = TOP + plot_h - plot_h * value / top_value
            segment.append(f"{x:.1f},{y:.1f}")
    return _frame(title, labels, top_value, unit, body, series)
