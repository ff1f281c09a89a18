"""Story extraction quality and speed on hand-written story-site pages, ours beside trafilatura.

Runs `scraper.extract.readable.extract_story` over the fixture set (tests/fixtures/extract: pages with hand-made
ground truth, see scraper/extract/scoring.py) and prints token-level precision/recall/F1 (macro and micro) and
pages/s; then the same for trafilatura when it is installed (a bench-only dependency:
`.venv/bin/pip install trafilatura`); then the ablation: F1 with each post-filter rule switched off, so a rule
that does not pay shows up as a drop of zero (or a gain). Also checks every no-story page gets its expected
reason code, and lists the worst pages.

**Usage:**
    .venv/bin/python bench/extract.py
    .venv/bin/python bench/extract.py --repeat 5 --pages     # steadier timing, per-page F1
"""

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # noqa: E402

import argparse
import time

from scraper.extract.postfilters import DEFAULT_RULES, RULE_NAMES
from scraper.extract.readable import EXTRACTOR_NAME, EXTRACTOR_VERSION, extract_story
from scraper.extract.scoring import FIXTURES_DIR, load_fixtures, score_extractor


def ours(rules=DEFAULT_RULES):
    def run(html: str) -> str:
        result = extract_story(html, "", rules=rules)
        return result.text if result.ok else ""
    return run


def trafilatura_fn():
    try:
        import trafilatura
    except ImportError:
        return None, None
    def run(html: str) -> str:
        return trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=False) or ""
    return run, trafilatura.__version__


def timed(fn, fixtures, repeat: int) -> float:
    """Pages per second of fn over all pages (stories and no-story pages), best of `repeat` passes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for f in fixtures:
            fn(f.html)
        best = min(best, time.perf_counter() - start)
    return len(fixtures) / best


def line(label: str, score, pps: float | None = None) -> str:
    ma, mi = score.macro, score.micro
    speed = f"  {pps:7.1f} pages/s" if pps is not None else ""
    return (f"{label:<28} macro P {ma[0]:.3f} R {ma[1]:.3f} F1 {ma[2]:.3f} | "
            f"micro P {mi[0]:.3f} R {mi[1]:.3f} F1 {mi[2]:.3f}{speed}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", default=str(FIXTURES_DIR), help="fixture folder")
    parser.add_argument("--repeat", type=int, default=3, help="timing passes (best is reported)")
    parser.add_argument("--pages", action="store_true", help="print per-page F1")
    args = parser.parse_args(argv)
    fixtures = load_fixtures(Path(args.fixtures))
    stories = [f for f in fixtures if f.truth is not None]
    negatives = [f for f in fixtures if f.expect is not None]
    print(f"fixtures: {len(stories)} story pages, {len(negatives)} no-story pages ({args.fixtures})")

    score = score_extractor(ours(), fixtures)
    print(line(f"{EXTRACTOR_NAME} {EXTRACTOR_VERSION}", score, timed(ours(), fixtures, args.repeat)))
    traf, version = trafilatura_fn()
    traf_score = None
    if traf is not None:
        traf_score = score_extractor(traf, fixtures)
        print(line(f"trafilatura {version}", traf_score, timed(traf, fixtures, args.repeat)))
    else:
        print("trafilatura: not installed (pip install trafilatura to compare)")

    none = score_extractor(ours(rules=()), fixtures)
    print("\nablation (macro F1). Rules on by default: 'without' = the default set minus this rule (delta: what it "
          "adds on top of the others); 'alone' = only this rule (gain over no rules). Rules off by default: "
          "'with' = the default set plus this rule. A rule pays when its delta or gain is > 0.")
    for name in RULE_NAMES:
        alone = score_extractor(ours(rules=(name,)), fixtures)
        if name in DEFAULT_RULES:
            s = score_extractor(ours(rules=DEFAULT_RULES - {name}), fixtures)
            print(f"  {name:<14} on   without {s.macro[2]:.3f} (delta {score.macro[2] - s.macro[2]:+.3f})   "
                  f"alone {alone.macro[2]:.3f} (gain {alone.macro[2] - none.macro[2]:+.3f})")
        else:
            s = score_extractor(ours(rules=DEFAULT_RULES | {name}), fixtures)
            print(f"  {name:<14} off  with    {s.macro[2]:.3f} (delta {s.macro[2] - score.macro[2]:+.3f})   "
                  f"alone {alone.macro[2]:.3f} (gain {alone.macro[2] - none.macro[2]:+.3f})")
    print(f"  no rules at all: macro F1 {none.macro[2]:.3f}, micro F1 {none.micro[2]:.3f}")

    print("\nno-story pages (expected reason -> ours" + (", trafilatura text words" if traf else "") + ")")
    correct = 0
    for f in negatives:
        got = extract_story(f.html, "")
        correct += got.reason == f.expect
        extra = f", trafilatura {len((traf(f.html) or '').split())} words" if traf else ""
        print(f"  {f.name:<24} {f.expect:<13} -> {got.reason}{extra}")
    false_rejects = [(f.name, r.reason) for f in stories if not (r := extract_story(f.html, "")).ok]
    print(f"  reasons correct: {correct}/{len(negatives)}; story pages wrongly rejected: {len(false_rejects)} "
          f"{false_rejects if false_rejects else ''}")

    worst = sorted(score.per_page.items(), key=lambda kv: kv[1])
    print("\nworst pages (ours" + (" / trafilatura" if traf_score else "") + "):")
    for name, f1 in (worst if args.pages else worst[:8]):
        other = f" / {traf_score.per_page[name]:.3f}" if traf_score else ""
        print(f"  {name:<24} {f1:.3f}{other}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
