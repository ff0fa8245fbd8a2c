"""The ledger's picture: pledged against delivered per member as horizontal bars, in SVG written
here (no plotting library, no script: the pages' CSP allows none inline).

The chart only ever receives figures the reader may see: a withheld figure arrives as None and
is drawn as a word, never as a bar, and it does not enter the scale either (a longest bar set by
a hidden value would reveal its size). Text goes through reports.charts' escaping; the two series
differ by fill as well as colour (outline against solid), so the chart reads in black and white.
"""

from __future__ import annotations

import math
from decimal import Decimal

from resolute.reports.charts import FONT, GRID, INK, MUTED, _n, _t, nice_step

PLEDGED, DELIVERED = "#0b4f8a", "#1d6b32"  # app.css --accent and --good


def short_eur(value: float) -> str:
    """A tick or bar label: 1.5bn, 250m, 12k, 900 (EUR)."""
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def pledged_delivered_svg(rows: list[dict], labels: dict, width: int = 680) -> str:
    """rows: [{"label": str, "pledged": Decimal | None, "delivered": Decimal | None}], EUR, None
    when withheld for this reader. labels: translated "title", "pledged", "delivered",
    "withheld", "empty". Each row is a pledged bar (outline) with the delivered bar (solid)
    inside it, on one EUR scale."""
    left, right, top, bottom, row_h = 60, 70, 34, 24, 26
    shown = [float(v) for r in rows for v in (r["pledged"], r["delivered"]) if v is not None]
    vmax = max(shown, default=0.0) or 1.0
    step = nice_step(vmax, 4)
    xmax = step * math.ceil(vmax / step)
    pw = width - left - right
    height = top + max(len(rows), 1) * row_h + bottom

    def x(v) -> float:
        return left + float(v) / xmax * pw

    body = []
    # Legend above the plot.
    body.append(f'<rect x="{left}" y="8" width="12" height="10" fill="#ffffff" stroke="{PLEDGED}" stroke-width="1.5"/>')
    body.append(f'<text x="{left + 16}" y="17" fill="{INK}">{_t(labels["pledged"])}</text>')
    body.append(f'<rect x="{left + 150}" y="8" width="12" height="10" fill="{DELIVERED}"/>')
    body.append(f'<text x="{left + 166}" y="17" fill="{INK}">{_t(labels["delivered"])}</text>')
    tick = 0.0
    while tick <= xmax + step / 2:
        body.append(f'<line x1="{_n(x(tick))}" y1="{top - 4}" x2="{_n(x(tick))}" y2="{height - bottom}" stroke="{GRID}" stroke-width="0.6"/>')
        body.append(f'<text x="{_n(x(tick))}" y="{height - bottom + 14}" text-anchor="middle" fill="{MUTED}" font-size="9">{_t(short_eur(tick))}</text>')
        tick += step
    for i, r in enumerate(rows):
        y = top + i * row_h
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" fill="{INK}">{_t(r["label"])}</text>')
        pledged, delivered = r["pledged"], r["delivered"]
        if pledged is None and delivered is None:
            body.append(f'<text x="{left + 4}" y="{y + 15}" fill="{MUTED}" font-style="italic">{_t(labels["withheld"])}</text>')
            continue
        if pledged is not None:
            body.append(f'<rect x="{left}" y="{y + 3}" width="{_n(max(x(pledged) - left, 0.5))}" height="16" fill="#ffffff" stroke="{PLEDGED}" stroke-width="1.5"/>')
        if delivered is not None and delivered > 0:
            body.append(f'<rect x="{left}" y="{y + 7}" width="{_n(max(x(delivered) - left, 0.5))}" height="8" fill="{DELIVERED}"/>')
        end = max(v for v in (pledged, delivered) if v is not None)
        note = labels["withheld"] if None in (pledged, delivered) else (f"{float(delivered / pledged):.0%}" if pledged else "")
        if note:
            body.append(f'<text x="{_n(x(end) + 4)}" y="{y + 15}" fill="{MUTED}" font-size="10">{_t(note)}</text>')
    if not rows:
        body.append(f'<text x="{left + pw / 2}" y="{top + 15}" text-anchor="middle" fill="{MUTED}">{_t(labels["empty"])}</text>')
    body.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{height - bottom}" stroke="{INK}" stroke-width="0.8"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" {FONT} font-size="11">'
        f"<title>{_t(labels['title'])}</title>" + "".join(body) + "</svg>"
    )


def as_decimal(eur: str | None) -> Decimal | None:
    """A service figure's "eur" (a string, or None when withheld) as a number for the chart."""
    return None if eur is None else Decimal(eur)
