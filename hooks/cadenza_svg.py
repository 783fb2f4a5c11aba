"""A small inline-SVG line chart for the training curves (no plotting library).

Colours come from CSS classes (``site/assets/cadenza.css``), so the chart
follows the light/dark palette. The SVG has no blank lines, so Markdown
passes it through as one raw HTML block.
"""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About count round tick values covering [lo, hi] (1, 2 or 5 times a power of 10)."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    return [round(first + i * step, 10) for i in range(int(math.ceil((hi - first) / step)) + 1)]


def line_chart(series: dict[str, list[tuple[float, float]]], x_label: str, y_label: str,
               title: str) -> str:
    """An SVG chart of named series of (x, y) points; each series gets class ``s<i>``."""
    points = [p for pts in series.values() for p in pts]
    xs, ys = nice_ticks(min(p[0] for p in points), max(p[0] for p in points)), \
        nice_ticks(min(p[1] for p in points), max(p[1] for p in points))
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x, y):
        return (LEFT + (x - xs[0]) / (xs[-1] - xs[0]) * w,
                TOP + h - (y - ys[0]) / (ys[-1] - ys[0]) * h)

    parts = [f'<svg class="cz-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for x in xs:
        px, _ = at(x, ys[0])
        parts.append(f'<line class="grid" x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{TOP + h}"/>'
                     f'<text x="{px:.1f}" y="{TOP + h + 16}" text-anchor="middle">{x:g}</text>')
    for y in ys:
        _, py = at(xs[0], y)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{py:.1f}" x2="{LEFT + w}" y2="{py:.1f}"/>'
                     f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{y:g}</text>')
    parts.append(f'<text x="{LEFT + w / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
                 f"{escape(x_label)}</text>"
                 f'<text transform="translate(14 {TOP + h / 2}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in (at(x, y) for x, y in pts))
        parts.append(f'<polyline class="s{i}" points="{path}"/>'
                     f'<text class="s{i}" x="{LEFT + w - 4}" y="{TOP + 14 + 16 * i}" '
                     f'text-anchor="end">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
