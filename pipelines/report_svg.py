"""Small hand-written SVG charts for the HTML report: no charting library, no CDN, no JavaScript needed.

Why SVG strings: the report must open offline as one file and stay readable for 2000 labels. Inline
SVG renders in every browser, scales, prints, and each mark carries a `<title>` tooltip with its exact
figure. Charts are plain functions of (items) -> str, so they are easy to test and to reuse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac"]
HEAD_COLOUR, TAIL_COLOUR = "#f28e2b", "#4e79a7"


def fmt_n(n: float) -> str:
    """Compact count: 1234 -> 1.2k, 3_400_000 -> 3.4M."""
    n = float(n)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{n:.0f}"


def _svg(width: int, height: int, body: list[str], cls: str, label: str) -> str:
    return (f'<svg class="chart {cls}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">' + "".join(body) + "</svg>")


def log_size_chart(items: Sequence[tuple[str, int, bool]], threshold: int | None = None,
                   width: int = 960, height: int = 320) -> str:
    """Languages by size: one bar per label, sorted descending, on a log10 y axis.

    items: (label, sentences, is_head). A dashed line marks `threshold` (Glot500-c: 30,000).
    """
    items = sorted((i for i in items if i[1] > 0), key=lambda i: (-i[1], i[0]))
    left, right, top, bottom = 56, 10, 14, 34
    pw, ph = width - left - right, height - top - bottom
    body: list[str] = []
    if not items:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no kept sentences</text>')
        return _svg(width, height, body, "chart-sizes", "languages by size")
    hi = max(1, math.ceil(math.log10(max(i[1] for i in items)) + 1e-9))
    hi = max(hi, 1)

    def y(v: float) -> float:
        return top + ph - ph * (math.log10(max(v, 1)) / hi)

    for e in range(0, hi + 1):
        yy = y(10**e)
        body.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        body.append(f'<text class="tick" x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{fmt_n(10**e)}</text>')
    bw = pw / len(items)
    for k, (label, n, head) in enumerate(items):
        x, yy = left + k * bw, y(n)
        colour = HEAD_COLOUR if head else TAIL_COLOUR
        body.append(f'<rect class="bar" data-label="{escape(label)}" x="{x:.2f}" y="{yy:.1f}" width="{max(bw * 0.9, 0.6):.2f}" '
                    f'height="{top + ph - yy:.1f}" fill="{colour}"><title>{escape(label)}: {n:,} sentences'
                    f'{" (head)" if head else ""}</title></rect>')
    if threshold:
        ty = y(threshold)
        body.append(f'<line class="threshold" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        body.append(f'<text class="tick" x="{width - right - 4}" y="{ty - 4:.1f}" text-anchor="end">'
                    f'{threshold:,} (Glot500-c threshold)</text>')
    body.append(f'<text class="axis" x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">'
                f'{len(items):,} labels by rank (orange = head, blue = tail)</text>')
    body.append(f'<text class="axis" transform="translate(12 {top + ph / 2}) rotate(-90)" text-anchor="middle">'
                'sentences (log)</text>')
    return _svg(width, height, body, "chart-sizes", "languages by size, log scale")


def hbar_chart(rows: Sequence[tuple[str, float, str]], cls: str, label: str, width: int = 960,
               value_fmt=fmt_n, scale_max: float | None = None) -> str:
    """Horizontal bars: rows of (name, value, annotation text shown after the bar)."""
    row_h, left, right = 20, 170, 220
    height = max(row_h * len(rows) + 10, 30)
    pw = width - left - right
    vmax = scale_max or max((r[1] for r in rows), default=1) or 1
    body: list[str] = []
    for k, (name, value, note) in enumerate(rows):
        yy = 5 + k * row_h
        w = pw * (value / vmax) if vmax else 0
        body.append(f'<text class="tick" x="{left - 6}" y="{yy + 14}" text-anchor="end">{escape(name)}</text>')
        body.append(f'<rect class="bar" x="{left}" y="{yy + 2}" width="{max(w, 0.5):.1f}" height="{row_h - 5}" '
                    f'fill="{PALETTE[k % len(PALETTE)] if cls == "chart-audit" else PALETTE[0]}">'
                    f'<title>{escape(name)}: {value_fmt(value)} {escape(note)}</title></rect>')
        body.append(f'<text class="tick" x="{left + w + 6:.1f}" y="{yy + 14}">{escape(value_fmt(value))} '
                    f'{escape(note)}</text>')
    if not rows:
        body.append('<text x="10" y="20">nothing to show</text>')
    return _svg(width, height, body, cls, label)


def stacked_chart(groups: Sequence[tuple[str, Sequence[tuple[str, float]]]], cls: str, label: str,
                  width: int = 960, normalise: bool = False, colours: dict[str, str] | None = None) -> str:
    """Horizontal stacked bars: groups of (name, [(segment, value), ...]) with a shared legend.

    With `normalise`, every bar spans the full width (shares); otherwise lengths are to a common scale.
    """
    row_h, left, right = 26, 170, 120
    segs = sorted({s for _, parts in groups for s, _ in parts})
    colour = {s: (colours or {}).get(s, PALETTE[k % len(PALETTE)]) for k, s in enumerate(segs)}
    legend_rows = math.ceil(len(segs) / 4) if segs else 0
    height = 10 + row_h * len(groups) + 18 * legend_rows + 6
    pw = width - left - right
    vmax = max((sum(v for _, v in parts) for _, parts in groups), default=1) or 1
    body: list[str] = []
    for k, (name, parts) in enumerate(groups):
        yy = 5 + k * row_h
        total = sum(v for _, v in parts) or 1
        body.append(f'<text class="tick" x="{left - 6}" y="{yy + 16}" text-anchor="end">{escape(name)}</text>')
        x = float(left)
        for seg, v in parts:
            w = pw * (v / total if normalise else v / vmax)
            body.append(f'<rect class="bar segment" data-segment="{escape(seg)}" x="{x:.1f}" y="{yy + 3}" '
                        f'width="{max(w, 0.5):.1f}" height="{row_h - 8}" fill="{colour[seg]}"><title>{escape(name)} '
                        f'{escape(seg)}: {v:,.0f} ({v / total:.1%})</title></rect>')
            x += w
        body.append(f'<text class="tick" x="{x + 6:.1f}" y="{yy + 16}">{fmt_n(sum(v for _, v in parts))}</text>')
    ly = 10 + row_h * len(groups)
    for k, seg in enumerate(segs):
        lx, lyy = left + (k % 4) * 190, ly + (k // 4) * 18
        body.append(f'<rect x="{lx}" y="{lyy}" width="12" height="12" fill="{colour[seg]}"/>'
                    f'<text class="tick" x="{lx + 16}" y="{lyy + 11}">{escape(seg)}</text>')
    if not groups:
        body.append('<text x="10" y="20">nothing to show</text>')
    return _svg(width, height, body, cls, label)
