"""Extraction quality and speed on two page sets, ours beside trafilatura and stock readability.

1. **fixtures (in-sample: pages and rules written together)**: tests/fixtures/extract, hand-written story-site
   pages whose ground truth was written with the post-filter rules, so their figures flatter the rules. Token
   precision/recall/F1 (macro and micro, see bench/extract_scoring.py), pages/s, the reason given to every
   no-story page, the ablation (F1 with each post-filter rule switched off) and the worst pages.
2. **real-pages (held out)**: `../shared/data/real-pages` (181 real news and blog pages, scrapinghub's
   article-extraction benchmark, MIT), scored by the benchmark's own evaluate.py (4-word shingles; F1, precision,
   recall as it defines them, with its bootstrap std), plus pages/s and the empty outputs counted by reason.
   The rules were not tuned page by page on this set; a larger held-out set checks that the gain is general.
   Without the folder the report says real-pages is missing and shows the fixtures only.

The three extractors: ours (`scraper.extract.readable.extract_story`; a page it rejects yields no text),
trafilatura (`trafilatura.extract`, comments off) and stock readability-lxml
(`html_text.extract_text(Document(html).summary(html_partial=True))`). trafilatura and html-text are bench-only
tools (`.venv/bin/pip install trafilatura html-text`); a missing one is reported and skipped. The conditions
(CPU, cores, Python, library versions; extraction runs on one thread) are printed first and stored with --json.

**Usage:**
    .venv/bin/python bench/extract.py
    .venv/bin/python bench/extract.py --repeat 5 --pages --json /tmp/extract.json
    .venv/bin/python bench/extract.py --real-pages /path/to/real-pages --no-ablation
    .venv/bin/python bench/extract.py --real-ablation      # which rules pay on the held-out pages too
"""

import argparse
import json
import sys
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

from bench.conditions import format_conditions, measure_conditions
from bench.extract_scoring import (FIXTURES_DIR, REAL_PAGES_DIR, load_fixtures, load_real_pages, overlap, prf,
                                   real_pages_present, score_extractor, score_real_pages)
from scraper.extract.postfilters import DEFAULT_RULES, RULE_NAMES
from scraper.extract.readable import EXTRACTOR_NAME, EXTRACTOR_VERSION, extract_story

FIXTURES_LABEL = "fixtures (in-sample: pages and rules written together)"
REAL_LABEL = "real-pages (held out)"


def ours(rules=DEFAULT_RULES):
    """html -> (text, reason): the story text, or '' and the reason the page was rejected."""
    def run(html: str) -> tuple[str, str | None]:
        result = extract_story(html, "", rules=rules)
        return (result.text, None) if result.ok else ("", result.reason)
    return run


def trafilatura_fn():
    try:
        import trafilatura
    except ImportError:
        return None
    def run(html: str) -> tuple[str, None]:
        return trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=False) \
            or "", None
    return run


def readability_fn():
    try:
        import html_text
        from readability import Document
    except ImportError:
        return None
    def run(html: str) -> tuple[str, None]:
        try:
            return html_text.extract_text(Document(html).summary(html_partial=True)), None
        except Exception:  # readability raises on junk pages: no output, as for any extractor that fails
            return "", None
    return run


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def extractors() -> list[tuple[str, object]]:
    """(label, html -> (text, reason)) for every extractor available here."""
    out = [(f"ours ({EXTRACTOR_NAME} {EXTRACTOR_VERSION})", ours())]
    traf, stock = trafilatura_fn(), readability_fn()
    if traf is None:
        print("trafilatura: not installed (.venv/bin/pip install trafilatura to compare)")
    else:
        out.append((f"trafilatura {version('trafilatura')}", traf))
    if stock is None:
        print("stock readability: html-text not installed (.venv/bin/pip install html-text to compare)")
    else:
        out.append((f"readability-lxml {version('readability-lxml')} (stock)", stock))
    return out


def run_all(fn, htmls: list[str]) -> tuple[list[tuple[str, str | None]], float]:
    """Outputs of fn over htmls and the seconds it took."""
    start = time.perf_counter()
    outs = [fn(h) for h in htmls]
    return outs, time.perf_counter() - start


def best_time(fn, htmls: list[str], repeat: int) -> float:
    return min(run_all(fn, htmls)[1] for _ in range(max(repeat, 1)))


