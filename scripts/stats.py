"""Dataset statistics: how many items each source has at each step, why items were rejected, sizes and growth.

Per source: items in raw/, kept by validate, kept by filter, cleaned, in processed/ (a stage that has not run
shows '-'). Rejections per reason and stage (from rejected/<reason>/<stage>.jsonl). Characters, tokens and
vocabulary size of the prepared splits (from processed/meta.json when present; missing pieces show '-').
Length distribution of the raw items (characters: min, median, p90, max and a histogram) and growth over time
(items and characters per day of arrival, from the raw index). Prints a table, writes the numbers as JSON and
a PNG chart (length histogram + cumulative growth). Same dataset, same bytes: nothing time-dependent is written.

**Reads:** `dataset/raw/`, `dataset/metadata/raw_index.jsonl`, the stage ledgers, `dataset/rejected/`,
`dataset/cleaned/`, `dataset/processed/meta.json`. Nothing is modified.
**Writes:** `dataset/metadata/stats.json`, `dataset/metadata/stats.png` (each only when its bytes change; skipped with a
warning when the dataset folder is read-only).
**Usage:**
    python scripts/stats.py
    python scripts/stats.py --dataset-dir /data/stories --hist-bins 30 --no-chart
"""

import sys

import json
import logging
import math
import statistics
from collections import Counter
from dataclasses import dataclass

from common.cli import READ_ONLY_ERRNOS, require_dataset, stage_main
from common.config import UserError, config_dict, opt
from common.fsio import read_json, read_jsonl, write_if_changed
from common.ledger import read_kept
from common.paths import DatasetPaths
from common.rawstore import list_raw_items, parse_raw_name, read_raw_index

STAGE = "stats"  # not a pipeline stage: run.py calls it after the last stage; its profile section is `stats`
STATUSES = ("raw", "validated", "filtered", "cleaned", "processed")
SPLIT_FIGURES = ("docs", "chars", "tokens")
log = logging.getLogger("miniature_memory.stats")


@dataclass
class StatsConfig:
    hist_bins: int = opt(20, "bars in the length histogram (equal widths in characters)")
    chart: bool = opt(True, "draw metadata/stats.png (length histogram + cumulative growth over time)")


def number(value) -> int | float | None:
    """`value` when it is a real number (not a bool), else None: meta.json is read defensively."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def raw_chars(paths: DatasetPaths, item: str, record: dict | None) -> int:
    """Characters of a raw item: the index's count, or counted from the file (streamed) when not recorded."""
    if record and isinstance(number(record.get("chars")), int):
        return record["chars"]
    n = 0
    try:
        with open(paths.raw_file(item), encoding="utf-8", errors="replace") as f:
            while block := f.read(1 << 20):
                n += len(block)
    except OSError:
        return 0
    return n


def arrival_day(item: str, record: dict | None) -> str:
    """`YYYY-MM-DD` of arrival: the index's `time` field, else the timestamp in the file name."""
    t = record.get("time") if record else None
    if isinstance(t, str) and len(t) >= 10 and t[4] == "-" and t[7] == "-":
        return t[:10]
    fields = parse_raw_name(item.split("/", 1)[-1] + ".txt")
    stamp = fields["time"] if fields else "00000000"
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"


