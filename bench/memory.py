"""The continuity benchmark of the rolling summary memory: does a small model remember its story past its window?

Everything side by side in one run, for each checkpoint given (`--checkpoint NAME=PATH`):
1. Summarizer (no model): speed in ms per 1,000 characters, without and with the focused view; what each budget
   pays: the share of held-out demo probes whose answer is in the summary shown when the probe comes (the
   ceiling of recall with memory), for budgets of 40-200 characters, with focus and without; drift over long
   real text (`--text`, e.g. ../shared/data/gutenberg/*.txt): the share of the first window's names still in the
   summary after every update, and new names per update.
2. Probe recall (generation/memory_eval.py): recall@1 with memory and with the window alone, by distance in
   blocks, on the probes file `--probes` (default: held-out demo stories, index 100,000 on, never trained on),
   chance level, and recall at >= 4 blocks of distance.
3. Context ablation on the val documents of `--dataset-dir`: loss of a window given nothing, its summary, another
   document's summary, the full previous text; usefulness = (none - summary) / (none - full).
4. Resources: tokens/s and RSS at tokens 1k, 10k and `--long-tokens` (default 50k), memory on and off, each in
   its own process (so RSS is its own), 1 thread, fp32.
5. Generated stories: `--stories` samples of `--story-tokens` (default 5,000) tokens with and without memory: the
   share of the first window's names mentioned again after it, and new names per 1,000 tokens.

Targets (issue 12) are printed at the end with the measured figure beside each. The conditions (dtype, threads,
torch, CPU) are printed first and stored with `--json`.

**Usage:**
    python bench/memory.py --checkpoint tiny=training/out/tiny --dataset-dir dataset
    python bench/memory.py --checkpoint small=training/out/small-mem --probes probes.jsonl --long-tokens 10000
    python bench/memory.py --summarizer-only --text ../shared/data/gutenberg/*.txt
"""

import sys
from pathlib import Path

import argparse
import json
import subprocess
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from bench.conditions import format_conditions, measure_conditions
from demo.probes import demo_probe_records
from demo.stories import generate_story
from generation.inference import generate_ids, load_model
from generation.memory_eval import context_ablation, in_window_recall, probe_recall, recall_beyond
from generation.memory_window import schedule_of
from generation.summary_writer import model_summary_writer
from generation.sampling_config import SampleConfig
from generation.threads import set_threads
from model.token_files import load_meta, open_tokens
from story_memory.documents import document_bounds
from story_memory.extract import find
from story_memory.probes import Probe, probe_from_record, read_probes
from story_memory.rolling import RollingMemory, RollingStory, make_schedule
from story_memory.summary import Summary

HELD_OUT_START = 100_000  # demo stories from here on were never in a training corpus (the demo uses 0..799)
BUDGETS = (40, 80, 120, 160, 200)
RSS_POINTS = (1_000, 10_000)


# ------------------------------------------------------------------------------------------------ summarizer
def summarizer_speed(texts: list[str], every: int = 128, focus: bool = False) -> float:
    """ms per 1,000 characters of folding the texts into rolling summaries, `every` characters per update (with
    `focus`, also selecting what is shown for the next 256 characters, as a fold does for its window)."""
    chars, start = 0, time.perf_counter()
    for text in texts:
        mem = RollingMemory(160, focus=focus)
        for i in range(0, len(text), every):
            mem.fold(text[i: i + every], text[i + every: i + every + 256])
        chars += len(text)
    return (time.perf_counter() - start) * 1e6 / max(1, chars)


def budget_coverage(probes: list[Probe], block: int, budgets=BUDGETS, focus: str = "window") -> dict:
    """Share of probes whose answer is in the summary in force at the probe (char tokenizer, `block` chars)."""
    out = {}
    for budget in budgets:
        try:
            sch = make_schedule(block, budget, focus=focus)
        except ValueError:
            continue
        hits = 0
        for p in probes:
            # the folds of generation for a char tokenizer (one id per character)
            story = RollingStory(sch, lambda t: [ord(c) for c in t], 2, 3)
            story.catch_up(len(p.context) + len(p.answer), lambda a, b: p.context[a:b])
            hits += p.answer in story.memory.summary
        out[str(budget)] = round(hits / len(probes), 4) if probes else None
    return out


