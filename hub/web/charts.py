"""Charts drawn on the server as inline SVG: no script, no library, no asset from elsewhere (points and the hub
may be offline, and a page must read the same in any browser or on paper).

Two kinds, for the monthly report page: small multiples of a rate over months (one small line chart per
department, all on the same 0–100% scale, so a glance down the grid compares them) and horizontal bars of counts
(long Chinese point names fit on the left). Each chart is an ``<svg role="img">`` with a ``<title>`` and an
``aria-label``; the page puts the same numbers in a table beside it for anyone who cannot see the drawing. Colours
pass 3:1 against white and the lines carry markers, so no figure rests on colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

# Dark blue line and points, a grey grid, dark red bars: each at least 3:1 against white (WCAG 1.4.11).
LINE, GRID, BAR, INK = "#1a4fa0", "#8a8a8a", "#8b1a1a", "#1a1a1a"
FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif"'


@dataclass(frozen=True)
class SmallChart:
    """One small line chart: its heading, the month labels and the rates (None: nothing decided that month)."""

    title: str
    months: list[str]
    rates: list[float | None]


def rate_small_multiple(chart: SmallChart, *, label: str, width: int = 300, height: int = 150) -> Markup:
    """A rate (0–1) per month as a line with a dot per month that has one; the latest rate written at its end."""
    left, right, top, bottom = 40, 50, 26, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(chart.months) - 1)

    def x(index: int) -> float:
        return left + index * step

    def y(rate: float) -> float:
        return top + plot_h * (1 - rate)

    parts = [f'<text x="0" y="16" font-size="14" font-weight="bold" fill="{INK}">{escape(chart.title)}</text>']
    for rate, text in ((0.0, "0%"), (0.5, "50%"), (1.0, "100%")):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(rate):.1f}" y2="{y(rate):.1f}" stroke="{GRID}" '
                     f'stroke-width="1" stroke-dasharray="{"" if rate == 0 else "3 3"}"/>')
        parts.append(f'<text x="{left - 4}" y="{y(rate) + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="{INK}">{text}</text>')
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11" fill="{INK}">{escape(chart.months[0])}</text>')
    parts.append(f'<text x="{left + plot_w}" y="{height - 6}" font-size="11" text-anchor="end" '
                 f'fill="{INK}">{escape(chart.months[-1])}</text>')
    for segment in _runs(chart.rates):
        points = " ".join(f"{x(i):.1f},{y(rate):.1f}" for i, rate in segment)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for index, rate in enumerate(chart.rates):
        if rate is not None:
            parts.append(f'<circle cx="{x(index):.1f}" cy="{y(rate):.1f}" r="3" fill="{LINE}"/>')
    latest = next(((i, rate) for i, rate in reversed(list(enumerate(chart.rates))) if rate is not None), None)
    if latest is not None:
        parts.append(f'<text x="{x(latest[0]) + 6:.1f}" y="{y(latest[1]) + 4:.1f}" font-size="12" font-weight="bold" '
                     f'fill="{LINE}">{latest[1] * 100:.0f}%</text>')
    return _svg(width, height, label, parts)


def _runs(rates: list[float | None]) -> list[list[tuple[int, float]]]:
    """Consecutive months that have a rate: a month with none breaks the line instead of bridging it."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, rate in enumerate(rates):
        if rate is None:
            runs.append([])
        else:
            runs[-1].append((index, rate))
    return [run for run in runs if run]


def horizontal_bars(bars: list[tuple[str, int]], *, label: str, width: int = 940) -> Markup:
    """One bar per name, longest first as given, its count written at its end; names on the left."""
    row, name_w, top = 28, min(360, 16 + 15 * max((len(name) for name, _count in bars), default=4)), 8
    height = top + row * max(1, len(bars)) + 8
    largest = max((count for _name, count in bars), default=0) or 1
    plot_w = width - name_w - 60
    parts = [f'<line x1="{name_w}" x2="{name_w}" y1="{top - 4}" y2="{height - 4}" stroke="{GRID}" stroke-width="1"/>']
    for index, (name, count) in enumerate(bars):
        middle = top + index * row + row / 2
        length = plot_w * count / largest
        parts.append(f'<text x="{name_w - 8}" y="{middle + 5:.1f}" font-size="14" text-anchor="end" '
                     f'fill="{INK}">{escape(name)}</text>')
        parts.append(f'<rect x="{name_w}" y="{middle - 9:.1f}" width="{length:.1f}" height="18" fill="{BAR}"/>')
        parts.append(f'<text x="{name_w + length + 6:.1f}" y="{middle + 5:.1f}" font-size="14" font-weight="bold" '
                     f'fill="{INK}">{count}</text>')
    return _svg(width, height, label, parts)


def _svg(width: int, height: int, label: str, parts: list[str]) -> Markup:
    # Scales down with the page (svg.chart in reports.html: width 100%, at most its drawn size), so nothing scrolls
    # sideways at 1024×768; a class, not a style attribute, which the pages' Content-Security-Policy refuses.
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}" '
                  f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {FONT} '
                  f'class="chart"><title>{escape(label)}</title>{"".join(parts)}</svg>')
