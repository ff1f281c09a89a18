"""Evaluate a checkpoint: validation loss in nats and bits, and how repetitive its stories are next to real text.

1. Val loss on `processed/val.bin`: fixed, non-overlapping windows of block_size tokens from the start of the
   file (deterministic, unlike training's random batches), at most `max_eval_tokens` predicted tokens, batched,
   no gradients. Bits = nats / ln 2. The unit: char tokenizer -> bits per character, byte tokenizer -> bits per
   byte (one token each, so bits per token); BPE -> bits per byte of the decoded text. A special token (end of
   text, scene break) counts as one character/byte.
2. `num_samples` stories generated from an empty context (the end-of-text id), seeds seed .. seed+N-1, through
   `generation.inference.generate_ids`, scored with `generation/story_metrics.py` (distinct-n over words, repeated
   4-grams, longest repeated cycle, tail loops, sentence length).
3. The same metrics on N held-out chunks of `processed/val.txt`, each as long (in characters) as its sample, taken
   at evenly spaced offsets (document separators become blank lines): the level a good model should reach.
4. With `--memory-probes FILE`: recall@1 of each probe's answer among its distractors, reading the context through
   the rolling summary and through the window alone, bucketed by distance (generation/memory_eval.py); the
   report gains `memory_probes: {with_memory: {recall, by_distance}, without_memory: {...}, chance, probes}`.

A second run with the same checkpoint (by content hash), dataset and settings does no work unless --force.

**Reads:** a checkpoint (default: the newest `training/out/*/last.safetensors`), `<dataset>/processed/`.
**Writes:** `report.json` and `report.md` in `report_dir` (default: `<checkpoint folder>/eval/`); prints the table.
**Usage:**
    python scripts/evaluate.py
    python scripts/evaluate.py --checkpoint training/out/small --num-samples 16 --max-new-tokens 500
    python scripts/evaluate.py --dtype int8 --report-dir /tmp/eval-int8
    python scripts/evaluate.py --memory-probes probes.jsonl --num-samples 0
"""

import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.cli import require_dataset, stage_main
from common.config import UserError, config_dict, fingerprint, opt
from common.fsio import atomic_write_text, read_json, sha256_file, write_json
from common.paths import DatasetPaths
from common.text_format import EOT
from generation import story_metrics
from generation.memory_window import schedule_of
from generation.sampling_config import SamplingConfig
from generation.val_loss import units_of, val_loss

STAGE = "evaluate"
REPORT_FORMAT, REPORT_VERSION = "miniature-memory/eval-report", 1
log = logging.getLogger("miniature_memory.evaluate")
READ_SLACK = 4096  # extra bytes read around a held-out chunk (to start it at a word boundary)


@dataclass
class EvaluateConfig(SamplingConfig):
    """The shared sampling settings (checkpoint, max_new_tokens, temperature, top_k, top_p, repetition_penalty,
    repetition_window, seed, dtype, device: generation.sampling_config), then evaluate's own."""

    max_new_tokens: int = opt(300, "length of each generated story (tokens)")
    num_samples: int = opt(8, "stories generated and scored (seeds seed .. seed + num_samples - 1)")
    max_eval_tokens: int = opt(100_000, "most val.bin tokens whose loss is measured (0 = all)")
    batch_size: int = opt(8, "windows of block_size tokens per forward pass when measuring val loss")
    report_dir: str = opt("", "where report.json and report.md go (default: <checkpoint folder>/eval/)")
    memory_probes: str = opt("", "a probes file (JSON lines: context, answer, distractors, last_mention; "
                                 "scripts/make_probes.py writes them): report recall@1 with the rolling memory "
                                 "and with the window alone")
    memory: str = opt("auto", "samples: rolling, off or auto (rolling for checkpoints trained with memory)")