def empty_reasons(outs: list[tuple[str, str | None]]) -> dict:
    """Empty outputs counted by reason ('empty' when the extractor gave no reason)."""
    return dict(Counter(reason or "empty" for text, reason in outs if not text.strip()))


def fixture_line(label: str, score, pps: float) -> str:
    ma, mi = score.macro, score.micro
    return (f"  {label:<40} macro P {ma[0]:.3f} R {ma[1]:.3f} F1 {ma[2]:.3f} | "
            f"micro P {mi[0]:.3f} R {mi[1]:.3f} F1 {mi[2]:.3f}  {pps:7.1f} pages/s")


def fixtures_report(folder: Path, repeat: int, ablation: bool, show_pages: bool, report: dict) -> None:
    fixtures = load_fixtures(folder)
    stories = [f for f in fixtures if f.truth is not None]
    negatives = [f for f in fixtures if f.expect is not None]
    htmls = [f.html for f in fixtures]
    print(f"\n== {FIXTURES_LABEL}\n   {len(stories)} story pages, {len(negatives)} no-story pages ({folder}); "
          "token P/R/F1 over the story pages, pages/s over all pages")
    section: dict = {"label": FIXTURES_LABEL, "stories": len(stories), "no_story": len(negatives), "rows": []}
    scores = {}
    for label, fn in extractors():
        score = score_extractor(lambda h: fn(h)[0], fixtures)
        pps = len(htmls) / best_time(fn, htmls, repeat)
        scores[label] = score
        print(fixture_line(label, score, pps))
        section["rows"].append({"extractor": label, "macro": score.macro, "micro": score.micro,
                                "pages_per_s": round(pps, 1)})

    print("\n  no-story pages (expected reason -> ours)")
    correct = 0
    for f in negatives:
        got = extract_story(f.html, "")
        correct += got.reason == f.expect
        print(f"    {f.name:<24} {f.expect:<13} -> {got.reason}")
    false_rejects = [(f.name, r.reason) for f in stories if not (r := extract_story(f.html, "")).ok]
    print(f"    reasons correct: {correct}/{len(negatives)}; story pages wrongly rejected: {len(false_rejects)} "
          f"{false_rejects if false_rejects else ''}")
    section.update(reasons_correct=correct, false_rejects=false_rejects)

    ours_label = next(iter(scores))
    if ablation:
        base = scores[ours_label]
        none = score_extractor(lambda h: ours(rules=())(h)[0], fixtures)
        print("\n  ablation (macro F1). Rules on by default: 'without' = the default set minus this rule (delta: "
              "what it adds on top of the others); 'alone' = only this rule (gain over no rules). Rules off by "
              "default: 'with' = the default set plus this rule. A rule pays when its delta or gain is > 0.")
        section["ablation"] = {}
        for name in RULE_NAMES:
            alone = score_extractor(lambda h: ours(rules=(name,))(h)[0], fixtures)
            on = name in DEFAULT_RULES
            rules = DEFAULT_RULES - {name} if on else DEFAULT_RULES | {name}
            s = score_extractor(lambda h: ours(rules=rules)(h)[0], fixtures)
            delta = base.macro[2] - s.macro[2] if on else s.macro[2] - base.macro[2]
            print(f"    {name:<14} {'on   without' if on else 'off  with   '} {s.macro[2]:.3f} "
                  f"(delta {delta:+.3f})   alone {alone.macro[2]:.3f} (gain {alone.macro[2] - none.macro[2]:+.3f})")
            section["ablation"][name] = {"default_on": on, "delta": round(delta, 4),
                                         "alone_gain": round(alone.macro[2] - none.macro[2], 4)}
        print(f"    no rules at all: macro F1 {none.macro[2]:.3f}, micro F1 {none.micro[2]:.3f}")

    others = [label for label in scores if label != ours_label]
    worst = sorted(scores[ours_label].per_page.items(), key=lambda kv: kv[1])
    print("\n  worst pages (ours" + "".join(f" / {o.split(' (')[0]}" for o in others) + "):")
    for name, f1 in (worst if show_pages else worst[:8]):
        print(f"    {name:<24} {f1:.3f}" + "".join(f" / {scores[o].per_page[name]:.3f}" for o in others))
    report["fixtures"] = section