def drift(texts: list[str], block: int, budget: int) -> dict:
    """Over long texts folded `update_every` characters at a time: mean share of the first window's names kept
    in the memory (the summary kept, at KEPT_FACTOR x the budget as the default focus keeps it) over all
    updates, the share kept at the end, and new names per update."""
    sch = make_schedule(block, budget)
    kept_all, kept_end, new_per_update = [], [], []
    for text in texts:
        first = set(find(text[:block], []).names)
        mem, names = RollingMemory(budget, focus=True), set()
        for i in range(0, len(text), sch.update_every):
            mem.fold(text[i: i + sch.update_every])
            now = set(Summary.parse(mem.kept).names())
            new_per_update.append(len(now - names))
            names = now
            if first:
                kept_all.append(len(first & now) / len(first))
        if first:
            kept_end.append(kept_all[-1])
    mean = (lambda v: round(float(np.mean(v)), 4) if v else None)
    return {"first_window_names_kept_mean": mean(kept_all), "first_window_names_kept_at_end": mean(kept_end),
            "new_names_per_update": mean(new_per_update)}


# ------------------------------------------------------------------------------------------------ model parts
def val_documents(dataset: Path, limit: int, min_tokens: int = 0) -> list[np.ndarray]:
    """The first `limit` val documents of at least `min_tokens` tokens."""
    meta = load_meta(dataset / "processed")
    data = open_tokens(dataset / "processed", "val", meta)
    bounds = [(a, b) for a, b in document_bounds(data) if b - a >= min_tokens]
    return [np.asarray(data[a:b]) for a, b in bounds[:limit]]


def names_in(text: str) -> list[str]:
    return find(text, []).names


def story_figures(lm, schedule, n: int, tokens: int) -> dict:
    """Share of the first window's names mentioned again after it, and new names per 1,000 tokens."""
    block = lm.model.cfg.block_size
    kept, new_rate = [], []
    for i in range(n):
        ids = list(generate_ids(lm, [], tokens, SampleConfig(temperature=0.8, top_k=40, stop_at_eot=False),
                                seed=1000 + i, memory=schedule))
        first_text, rest_text = lm.tokenizer.decode(ids[:block]), lm.tokenizer.decode(ids[block:])
        first = set(names_in(first_text))
        later = set(names_in(rest_text))
        if first:
            kept.append(len(first & later) / len(first))
        new_rate.append(len(later - first) * 1000 / max(1, len(ids) - block))
    mean = (lambda v: round(float(np.mean(v)), 4) if v else None)
    return {"first_window_names_again": mean(kept), "new_names_per_1k_tokens": mean(new_rate), "samples": n}