# --------------------------------------------------------------------------------------------- held-out text
def reference_chunks(path: Path, lengths: list[int], eot: str = EOT) -> list[tuple[int, str]]:
    """(byte offset, text) of one chunk of `path` per wanted length in characters, at evenly spaced offsets,
    starting after the first whitespace there (a whole word), document separators replaced by blank lines.
    Reads only the bytes it needs; a chunk that would run past the end is taken from the file's end instead
    (and is shorter only when the whole file is)."""
    size = path.stat().st_size

    def read_at(f, offset: int, want: int) -> str:
        f.seek(offset)
        text = f.read(want).decode("utf-8", errors="ignore").replace(eot, "\n\n")
        if offset > 0:  # the read may start inside a word (or a character): start at the next word
            cut = next((k for k, c in enumerate(text) if c.isspace()), len(text))
            text = text[cut:].lstrip()
        return text

    out = []
    with open(path, "rb") as f:
        for i, n in enumerate(lengths):
            want = 4 * n + READ_SLACK  # a character is at most 4 UTF-8 bytes; slack for the word-boundary cut
            offset = i * size // max(len(lengths), 1)
            text = read_at(f, offset, want)
            if len(text) < n and offset > 0:
                offset = max(0, size - want)
                text = read_at(f, offset, want)
            out.append((offset, text[:n]))
    return out


# --------------------------------------------------------------------------------------------- report
ROWS = (  # (label, aggregate key, format)
    ("distinct-1 (words)", "distinct_1", "{:.3f}"),
    ("distinct-2 (words)", "distinct_2", "{:.3f}"),
    ("distinct-3 (words)", "distinct_3", "{:.3f}"),
    ("repeated 4-grams (words)", "repeated_4gram_fraction", "{:.3f}"),
    ("avg sentence length (words)", "avg_sentence_words", "{:.1f}"),
    ("longest repeated cycle (chars, mean)", "longest_cycle_len", "{:.1f}"),
    ("longest repeated cycle (chars, max)", "max_longest_cycle_len", "{:,}"),
    ("length (chars, mean)", "chars", "{:.0f}"),
)


