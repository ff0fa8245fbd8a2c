"""The report's pictures as SVG written here, with no plotting library: a map of the day's
located incidents, a trend chart of daily counts, and the reliability index.

Every piece of text goes through `_t` (XML escaping), so a place or party name can never break
the document or inject markup; tests parse each chart as XML. Colours are told apart by shape
as well, so the charts still read in a black-and-white print of the PDF.
"""

from __future__ import annotations

import base64
import math
from html import escape

# Attribution colours (ColorBrewer RdBu ends, distinguishable by most colour-blind readers) and
# shapes: side A a filled circle, side B a filled square, not attributable a hollow circle.
SIDE_A, SIDE_B, UNATTRIBUTED = "#b2182b", "#2166ac", "#555555"
INK, GRID, MUTED = "#222222", "#d9d9d9", "#777777"
FONT = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\""
KM_PER_DEG = 111.32  # length of one degree of latitude (and of longitude at the equator), km
#: Shown when there is nothing to frame: the 2025 front, Kherson to Vovchansk (degrees).
DEFAULT_EXTENT = (32.0, 46.0, 39.5, 50.5)  # lon_min, lat_min, lon_max, lat_max


def _t(text) -> str:
    return escape(str(text), quote=True)


def _n(x: float) -> str:
    return f"{x:.1f}"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" {FONT} font-size="11">'
        f"<title>{_t(title)}</title>" + "".join(body) + "</svg>"
    )