def resources(checkpoint: str, memory: str, long_tokens: int) -> dict:
    """tokens/s and RSS at 1k, 10k and long_tokens, in a fresh process (fp32, 1 thread)."""
    code = ("import json,sys;from bench.memory import _resource_child;"
            "print(json.dumps(_resource_child(sys.argv[1], sys.argv[2], int(sys.argv[3]))))")
    out = subprocess.run([sys.executable, "-c", code, checkpoint, memory, str(long_tokens)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _resource_child(checkpoint: str, memory: str, long_tokens: int) -> dict:
    lm = load_model(Path(checkpoint))
    set_threads(1, lm.model)  # torch and numpy's BLAS (the float32 decoding step multiplies in numpy)
    schedule = schedule_of(lm.state, lm.model.cfg.block_size) if memory == "rolling" else None
    points = sorted({p for p in (*RSS_POINTS, long_tokens) if 500 < p <= long_tokens})
    need = {q for p in points for q in (p - 500, p)}  # tokens/s over the 500 tokens that end at each point
    times, rss, out = {}, {}, {}
    start = time.perf_counter()
    gen = generate_ids(lm, [], long_tokens, SampleConfig(temperature=0.8, top_k=40, stop_at_eot=False), seed=7,
                       memory=schedule)
    for n, _ in enumerate(gen, 1):
        if n in need:
            times[n], rss[n] = time.perf_counter(), _rss_mb()
    for p in points:
        out[str(p)] = {"rss_mb": round(rss[p], 1), "tokens_per_s": round(500 / (times[p] - times[p - 500]), 1)}
    out["overall_tokens_per_s"] = round(long_tokens / (time.perf_counter() - start), 1)
    return out


def demo_probes(n_stories: int, min_distance: int) -> list[Probe]:
    return [probe_from_record(r) for r in demo_probe_records(n_stories, 1234, min_distance, 3, HELD_OUT_START)]


# ------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/memory.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="a checkpoint (file or run folder) to measure; repeat for several")
    p.add_argument("--dataset-dir", default="", help="dataset whose processed val documents feed the ablation")
    p.add_argument("--probes", default="", help="probes file (default: held-out demo stories)")
    p.add_argument("--demo-stories", type=int, default=60, help="held-out demo stories for the default probes")
    p.add_argument("--max-probes", type=int, default=400)
    p.add_argument("--min-blocks", type=int, default=4, help="the headline recall counts probes this many blocks "
                                                             "or more away")
    p.add_argument("--ablation-docs", type=int, default=40)
    p.add_argument("--ablation-points", type=int, default=150)
    p.add_argument("--ablation-min-tokens", type=int, default=0, help="ablation on val documents of at least this "
                   "many tokens only (the book parts of a corpus that mixes books and short stories)")
    p.add_argument("--long-tokens", type=int, default=50_000)
    p.add_argument("--stories", type=int, default=4)
    p.add_argument("--story-tokens", type=int, default=5_000)
    p.add_argument("--text", nargs="*", default=[], help="long real texts for the summarizer's drift figures")
    p.add_argument("--threads", type=int, default=2, help="threads for scoring (resources always use 1)")
    p.add_argument("--summarizer-only", action="store_true")
    p.add_argument("--model-summary", action="store_true", help="also score the probes with summaries the model "
                   "writes itself (generation/summary_writer.py; for checkpoints trained with summary_write_ratio)")
    p.add_argument("--skip", nargs="*", default=[], choices=["resources", "stories", "ablation", "probes"])
    p.add_argument("--json", default="")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads, user_api="blas")
    cond = measure_conditions(dtype="fp32", threads=args.threads, resources_threads=1)
    print(format_conditions(cond))
    report: dict = {"conditions": cond}

    # 1. the summarizer
    stories = [generate_story(HELD_OUT_START + i, 1234).text for i in range(200)]
    texts = [Path(t).read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n") for t in args.text]
    speed, speed_focus = summarizer_speed(stories + texts), summarizer_speed(stories + texts, focus=True)
    held_out = demo_probes(args.demo_stories, 1024)
    cover, cover_kept = budget_coverage(held_out, 256), budget_coverage(held_out, 256, focus="none")
    summ = {"ms_per_1000_chars": round(speed, 3), "ms_per_1000_chars_focus": round(speed_focus, 3),
            "coverage_by_budget_chars_block256": cover, "coverage_by_budget_chars_block256_no_focus": cover_kept,
            "drift_demo": drift(stories[:50], 256, 160)}
    if texts:
        summ["drift_text"] = drift(texts, 256, 160)
    report["summarizer"] = summ
    print(f"\nsummarizer: {speed:.3f} ms per 1,000 characters ({speed_focus:.3f} with the focused view); answer in "
          f"the summary shown at the probe (held-out demo, {len(held_out)} probes >= 1,024 chars away, block 256 "
          f"chars), focus window / none: "
          + ", ".join(f"budget {b}: {v:.3f} / {cover_kept.get(b, float('nan')):.3f}" for b, v in cover.items()))
    for key in ("drift_demo", "drift_text"):
        if key in summ:
            d = summ[key]
            print(f"  drift ({key[6:]}): first window's names kept {d['first_window_names_kept_mean']} on average, "
                  f"{d['first_window_names_kept_at_end']} at the end; {d['new_names_per_update']} new names per "
                  f"update")
    if args.summarizer_only:
        return _finish(report, args)

    probes = read_probes(args.probes) if args.probes else held_out
    probes = probes[: args.max_probes]
    report["models"] = {}
    for spec in args.checkpoint:
        name, _, path = spec.partition("=")
        path = path or name
        ck = Path(path)
        ck = ck / "last.safetensors" if ck.is_dir() else ck
        lm = load_model(ck)
        block = lm.model.cfg.block_size
        schedule = schedule_of(lm.state, block)
        if schedule is None:
            print(f"\n{name}: {ck} was not trained with memory; skipped")
            continue
        row: dict = {"checkpoint": str(ck), "step": lm.state.get("step"), "block_size": block,
                     "budget": schedule.budget, "update_every": schedule.update_every}
        print(f"\n== {name}: {ck} (step {row['step']}, block {block}, budget {schedule.budget}, "
              f"update every {schedule.update_every})")
        if "probes" not in args.skip:
            t0 = time.perf_counter()
            writer = model_summary_writer(lm.model, lm.tokenizer, schedule) if args.model_summary else None
            r = probe_recall(lm.model, lm.tokenizer, block, schedule, probes, writer=writer)
            far_with, n_far = recall_beyond(r, "with_memory", args.min_blocks)
            far_without, _ = recall_beyond(r, "without_memory", args.min_blocks)
            r.update({"far_with_memory": far_with, "far_without_memory": far_without, "far_probes": n_far,
                      "seconds": round(time.perf_counter() - t0, 1)})
            row["probes"] = r
            print(f"probes: {r['probes']} (chance {r['chance']}); recall@1 with memory {r['with_memory']['recall']}, "
                  f"window alone {r['without_memory']['recall']}; at >= {args.min_blocks} blocks ({n_far} probes): "
                  f"{far_with} vs {far_without}")
            if writer is not None:
                far_model, _ = recall_beyond(r, "with_model_summary", args.min_blocks)
                r["far_with_model_summary"] = far_model
                print(f"model-written summary (trained with summary_write_ratio "
                      f"{(lm.state.get('memory') or {}).get('write_ratio', 0)}): recall@1 "
                      f"{r['with_model_summary']['recall']}; at >= {args.min_blocks} blocks {far_model} (extractive "
                      f"summary {far_with}, window alone {far_without})")
            wm = r["with_memory"]
            print(f"  the summary holds the answer for {wm['answer_in_summary']} of the probes; recall with memory "
                  f"there {wm['recall_if_in_summary']}, elsewhere {wm['recall_if_not_in_summary']}")
            for k, v in r["with_memory"]["by_distance"].items():
                print(f"  {k:>3} blocks: {v['probes']:4d} probes  with {v['recall']:.3f}  without "
                      f"{r['without_memory']['by_distance'][k]['recall']:.3f}")
            iw = in_window_recall(lm.model, lm.tokenizer, block, probes)
            row["in_window"] = iw
            print(f"in-window recall (the answer's sentence inside the window, no memory): {iw['recall']} over "
                  f"{iw['probes']} probes (chance {iw['chance']}): what reading a perfect summary could reach")
        if "ablation" not in args.skip and args.dataset_dir:
            docs = val_documents(Path(args.dataset_dir), args.ablation_docs, args.ablation_min_tokens)
            a = context_ablation(lm.model, lm.tokenizer, schedule, docs, args.ablation_points)
            row["ablation"] = a
            print(f"ablation ({a.get('points')} points, window {a.get('window')}): loss none {a.get('loss_none')}, "
                  f"own summary {a.get('loss_summary')}, other summary {a.get('loss_other_summary')}, full "
                  f"previous {a.get('loss_full_previous')}; usefulness {a.get('usefulness')}")
        if "stories" not in args.skip and args.stories:
            row["stories"] = {m: story_figures(lm, s, args.stories, args.story_tokens)
                              for m, s in (("with_memory", schedule), ("without_memory", None))}
            print(f"stories ({args.stories} x {args.story_tokens} tokens): first window's names again later "
                  f"{row['stories']['with_memory']['first_window_names_again']} with memory, "
                  f"{row['stories']['without_memory']['first_window_names_again']} without; new names per 1k "
                  f"tokens {row['stories']['with_memory']['new_names_per_1k_tokens']} vs "
                  f"{row['stories']['without_memory']['new_names_per_1k_tokens']}")
        if "resources" not in args.skip:
            res = {m: resources(str(ck), m, args.long_tokens) for m in ("rolling", "off")}
            row["resources"] = res
            for m, v in res.items():
                cells = ", ".join(f"{k}: {v[k]['rss_mb']} MB {v[k]['tokens_per_s']} tok/s"
                                  for k in v if k != "overall_tokens_per_s")
                print(f"resources, memory {m}: {cells}; overall {v['overall_tokens_per_s']} tokens/s")
        report["models"][name] = row
    return _finish(report, args)


def _finish(report: dict, args) -> int:
    print("\ntargets (issue 12):")
    for name, row in report.get("models", {}).items():
        pr = row.get("probes")
        if pr:
            w, wo = pr["far_with_memory"], pr["far_without_memory"]
            print(f"  {name}: recall at >= {args.min_blocks} blocks with memory {w} (target >= 0.8), "
                  f"{(w / wo) if wo else float('inf'):.2f}x the window alone (target >= 3x)")
        ab = row.get("ablation")
        if ab and ab.get("points"):
            print(f"  {name}: usefulness {ab['usefulness']} (target > 0.1); other document's summary "
                  f"{ab['loss_other_summary']} vs none {ab['loss_none']} (must not be lower)")
        res = row.get("resources")
        if res:
            on, off = res["rolling"], res["off"]
            last = str(max(int(k) for k in on if k.isdigit()))
            print(f"  {name}: RSS at {last} tokens {on[last]['rss_mb']} MB vs {on['1000']['rss_mb']} MB at 1,000 "
                  f"(target within 5%); tokens/s with memory {on['overall_tokens_per_s']} vs without "
                  f"{off['overall_tokens_per_s']} (target >= 85%)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
