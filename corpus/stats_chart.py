"""The PNG chart of scripts/stats.py: raw item length histogram and cumulative growth over time.

Drawn with matplotlib's Agg canvas directly (no pyplot, so no global backend switch in a notebook), with the
PNG's Software tag removed, so the same statistics give the same bytes.
"""

from __future__ import annotations

import io
from datetime import date


def draw_chart(stats: dict, dpi: int = 100) -> bytes:
    """PNG bytes: left, histogram of characters per raw item; right, cumulative items and characters by day."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11, 4.2), dpi=dpi)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)

    hist = stats["lengths"]["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    if counts:
        widths = [b - a for a, b in zip(edges, edges[1:])]
        left.bar(edges[:-1], counts, width=widths, align="edge", color="#4c72b0", edgecolor="white")
    else:
        left.text(0.5, 0.5, "no raw items yet", ha="center", va="center", transform=left.transAxes)
    left.set_title("Length of raw items")
    left.set_xlabel("characters per item")
    left.set_ylabel("items")
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    left.ticklabel_format(axis="x", useOffset=False, style="plain")

    days = stats["growth"]
    if days:
        xs = [date.fromisoformat(g["day"]) for g in days]
        ms = 3 if len(days) <= 60 else 0  # dots only while they can be told apart
        right.step(xs, [g["total_items"] for g in days], where="post", color="#4c72b0", marker="o", ms=ms)
        right.set_ylabel("items (total)", color="#4c72b0")
        chars = right.twinx()
        chars.step(xs, [g["total_chars"] for g in days], where="post", color="#dd8452", marker="o", ms=ms,
                   linestyle="--")
        chars.set_ylabel("characters (total)", color="#dd8452")
        right.set_ylim(bottom=0, top=max(1, days[-1]["total_items"]) * 1.05)
        chars.set_ylim(bottom=0, top=max(1, days[-1]["total_chars"]) * 1.05)
        right.yaxis.set_major_locator(MaxNLocator(integer=True))
        if len(xs) == 1:  # a single day: give the point some room instead of a multi-year axis
            right.set_xlim(date.fromordinal(xs[0].toordinal() - 1), date.fromordinal(xs[0].toordinal() + 1))
        right.tick_params(axis="x", labelrotation=30)
    else:
        right.text(0.5, 0.5, "no raw items yet", ha="center", va="center", transform=right.transAxes)
        right.set_ylabel("items (total)")
    right.set_title("Growth over time")
    right.set_xlabel("day of arrival (UTC)")

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