def data_uri(svg: str) -> str:
    """The SVG as a data: URI: the page embeds its pictures, so neither a browser nor WeasyPrint
    needs to fetch anything to show them."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def nice_step(span: float, target: int = 5) -> float:
    """A 1-2-5 step that cuts `span` into about `target` intervals."""
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def _marker(side: str, x: float, y: float, size: float = 3.6) -> str:
    if side == "a":
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{size}" fill="{SIDE_A}" fill-opacity="0.85" stroke="#ffffff" stroke-width="0.5"/>'
    if side == "b":
        s = size * 1.7
        return f'<rect x="{_n(x - s / 2)}" y="{_n(y - s / 2)}" width="{_n(s)}" height="{_n(s)}" fill="{SIDE_B}" fill-opacity="0.85" stroke="#ffffff" stroke-width="0.5"/>'
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{size}" fill="none" stroke="{UNATTRIBUTED}" stroke-width="1.3"/>'


# -- the map --------------------------------------------------------------------------------------


def map_svg(m: dict, places=(), width: int = 680) -> str:
    """The day's located incidents on an equirectangular projection (x = lon·cos φ0, y = lat,
    φ0 the middle latitude of the frame), with the contact line and labelled reference places.

    `m`: {"points": [{"lat", "lon", "side": "a"|"b"|"u"}], "line": [[lon, lat], ...] or None,
    "sides": {"a": name, "b": name}, "unlocated": int}; `places`: (name, area, lat, lon) tuples.
    Degrees WGS 84. The cos φ0 aspect keeps distances true to within a few per cent over the
    front (46-51° N), enough for a picture; the scale bar is in kilometres."""
    points, line = m.get("points") or [], m.get("line") or []
    lons = [p["lon"] for p in points] + [c[0] for c in line]
    lats = [p["lat"] for p in points] + [c[1] for c in line]
    if lons:
        lon0, lat0, lon1, lat1 = min(lons), min(lats), max(lons), max(lats)
    else:
        lon0, lat0, lon1, lat1 = DEFAULT_EXTENT
    # At least half a degree across, and a margin, so one incident does not fill the frame.
    pad_lat = max((lat1 - lat0) * 0.08, 0.25 - (lat1 - lat0) / 2, 0.05)
    pad_lon = max((lon1 - lon0) * 0.08, 0.25 - (lon1 - lon0) / 2, 0.05)
    lon0, lon1, lat0, lat1 = lon0 - pad_lon, lon1 + pad_lon, lat0 - pad_lat, lat1 + pad_lat
    k = math.cos(math.radians((lat0 + lat1) / 2))

    left, right, top, bottom = 44, 12, 12, 26
    pw = width - left - right
    scale = pw / ((lon1 - lon0) * k)  # pixels per degree of latitude
    ph = (lat1 - lat0) * scale
    if ph > 560 or ph < 220:  # keep the page layout sane: grow the frame along the short axis
        ph = min(max(ph, 220), 560)
        scale = min(pw / ((lon1 - lon0) * k), ph / (lat1 - lat0))
        cx, cy = (lon0 + lon1) / 2, (lat0 + lat1) / 2
        lon0, lon1 = cx - pw / scale / k / 2, cx + pw / scale / k / 2
        lat0, lat1 = cy - ph / scale / 2, cy + ph / scale / 2
    height = math.ceil(top + ph + bottom)

    def x(lon):
        return left + (lon - lon0) * k * scale

    def y(lat):
        return top + (lat1 - lat) * scale

    body = [f'<rect x="{left}" y="{top}" width="{_n(pw)}" height="{_n(ph)}" fill="#fbfbf8" stroke="{INK}" stroke-width="0.8"/>']
    step = nice_step(max(lat1 - lat0, (lon1 - lon0) * k), 5)
    g = math.ceil(lon0 / step) * step
    while g <= lon1:
        body.append(f'<line x1="{_n(x(g))}" y1="{top}" x2="{_n(x(g))}" y2="{_n(top + ph)}" stroke="{GRID}" stroke-width="0.6"/>')
        body.append(f'<text x="{_n(x(g))}" y="{_n(top + ph + 13)}" text-anchor="middle" fill="{MUTED}" font-size="9">{_t(f"{g:g}°E")}</text>')
        g += step
    g = math.ceil(lat0 / step) * step
    while g <= lat1:
        body.append(f'<line x1="{left}" y1="{_n(y(g))}" x2="{_n(left + pw)}" y2="{_n(y(g))}" stroke="{GRID}" stroke-width="0.6"/>')
        body.append(f'<text x="{left - 4}" y="{_n(y(g) + 3)}" text-anchor="end" fill="{MUTED}" font-size="9">{_t(f"{g:g}°N")}</text>')
        g += step
    for name, _area, plat, plon in places:
        if lat0 < plat < lat1 and lon0 < plon < lon1:
            body.append(f'<rect x="{_n(x(plon) - 1.5)}" y="{_n(y(plat) - 1.5)}" width="3" height="3" fill="{MUTED}"/>')
            body.append(f'<text x="{_n(x(plon) + 4)}" y="{_n(y(plat) - 3)}" fill="{MUTED}" font-size="8">{_t(name)}</text>')
    if len(line) >= 2:
        pts = " ".join(f"{_n(x(a))},{_n(y(b))}" for a, b in line)
        body.append(f'<polyline points="{pts}" fill="none" stroke="{INK}" stroke-width="1.6" stroke-linejoin="round"/>')
    for p in points:
        body.append(_marker(p["side"], x(p["lon"]), y(p["lat"])))

    # Legend (top left) with counts per attribution.
    sides = m.get("sides") or {}
    counts = {s: sum(1 for p in points if p["side"] == s) for s in "abu"}
    entries = [("a", f"fire from the side of {sides.get('a') or 'side A'}"), ("b", f"fire from the side of {sides.get('b') or 'side B'}"), ("u", "origin not attributed")]
    lx, ly = left + 8, top + 8
    lw = 250
    rows = len(entries) + (1 if len(line) >= 2 else 0)
    body.append(f'<rect x="{lx}" y="{ly}" width="{lw}" height="{14 * rows + 8}" fill="#ffffff" fill-opacity="0.9" stroke="{GRID}"/>')
    for i, (side, label) in enumerate(entries):
        yy = ly + 11 + 14 * i
        body.append(_marker(side, lx + 10, yy))
        body.append(f'<text x="{lx + 20}" y="{yy + 4}" font-size="10">{_t(f"{label}: {counts[side]}")}</text>')
    if len(line) >= 2:
        yy = ly + 11 + 14 * len(entries)
        body.append(f'<line x1="{lx + 3}" y1="{yy}" x2="{lx + 17}" y2="{yy}" stroke="{INK}" stroke-width="1.6"/>')
        body.append(f'<text x="{lx + 20}" y="{yy + 4}" font-size="10">{_t("contact line")}</text>')

    # Scale bar (bottom right): a round number of km about a fifth of the frame.
    km_per_px = KM_PER_DEG / scale
    bar_km = nice_step(pw * km_per_px / 5, 1)
    bar_px = bar_km / km_per_px
    bx, by = left + pw - bar_px - 10, top + ph - 10
    body.append(f'<line x1="{_n(bx)}" y1="{_n(by)}" x2="{_n(bx + bar_px)}" y2="{_n(by)}" stroke="{INK}" stroke-width="2"/>')
    body.append(f'<text x="{_n(bx + bar_px / 2)}" y="{_n(by - 4)}" text-anchor="middle" font-size="9">{_t(f"{bar_km:g} km")}</text>')
    if m.get("unlocated"):
        note = f"{m['unlocated']} incident(s) without a position are not shown"
        body.append(f'<text x="{left}" y="{height - 2}" font-size="9" fill="{MUTED}">{_t(note)}</text>')
    if not points:
        body.append(f'<text x="{_n(left + pw / 2)}" y="{_n(top + ph / 2)}" text-anchor="middle" fill="{MUTED}">{_t("no located incidents in this period")}</text>')
    return _svg(width, height, "Located incidents of the reporting day", body)


# -- bar charts -------------------------------------------------------------------------------------


def _axes(body: list[str], left: int, top: int, pw: float, ph: float, vmax: float, fmt=lambda v: f"{v:g}") -> float:
    """Horizontal grid lines and y labels; returns the value at the top of the plot."""
    step = nice_step(vmax if vmax > 0 else 1, 4)
    ymax = step * math.ceil((vmax if vmax > 0 else 1) / step)
    v = 0.0
    while v <= ymax + step / 2:
        yy = top + ph - v / ymax * ph
        body.append(f'<line x1="{left}" y1="{_n(yy)}" x2="{_n(left + pw)}" y2="{_n(yy)}" stroke="{GRID}" stroke-width="0.6"/>')
        body.append(f'<text x="{left - 4}" y="{_n(yy + 3)}" text-anchor="end" fill="{MUTED}" font-size="9">{_t(fmt(v))}</text>')
        v += step
    return ymax


def trend_svg(t: dict, width: int = 680, height: int = 230) -> str:
    """Daily counts of the current period as bars and of the period before as a dashed line,
    day i of one against day i of the other. `t`: {"days", "labels", "counts", "previous",
    "total", "previous_total"}."""
    counts, previous, labels = t["counts"], t["previous"], t["labels"]
    n = len(counts)
    left, right, top, bottom = 40, 10, 30, 34
    pw, ph = width - left - right, height - top - bottom
    body: list[str] = []
    ymax = _axes(body, left, top, pw, ph, max([*counts, *previous, 1]), fmt=lambda v: f"{v:.0f}")
    slot = pw / max(n, 1)
    for i, c in enumerate(counts):
        h = c / ymax * ph
        body.append(f'<rect x="{_n(left + i * slot + slot * 0.18)}" y="{_n(top + ph - h)}" width="{_n(slot * 0.64)}" height="{_n(h)}" fill="#4d5b6a"/>')
        if c:
            body.append(f'<text x="{_n(left + (i + 0.5) * slot)}" y="{_n(top + ph - h - 3)}" text-anchor="middle" font-size="9">{c}</text>')
        every = 1 if n <= 16 else math.ceil(n / 16)
        if i % every == 0 or i == n - 1:
            body.append(f'<text x="{_n(left + (i + 0.5) * slot)}" y="{_n(top + ph + 13)}" text-anchor="middle" fill="{MUTED}" font-size="9">{_t(labels[i][5:])}</text>')
    if previous:
        pts = " ".join(f"{_n(left + (i + 0.5) * slot)},{_n(top + ph - p / ymax * ph)}" for i, p in enumerate(previous))
        body.append(f'<polyline points="{pts}" fill="none" stroke="{SIDE_A}" stroke-width="1.5" stroke-dasharray="4 3"/>')
        for i, p in enumerate(previous):
            body.append(f'<circle cx="{_n(left + (i + 0.5) * slot)}" cy="{_n(top + ph - p / ymax * ph)}" r="2" fill="{SIDE_A}"/>')
    body.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="{INK}" stroke-width="0.8"/>')
    days, last = t["days"], labels[-1] if labels else ""
    now_label = f"{days} days to {last}: {t.get('total', sum(counts))}"
    before_label = f"previous {days} days: {t.get('previous_total', sum(previous))}"
    body.append(f'<rect x="{left}" y="8" width="10" height="10" fill="#4d5b6a"/>')
    body.append(f'<text x="{left + 14}" y="17" font-size="10">{_t(now_label)}</text>')
    body.append(f'<line x1="{left + 290}" y1="13" x2="{left + 310}" y2="13" stroke="{SIDE_A}" stroke-width="1.5" stroke-dasharray="4 3"/>')
    body.append(f'<text x="{left + 314}" y="17" font-size="10">{_t(before_label)}</text>')
    body.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle" fill="{MUTED}" font-size="9">{_t("reporting day (19:30 to 19:30 local time), incidents per day")}</text>')
    return _svg(width, height, f"Incidents per reporting day over {days} days, with the previous {days} days", body)


def index_svg(r: dict, width: int = 680, height: int = 200) -> str:
    """The reliability index per reporting day: bars (dark when the day was calm, red when it
    was not), the calm threshold as a dashed line; a withheld day (its violations are not all
    visible to this reader) is a grey band without a value, a day without a report a dash."""
    days = r["days"]
    n = len(days)
    left, right, top, bottom = 40, 10, 24, 30
    pw, ph = width - left - right, height - top - bottom
    body: list[str] = []
    shown = [d["index"] for d in days if d["index"] is not None]
    ymax = _axes(body, left, top, pw, ph, max([*shown, r["threshold"] * 1.2, 1.0]))
    slot = pw / max(n, 1)
    for i, d in enumerate(days):
        x0 = left + i * slot
        if d["state"] == "withheld":
            body.append(f'<rect x="{_n(x0 + 1)}" y="{top}" width="{_n(slot - 2)}" height="{_n(ph)}" fill="#eeeeee"/>')
            body.append(f'<text x="{_n(x0 + slot / 2)}" y="{_n(top + ph - 4)}" text-anchor="middle" fill="{MUTED}" font-size="8">w</text>')
        elif d["state"] == "none":
            body.append(f'<line x1="{_n(x0 + slot * 0.3)}" y1="{_n(top + ph - 3)}" x2="{_n(x0 + slot * 0.7)}" y2="{_n(top + ph - 3)}" stroke="{MUTED}"/>')
        else:
            h = d["index"] / ymax * ph
            colour = "#4d5b6a" if d["calm"] else SIDE_A
            body.append(f'<rect x="{_n(x0 + slot * 0.15)}" y="{_n(top + ph - h)}" width="{_n(slot * 0.7)}" height="{_n(h)}" fill="{colour}"/>')
        if i % 5 == 0 or i == n - 1:
            body.append(f'<text x="{_n(x0 + slot / 2)}" y="{_n(top + ph + 13)}" text-anchor="middle" fill="{MUTED}" font-size="9">{_t(d["day"][5:])}</text>')
    ty = top + ph - r["threshold"] / ymax * ph
    body.append(f'<line x1="{left}" y1="{_n(ty)}" x2="{left + pw}" y2="{_n(ty)}" stroke="{SIDE_A}" stroke-width="1" stroke-dasharray="5 3"/>')
    body.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="{INK}" stroke-width="0.8"/>')
    caption = f"reliability index per reporting day; dashed: calm threshold {r['threshold']:g}; red: not calm; w: withheld"
    body.append(f'<text x="{left}" y="14" font-size="10">{_t(caption)}</text>')
    return _svg(width, height, "Reliability index of the last 30 reporting days", body)