def real_pages_report(folder: Path, n_bootstrap: int, show_pages: bool, ablation: bool, report: dict) -> None:
    print(f"\n== {REAL_LABEL}")
    if not real_pages_present(folder):
        print(f"   missing: {folder} not found (ground-truth.json, evaluate.py, html/); fixtures only")
        report["real_pages"] = {"label": REAL_LABEL, "missing": str(folder)}
        return
    pages = load_real_pages(folder)
    htmls = [p.html for p in pages]
    print(f"   {len(pages)} pages ({folder}); scored by the benchmark's evaluate.py (4-word shingles, each page "
          f"weighs the same; ± = bootstrap std over {n_bootstrap} resamples); one timed pass")
    section: dict = {"label": REAL_LABEL, "pages": len(pages), "rows": []}
    per_page = {}
    for label, fn in extractors():
        outs, seconds = run_all(fn, htmls)
        texts = {p.id: text for p, (text, _) in zip(pages, outs)}
        m = score_real_pages(texts, pages, folder, n_bootstrap)
        empties = empty_reasons(outs)
        pps = len(pages) / seconds
        print(f"  {label:<40} F1 {m['f1']:.3f} ± {m.get('f1_std', 0):.3f}  P {m['precision']:.3f}  "
              f"R {m['recall']:.3f}  accuracy {m['accuracy']:.3f}  {pps:6.1f} pages/s  "
              f"empty: {sum(empties.values())} {empties if empties else ''}")
        section["rows"].append({"extractor": label, **{k: round(v, 4) for k, v in m.items()},
                                "pages_per_s": round(pps, 1), "empty": empties})
        if show_pages:
            scorer_texts = {p.id: t for p, (t, _) in zip(pages, outs)}
            per_page[label] = {p.id: per_page_f1(p.truth, scorer_texts[p.id]) for p in pages}
    if ablation:
        base = section["rows"][0]["f1"]
        print("\n  ablation on real-pages (ours, F1 by evaluate.py, no bootstrap): 'without' = the default rules minus "
              "this one; delta > 0 means the rule pays on held-out pages too")
        section["ablation"] = {}
        for name in RULE_NAMES:
            rules = DEFAULT_RULES - {name} if name in DEFAULT_RULES else DEFAULT_RULES | {name}
            outs, _ = run_all(ours(rules=rules), htmls)
            f1 = score_real_pages({p.id: t for p, (t, _) in zip(pages, outs)}, pages, folder, 0)["f1"]
            delta = base - f1 if name in DEFAULT_RULES else f1 - base
            print(f"    {name:<14} {'on   without' if name in DEFAULT_RULES else 'off  with   '} {f1:.4f} "
                  f"(delta {delta:+.4f})")
            section["ablation"][name] = round(delta, 4)
    if show_pages and per_page:
        labels = list(per_page)
        print("\n  per page F1 (" + " / ".join(lbl.split(" (")[0] for lbl in labels) + "), worst of ours first:")
        for p in sorted(pages, key=lambda p: per_page[labels[0]][p.id]):
            print(f"    {p.id[:12]} {' / '.join(f'{per_page[lbl][p.id]:.3f}' for lbl in labels)}  {p.url[:70]}")
    report["real_pages"] = section


def per_page_f1(truth: str, text: str) -> float:
    """Token F1 of one page (extract_scoring.py's measure), for the per-page listing only."""
    return prf(*overlap(text, truth))[2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", default=str(FIXTURES_DIR), help="fixture folder")
    parser.add_argument("--real-pages", default=str(REAL_PAGES_DIR), help="real-pages folder (held out)")
    parser.add_argument("--repeat", type=int, default=3, help="timing passes on the fixtures (best is reported)")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the real-pages std")
    parser.add_argument("--no-ablation", action="store_true", help="skip the per-rule ablation on the fixtures")
    parser.add_argument("--real-ablation", action="store_true",
                        help="also run the per-rule ablation on real-pages (about 2 minutes)")
    parser.add_argument("--pages", action="store_true", help="print per-page F1")
    parser.add_argument("--json", metavar="FILE", help="also write the conditions and every figure as JSON here")
    args = parser.parse_args(argv)
    cond = measure_conditions(threads=1, note="extraction is single-threaded Python",
                              **{pkg: version(pkg) for pkg in ("readability-lxml", "lxml", "trafilatura",
                                                               "html-text")})
    print(format_conditions(cond))
    report: dict = {"conditions": cond}
    fixtures_report(Path(args.fixtures), args.repeat, not args.no_ablation, args.pages, report)
    real_pages_report(Path(args.real_pages), args.bootstrap, args.pages, args.real_ablation, report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