def _cell(value, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def markdown_report(report: dict) -> str:
    """The short Markdown summary of a report.json document: val loss line and the metrics table."""
    ck, val = report["checkpoint"], report["val"]
    gen, ref = report["samples"]["aggregate"], report["reference"]["aggregate"]
    lines = [f"## Evaluation: {ck['path']} (step {ck['step']}, {ck['dtype']})", "",
             f"val loss {val['loss']:.4f} nats/token = {_cell(val['bits_per_unit'], '{:.4f}')} bits/{val['unit']} "
             f"over {val['tokens']:,} tokens of processed/val.bin", "",
             f"| metric | generated ({gen['texts']}) | held-out text ({ref['texts']}) |", "|---|---:|---:|"]
    lines += [f"| {label} | {_cell(gen[key], fmt)} | {_cell(ref[key], fmt)} |" for label, key, fmt in ROWS]
    lines.append(f"| ends in a loop | {gen['tail_loops']} / {gen['texts']} | {ref['tail_loops']} / {ref['texts']} |")
    mp = report.get("memory_probes")
    if mp:
        lines += ["", f"memory probes ({mp['probes']:,}, chance {_cell(mp['chance'], '{:.3f}')}): recall@1 "
                      f"{_cell(mp['with_memory']['recall'], '{:.3f}')} with rolling memory, "
                      f"{_cell(mp['without_memory']['recall'], '{:.3f}')} with the window alone", "",
                  "| distance (blocks) | probes | with memory | window alone |", "|---|---:|---:|---:|"]
        for k, v in mp["with_memory"]["by_distance"].items():
            w = mp["without_memory"]["by_distance"].get(k, {})
            lines.append(f"| {k} | {v['probes']} | {v['recall']:.3f} | {_cell(w.get('recall'), '{:.3f}')} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- the stage
def check_tokens(lm, ds_tokenizer, tokens: np.ndarray, vocab: int, ckpt: Path, processed: Path) -> None:
    """UserError when val.bin's ids do not mean what the checkpoint's ids mean, or exceed its vocabulary."""
    ck = lm.tokenizer
    if not (ck.extends(ds_tokenizer) or ds_tokenizer.extends(ck)):
        raise UserError(f"{ckpt} was trained with another tokenizer than {processed} "
                        f"({ck.to_dict().get('type')} vs {ds_tokenizer.to_dict().get('type')}): "
                        f"evaluate on the dataset it was trained on (--dataset-dir)")
    top = int(tokens.max()) if len(tokens) else 0
    if top >= vocab:
        raise UserError(f"val.bin holds token id {top}, beyond the model's vocabulary of {vocab}: the dataset "
                        f"gained characters since {ckpt} was trained; resume training first")


def generate_samples(lm, cfg: EvaluateConfig, schedule=None) -> tuple[list[dict], float]:
    """Generated samples ({seed, tokens, text}) and the seconds it took (with rolling memory when `schedule`)."""
    from generation.inference import generate_ids
    sample = cfg.sample_config()
    eot = lm.tokenizer.eot_id
    samples, start = [], time.perf_counter()
    for i in range(cfg.num_samples):
        ids = list(generate_ids(lm, [eot], cfg.max_new_tokens, sample, seed=cfg.seed + i, memory=schedule))
        samples.append({"seed": cfg.seed + i, "tokens": len(ids), "text": lm.tokenizer.decode(ids)})
    return samples, time.perf_counter() - start


def memory_probe_report(lm, cfg: EvaluateConfig, block_size: int, meta: dict) -> dict:
    """Probe recall with and without the rolling memory (generation/memory_eval.py). A checkpoint trained
    without memory is read with the default schedule (how much a summary helps a model never taught to read
    one)."""
    from generation.memory_eval import probe_recall
    from story_memory.probes import read_probes
    from story_memory.rolling import make_schedule
    from story_memory.summarize import CHARS_PER_BPE_TOKEN, DEFAULT_BUDGET_TOKENS
    probes = read_probes(cfg.memory_probes)
    if not probes:
        raise UserError(f"{cfg.memory_probes} holds no probes")
    schedule = schedule_of(lm.state, block_size)
    trained = schedule is not None
    if schedule is None:
        kind = lm.tokenizer.to_dict().get("type")
        budget = DEFAULT_BUDGET_TOKENS * (1 if kind == "bpe" else CHARS_PER_BPE_TOKEN)
        try:
            schedule = make_schedule(block_size, budget)
        except ValueError as e:
            raise UserError(f"memory probes: {e}") from None
    from tqdm import tqdm
    with tqdm(total=len(probes), desc="evaluate: memory probes", unit="probe", disable=None) as bar:
        out = probe_recall(lm.model, lm.tokenizer, block_size, schedule, probes, bar.update)
    out.update({"file": str(cfg.memory_probes), "trained_with_memory": trained, "budget": schedule.budget,
                "update_every": schedule.update_every})
    return out


def report_counts(report: dict) -> dict:
    """The stage's summary counts, read off a report: tokens scored, val loss, bits per unit, samples, loops."""
    val = report["val"]
    bits = val["bits_per_unit"]
    return {"val_tokens": val["tokens"], "val_loss": round(val["loss"], 4),
            f"bits_per_{val['unit']}": None if bits is None else round(bits, 4),
            "samples": report["samples"]["aggregate"]["texts"],
            "tail_loops": report["samples"]["aggregate"]["tail_loops"]}


def check_config(cfg: EvaluateConfig) -> None:
    """UserError for settings that cannot work (negative counts, out-of-range sampling, unknown dtype)."""
    if cfg.num_samples < 0 or cfg.max_new_tokens < 1 or cfg.batch_size < 1 or cfg.max_eval_tokens < 0:
        raise UserError("num_samples must be >= 0, max_new_tokens and batch_size >= 1, max_eval_tokens >= 0")
    if cfg.memory not in ("auto", "rolling", "off"):
        raise UserError(f"memory must be rolling, off or auto, not {cfg.memory!r}")
    if cfg.memory_probes and not Path(cfg.memory_probes).expanduser().is_file():
        raise UserError(f"memory probes file not found: {cfg.memory_probes}")
    cfg.sample_config()


def run(cfg: EvaluateConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Measure val loss and sample quality of a checkpoint; write report.json + report.md; returns counts."""
    from model.token_files import load_meta, load_tokenizer, open_tokens
    from generation.inference import find_checkpoint, load_model
    check_config(cfg)
    ckpt = find_checkpoint(cfg.checkpoint)
    require_dataset(paths)
    meta = load_meta(paths.processed)
    tokens = open_tokens(paths.processed, "val", meta)
    val_txt = paths.processed / "val.txt"
    if len(tokens) < 2 or not val_txt.is_file():
        raise UserError(f"the validation split in {paths.processed} is empty: re-run prepare with a larger "
                        f"--val-fraction (or more documents)")
    report_dir = Path(cfg.report_dir).expanduser().resolve() if cfg.report_dir else ckpt.parent / "eval"
    ckpt_sha = sha256_file(ckpt)
    probes_sha = sha256_file(Path(cfg.memory_probes).expanduser()) if cfg.memory_probes else None
    key = fingerprint({"config": {k: v for k, v in config_dict(cfg).items() if k != "report_dir"},
                       "checkpoint": ckpt_sha, "data": meta.get("fingerprint"), "version": REPORT_VERSION,
                       "probes": probes_sha})
    try:
        old = read_json(report_dir / "report.json") if (report_dir / "report.md").is_file() else None
    except (ValueError, OSError):
        old = None  # unreadable: evaluate again and replace it
    if not force and isinstance(old, dict) and old.get("fingerprint") == key:
        print((report_dir / "report.md").read_text(encoding="utf-8"), end="")
        log.info(f"evaluate: {ckpt} already evaluated with these settings ({report_dir}); --force redoes it")
        return {"unchanged": True, **report_counts(old)}

    lm = load_model(ckpt, dtype=cfg.dtype, device=cfg.device)
    mc = lm.state.get("model_config", {})
    block_size, vocab = int(mc["block_size"]), int(mc["vocab_size"])
    check_tokens(lm, load_tokenizer(paths.processed, meta), tokens, vocab, ckpt, paths.processed)

    t0 = time.perf_counter()
    loss, scored, n_windows = val_loss(lm.model, tokens, block_size, cfg.max_eval_tokens, cfg.batch_size,
                                       cfg.device)
    val_s = time.perf_counter() - t0
    unit, units = units_of(lm.tokenizer, np.asarray(tokens[1:1 + scored]))
    bits = loss * scored / math.log(2)  # total bits over the scored tokens
    schedule = None if cfg.memory == "off" else schedule_of(lm.state, block_size)
    if cfg.memory == "rolling" and schedule is None:
        raise UserError(f"{ckpt} was not trained with memory: use --memory off or auto")
    samples, gen_s = generate_samples(lm, cfg, schedule)
    probe_report = memory_probe_report(lm, cfg, block_size, meta) if cfg.memory_probes else None
    refs = reference_chunks(val_txt, [len(s["text"]) for s in samples])
    sample_rows, sample_agg = story_metrics.corpus_metrics(s["text"] for s in samples)
    ref_rows, ref_agg = story_metrics.corpus_metrics(text for _, text in refs)
    gen_tokens = sum(s["tokens"] for s in samples)
    val = {"loss": loss, "tokens": scored, "windows": n_windows, "block_size": block_size,
           "bits_per_token": loss / math.log(2), "unit": unit, "units": units,
           "bits_per_unit": bits / units if units else None}
    report = {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "fingerprint": key,
        "config": config_dict(cfg),
        "checkpoint": {"path": str(ckpt), "sha256": ckpt_sha, "step": lm.state.get("step"),
                       "tokenizer": lm.tokenizer.to_dict().get("type"), "dtype": lm.dtype,
                       "data_fingerprint": (lm.state.get("data") or {}).get("fingerprint")},
        "dataset": {"processed": str(paths.processed), "fingerprint": meta.get("fingerprint"),
                    "val_tokens": int(len(tokens))},
        "val": val,
        "samples": {"prompt": "", "aggregate": sample_agg,
                    "items": [{**s, "metrics": m} for s, m in zip(samples, sample_rows)]},
        "reference": {"source": "processed/val.txt", "aggregate": ref_agg,
                      "items": [{"offset": off, "chars": len(text), "metrics": m}
                                for (off, text), m in zip(refs, ref_rows)]},
        "timing": {"val_s": round(val_s, 3), "generate_s": round(gen_s, 3),
                   "tokens_per_s": round(gen_tokens / gen_s, 1) if gen_s > 0 else None},
    }
    report["samples"]["memory"] = "rolling" if schedule is not None else "off"
    if probe_report is not None:
        report["memory_probes"] = probe_report
    md = markdown_report(report)
    atomic_write_text(report_dir / "report.md", md)
    write_json(report_dir / "report.json", report)  # last: its fingerprint marks the pair complete and current
    print(md, end="")
    log.info(f"evaluate: report in {report_dir}")
    return report_counts(report)


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, EvaluateConfig, run, argv, __doc__, "evaluate.py")


if __name__ == "__main__":
    sys.exit(main())