def length_summary(lengths: list[int], bins: int) -> dict:
    """min, median, p90 (nearest rank), max, total and an equal-width histogram with integer edges."""
    if not lengths:
        return {"items": 0, "total": 0, "min": None, "median": None, "p90": None, "max": None,
                "histogram": {"edges": [], "counts": []}}
    xs = sorted(lengths)
    lo, hi = xs[0], xs[-1]
    step = max(1, math.ceil((hi - lo + 1) / bins))
    edges = list(range(lo, hi + 1, step)) + [lo + step * math.ceil((hi - lo + 1) / step)]
    counts = Counter(min((x - lo) // step, len(edges) - 2) for x in xs)
    return {"items": len(xs), "total": sum(xs), "min": lo, "median": statistics.median(xs),
            "p90": xs[max(0, math.ceil(0.9 * len(xs)) - 1)], "max": hi,
            "histogram": {"edges": edges, "counts": [counts.get(i, 0) for i in range(len(edges) - 1)]}}


def growth(days: list[tuple[str, int]]) -> list[dict]:
    """Items and characters per arrival day, with running totals, oldest day first."""
    per_day: dict[str, list[int]] = {}
    for day, chars in days:
        slot = per_day.setdefault(day, [0, 0])
        slot[0] += 1
        slot[1] += chars
    out, items, chars = [], 0, 0
    for day in sorted(per_day):
        items, chars = items + per_day[day][0], chars + per_day[day][1]
        out.append({"day": day, "items": per_day[day][0], "chars": per_day[day][1], "total_items": items,
                    "total_chars": chars})
    return out


def read_meta(paths: DatasetPaths) -> dict:
    """Split figures, vocabulary size and per-source docs from processed/meta.json; {} pieces when absent."""
    try:
        meta = read_json(paths.processed / "meta.json", default={})
    except (OSError, ValueError) as e:
        log.warning(f"cannot read processed/meta.json ({e}); showing '-' for its figures")
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    splits = meta.get("splits")
    if not isinstance(splits, dict):  # also accept the splits as top-level keys
        splits = {k: v for k, v in meta.items() if k in ("train", "val", "test")}
    tokenizer = meta.get("tokenizer") if isinstance(meta.get("tokenizer"), dict) else {}
    sources = meta.get("sources") if isinstance(meta.get("sources"), dict) else {}
    return {
        "present": bool(meta),
        "splits": {str(name): {k: number(fig.get(k)) for k in SPLIT_FIGURES}
                   for name, fig in sorted(splits.items()) if isinstance(fig, dict)},
        "vocab_size": number(meta.get("vocab_size", tokenizer.get("vocab_size"))),
        "sources": {str(s): number(v.get("docs") if isinstance(v, dict) else v) for s, v in sources.items()},
    }


def count_rejections(paths: DatasetPaths) -> dict[str, dict[str, int]]:
    """{reason: {stage: records}} from rejected/<reason>/<stage>.jsonl."""
    out: dict[str, dict[str, int]] = {}
    if paths.rejected.is_dir():
        for f in sorted(paths.rejected.glob("*/*.jsonl")):
            if not f.name.startswith(".") and not f.parent.name.startswith("."):
                out.setdefault(f.parent.name, {})[f.stem] = sum(1 for _ in read_jsonl(f))
    return out


def by_source(items) -> Counter:
    return Counter(i.split("/", 1)[0] for i in items)


def collect(paths: DatasetPaths, cfg: StatsConfig) -> dict:
    """Every figure of the report as a JSON-able dict (reads only)."""
    items = list_raw_items(paths)
    present = set(items)
    index = read_raw_index(paths, fields=("time", "chars"))
    status: dict[str, Counter | None] = {"raw": by_source(items)}
    for name, stage in (("validated", "validate"), ("filtered", "filter")):
        ran = paths.ledger(stage).is_file()
        status[name] = by_source(i for i in read_kept(paths, stage) if i in present) if ran else None
    status["cleaned"] = by_source(f"{p.parent.name}/{p.stem}" for p in paths.cleaned.glob("*/*.txt")
                                  if not p.name.startswith(".") and not p.parent.name.startswith("."))
    meta = read_meta(paths)
    status["processed"] = Counter({s: n for s, n in meta["sources"].items() if n is not None}) \
        if meta["sources"] else None
    sources = sorted(set().union(*(c for c in status.values() if c)))
    table = {s: {k: (None if c is None else c.get(s, 0)) for k, c in status.items()} for s in sources}
    totals = {k: (None if c is None else sum(c.values())) for k, c in status.items()}
    split_docs = [f["docs"] for f in meta["splits"].values()]
    if totals["processed"] is None and split_docs and None not in split_docs:
        totals["processed"] = sum(split_docs)  # per-source counts unknown, the total is not

    lengths = [(arrival_day(i, index.get(i)), raw_chars(paths, i, index.get(i))) for i in items]
    rejections = count_rejections(paths)
    return {
        "config": config_dict(cfg),
        "sources": table,
        "totals": totals,
        "rejections": rejections,
        "rejected_total": sum(n for per in rejections.values() for n in per.values()),
        "missing_raw_files": sum(1 for i in index if i not in present),
        "processed": {"splits": meta["splits"], "vocab_size": meta["vocab_size"]},
        "lengths": length_summary([n for _, n in lengths], cfg.hist_bins),
        "growth": growth(lengths),
    }


def fmt(value) -> str:
    """Thousands separators; '-' for unknown."""
    if value is None:
        return "-"
    return f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"


def grid(header: list[str], rows: list[list]) -> list[str]:
    """Left-aligned first column, right-aligned numbers."""
    cells = [header] + [[str(r[0])] + [fmt(v) for v in r[1:]] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
            for row in cells]


def format_report(stats: dict, paths: DatasetPaths) -> str:
    """The human-readable table printed at the end of the pipeline."""
    lines = [f"Dataset {paths.root}"]
    rows = [[s] + [fig[k] for k in STATUSES] for s, fig in stats["sources"].items()]
    lines += grid(["source", *STATUSES], rows + [["total"] + [stats["totals"][k] for k in STATUSES]])
    if stats["missing_raw_files"]:
        lines.append(f"({stats['missing_raw_files']:,} index records have no raw file)")
    stages = sorted({st for per in stats["rejections"].values() for st in per})
    if stages:
        lines += ["", *grid(["rejected", *stages],
                            [[r] + [per.get(st) for st in stages] for r, per in stats["rejections"].items()])]
    proc = stats["processed"]
    if proc["splits"]:
        lines += ["", *grid(["split", *SPLIT_FIGURES], [[n] + [f[k] for k in SPLIT_FIGURES]
                                                       for n, f in proc["splits"].items()])]
    else:
        lines += ["", "processed/: no meta.json yet (run the prepare stage)"]
    lines.append(f"vocabulary size: {fmt(proc['vocab_size'])}")
    ln = stats["lengths"]
    lines.append(f"raw item length (chars): {fmt(ln['items'])} items, {fmt(ln['total'])} total; min {fmt(ln['min'])}, "
                 f"median {fmt(ln['median'])}, p90 {fmt(ln['p90'])}, max {fmt(ln['max'])}")
    if stats["growth"]:
        lines.append(f"growth (last {min(7, len(stats['growth']))} of {len(stats['growth'])} days with arrivals):")
    for g in stats["growth"][-7:]:
        lines.append(f"  {g['day']}: +{fmt(g['items'])} items, +{fmt(g['chars'])} chars "
                     f"(total {fmt(g['total_items'])} items, {fmt(g['total_chars'])} chars)")
    return "\n".join(lines)


def run(cfg: StatsConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Collect, print and write the statistics; returns headline counts."""
    require_dataset(paths)
    if cfg.hist_bins < 1:
        raise UserError(f"hist_bins must be at least 1, got {cfg.hist_bins}")
    stats = collect(paths, cfg)
    print(format_report(stats, paths))
    # The same text common.fsio.write_json writes (sorted keys, indented), compared before rewriting.
    text = json.dumps(stats, sort_keys=True, ensure_ascii=False, indent=2) + "\n"
    try:
        write_if_changed(paths.metadata / "stats.json", text.encode("utf-8"))
        if cfg.chart:
            from corpus.stats_chart import draw_chart
            write_if_changed(paths.metadata / "stats.png", draw_chart(stats))
    except OSError as e:
        if e.errno not in READ_ONLY_ERRNOS:
            raise
        # The report is the printed table; a read-only (shared) dataset just does not keep a copy of it.
        log.warning(f"stats.json not written: {paths.metadata} is read-only ({e.strerror})")
    t = stats["totals"]
    return {"raw": t["raw"], "validated": t["validated"] or 0, "rejected": stats["rejected_total"],
            "chars": stats["lengths"]["total"]}


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, StatsConfig, run, argv, __doc__, "stats.py")


if __name__ == "__main__":
    sys.exit(main())
