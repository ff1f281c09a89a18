"""Write a story with a trained checkpoint: KV-cached sampling on the CPU, as long as you like.

Loads only the model tensors of a checkpoint (default: the newest `training/out/*/last.safetensors`), encodes the
prompt with the tokenizer stored in the checkpoint, and samples token by token (`generation.inference`): a KV cache
of block_size slots, a sliding window past the block (cost and memory per token stay flat), temperature, top-k,
top-p, a repetition penalty over a window of recent tokens, and weight-only int8 or fp16/bf16 weights. Same seed,
checkpoint and flags: the same text, byte for byte (the thread count and products pool, picked by timing, change
only the last bits of a float's rounding: the same 1,000 tokens either way on both shapes of bench/generate.py).
Several samples (`--num-samples`) are decoded together, up to `--batch` at a time; the thread count, and for
float32 models whether the weight products run in numpy's BLAS or in torch, are picked by timing a few steps
(`--threads` sets the count). The KV cache of float32 weights is kept in bfloat16 where torch's attention reads it
on a CPU with native bfloat16 (`--kv-cache auto`; mostly several samples decoded together): half the bytes per
step, a loss 1e-4 nats higher. With `--kv-cache fp32` each sample decoded together is the same text it would be
alone; with a bfloat16 cache a sample may part from its one-at-a-time text where two tokens are nearly tied.

The story goes to stdout (the prompt, then the continuation; samples separated by a line of dashes); tokens/s
and peak RSS go to stderr, and with `--stats-json` to a JSON file: tokens, tokens_per_s, peak_rss_mb, and the
mean ms per token over the 100 tokens ending at tokens 100, 500, 1000, 2000, 5000 (those reached).

Rolling memory (`--memory`, default auto: on for checkpoints trained with memory examples): as text leaves the
window it is folded into a short summary that stays at the front of the window (story_memory/rolling.py), so
the model still knows who is who thousands of tokens later, at flat memory and time per token.

**Reads:** the checkpoint; `--prompt-file` if given. Nothing under dataset/.
**Writes:** stdout; `--out-file` and `--stats-json` if given.
**Usage:**
    python scripts/generate.py --max_new_tokens 500
    python scripts/generate.py --prompt "Once upon a time" --stream --dtype int8 --seed 7
    python scripts/generate.py --checkpoint training/out/small --num-samples 8 --temperature 0.7 --top-k 40
    python scripts/generate.py --memory rolling --memory-log memory.jsonl --max-new-tokens 5000
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path


from common.cli import stage_main
from common.config import UserError, opt, read_user_file
from common.fsio import atomic_write_bytes, dumps_json
from common.paths import DatasetPaths
from generation.kv_decoder import CACHE_DTYPES, cache_dtype, cache_dtype_name
from generation.inference import LoadedModel, find_checkpoint, generate_ids, generate_rows, load_model
from generation.memory_window import schedule_of
from generation.sampling_config import SamplingConfig
from generation.threads import blas_products, decode_threads, pick_decoding
from story_memory.rolling import Schedule
from training.runtime import peak_rss_mb
from training.runtime import set_malloc_mmap_threshold

STAGE = "generate"
STAT_POSITIONS = (100, 500, 1000, 2000, 5000, 10000)  # per-token timings reported at these token counts
STAT_SPAN = 100  # ... as the mean over the tokens (STAT_SPAN of them) ending there
SEPARATOR = "\n" + "-" * 15 + "\n"


@dataclass
class GenerateConfig(SamplingConfig):
    """The shared sampling settings (checkpoint, max_new_tokens, temperature, top_k, top_p, repetition_penalty,
    repetition_window, seed, dtype, device: generation.sampling_config), then generate's own."""

    prompt: str = opt("", "text the story starts with (default: a fresh document)")
    prompt_file: str = opt("", "read the prompt from this UTF-8 file instead")
    pinned: int = opt(0, "keep the first N prompt tokens in view past the block (e.g. a title or summary)")
    num_samples: int = opt(1, "how many samples to write")
    stop_at_eot: bool = opt(True, "stop a sample at <|endoftext|>")
    stream: bool = opt(False, "print tokens as they are generated")
    threads: int = opt(0, "CPU threads while generating (0: auto, times a few steps at 1 thread and at every core "
                          "and keeps the faster; which wins depends on the model, --dtype and how many samples "
                          "are decoded together)")
    batch: int = opt(8, "decode up to this many samples together (the weights stream from memory once per step "
                        "for all of them); samples are decoded one at a time with --stream or rolling memory")
    memory: str = opt("auto", "rolling (text leaving the window is folded into a summary the model reads), off "
                              "(the window alone) or auto (rolling for checkpoints trained with memory)")
    memory_log: str = opt("", "with rolling memory: write each summary update (token position, summary, evicted "
                              "text, drift figures) to this JSON-lines file")
    kv_cache: str = opt("auto", "keep the keys and values of float32 weights in fp32, bf16 (half the bytes each "
                                "step reads) or auto (bf16 where torch runs the attention on a CPU with native "
                                "bf16: several samples decoded together, int8 weights)")
    out_file: str = opt("", "also write the text to this file")
    stats_json: str = opt("", "write tokens, tokens/s, peak RSS and per-token timings to this JSON file")


def read_prompt(cfg: GenerateConfig) -> str:
    if cfg.prompt and cfg.prompt_file:
        raise UserError("give --prompt or --prompt-file, not both")
    if cfg.prompt_file:
        try:
            return read_user_file(cfg.prompt_file, "prompt file").decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"prompt file {cfg.prompt_file} is not UTF-8") from None
    return cfg.prompt


class Pieces:
    """Turns ids into text as they come: holds back ids whose text is not complete yet (a byte-level tokenizer
    can split a character over several ids)."""

    def __init__(self, tokenizer):
        self.tok, self.pending = tokenizer, []

    def push(self, token: int) -> str:
        self.pending.append(token)
        text = self.tok.decode(self.pending)
        if text.endswith("\ufffd") and len(self.pending) < 4:
            return ""
        self.pending = []
        return text

    def flush(self) -> str:
        text, self.pending = self.tok.decode(self.pending) if self.pending else "", []
        return text


def memory_schedule(lm: LoadedModel, mode: str) -> Schedule | None:
    """The rolling schedule to generate with (None = the plain window); UserError for an unusable choice."""
    if mode not in ("auto", "rolling", "off"):
        raise UserError(f"memory must be rolling, off or auto, not {mode!r}")
    schedule = schedule_of(lm.state, lm.model.cfg.block_size) if mode != "off" else None
    if mode == "rolling" and schedule is None:
        raise UserError(f"{lm.path} was not trained with memory (memory_ratio 0): use --memory off, or train "
                        f"with --memory-ratio after the memory step")
    return schedule


def record_timings(marks: dict[int, float], timings: dict) -> None:
    """Mean ms per step over the STAT_SPAN steps ending at each STAT_POSITIONS position `marks` reached (the first
    sample's figure is kept)."""
    for pos in STAT_POSITIONS:
        if pos in marks and pos - STAT_SPAN in marks:
            timings.setdefault(str(pos), round((marks[pos] - marks[pos - STAT_SPAN]) / STAT_SPAN * 1000, 3))


def generate_sample(lm: LoadedModel, prompt_ids: list[int], cfg: GenerateConfig, seed: int, out,
                    timings: dict, schedule: Schedule | None = None,
                    memory_log: list | None = None) -> tuple[list[int], float]:
    """One sample: its new ids and the seconds spent generating them; streams to `out` when cfg.stream.
    `timings` gets {position: mean ms per token over the STAT_SPAN tokens ending there}; `memory_log` one
    record per summary update (rolling memory)."""
    marks: dict[int, float] = {}  # filled below; position 0 = the start
    pieces, ids = Pieces(lm.tokenizer), []
    sample = cfg.sample_config(cfg.stop_at_eot)
    start = marks[0] = time.perf_counter()
    stream = generate_ids(lm, prompt_ids, cfg.max_new_tokens, sample, seed, cfg.pinned, schedule, memory_log)
    for n, tok in enumerate(stream, 1):
        ids.append(tok)
        if n in STAT_POSITIONS or n + STAT_SPAN in STAT_POSITIONS:
            marks[n] = time.perf_counter()
        if cfg.stream:
            out.write(pieces.push(tok))
            out.flush()
    elapsed = time.perf_counter() - start
    if cfg.stream:
        out.write(pieces.flush())
    record_timings(marks, timings)
    return ids, elapsed


def generate_together(lm: LoadedModel, prompt_ids: list[int], cfg: GenerateConfig, seeds: list[int],
                      timings: dict) -> tuple[list[list[int]], float]:
    """Samples decoded together (generation.inference.generate_rows): each one's new ids and the seconds spent.
    `timings` gets {position: mean ms per step (one token of every row) over the STAT_SPAN steps ending there}."""
    marks: dict[int, float] = {}
    rows: list[list[int]] = [[] for _ in seeds]
    start = marks[0] = time.perf_counter()
    steps = generate_rows(lm, prompt_ids, cfg.max_new_tokens, cfg.sample_config(cfg.stop_at_eot), seeds,
                          cfg.pinned)
    for n, step in enumerate(steps, 1):
        for row, tok in zip(rows, step):
            if tok is not None:
                row.append(tok)
        if n in STAT_POSITIONS or n + STAT_SPAN in STAT_POSITIONS:
            marks[n] = time.perf_counter()
    elapsed = time.perf_counter() - start
    record_timings(marks, timings)
    return rows, elapsed


def run(cfg: GenerateConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Generate cfg.num_samples samples to stdout; returns counts (samples, tokens, tokens_per_s, peak_rss_mb)."""
    if cfg.max_new_tokens < 0 or cfg.num_samples < 1:
        raise UserError("max_new_tokens must be >= 0 and num_samples >= 1")
    if cfg.threads < 0 or cfg.batch < 1:
        raise UserError("threads must be >= 0 (0: auto) and batch >= 1")
    if cfg.memory not in ("auto", "rolling", "off"):
        raise UserError(f"memory must be rolling, off or auto, not {cfg.memory!r}")
    if cfg.kv_cache not in CACHE_DTYPES:
        raise UserError(f"kv_cache must be one of {', '.join(CACHE_DTYPES)}, not {cfg.kv_cache!r}")
    cfg.sample_config()  # out-of-range sampling settings fail before the model loads
    prompt = read_prompt(cfg)
    t0 = time.perf_counter()
    lm = load_model(find_checkpoint(cfg.checkpoint), cfg.dtype, cfg.device)
    load_s = time.perf_counter() - t0
    prompt_ids = lm.tokenizer.encode(prompt, errors="ignore").tolist()
    schedule = memory_schedule(lm, cfg.memory)
    memory_log: list | None = [] if cfg.memory_log and schedule is not None else None
    together = 1 if cfg.stream or schedule is not None else min(cfg.batch, cfg.num_samples)
    with cache_dtype(cfg.kv_cache):
        return decode(cfg, lm, prompt, prompt_ids, schedule, memory_log, together, load_s)


def decode(cfg: GenerateConfig, lm: LoadedModel, prompt: str, prompt_ids: list[int], schedule: Schedule | None,
           memory_log: list | None, together: int, load_s: float) -> dict:
    """run()'s decoding, output and stats once the model is loaded (under the chosen KV cache setting)."""
    threads, in_torch = pick_decoding(lm.model, together, [cfg.threads] if cfg.threads else None)
    out, texts, timings = sys.stdout, [], {}
    tokens, gen_s = 0, 0.0
    with decode_threads(threads, lm.model, in_torch):
        kv_cache = cache_dtype_name(lm.model)
        for first in range(0, cfg.num_samples, together):
            seeds = [cfg.seed + i for i in range(first, min(first + together, cfg.num_samples))]
            if len(seeds) > 1:
                rows, elapsed = generate_together(lm, prompt_ids, cfg, seeds, timings)
                for i, ids in enumerate(rows, first):
                    texts.append(prompt + lm.tokenizer.decode(ids))
                    out.write((SEPARATOR if i else "") + texts[-1])
                    tokens += len(ids)
                gen_s += elapsed
                continue
            i = first
            if i:
                out.write(SEPARATOR)
            if cfg.stream:
                out.write(prompt)
                out.flush()
            first_record = len(memory_log) if memory_log is not None else 0
            ids, elapsed = generate_sample(lm, prompt_ids, cfg, cfg.seed + i, out, timings, schedule, memory_log)
            for record in (memory_log or [])[first_record:]:
                record["sample"] = i
            text = prompt + lm.tokenizer.decode(ids)
            if not cfg.stream:
                out.write(text)
            texts.append(text)
            tokens, gen_s = tokens + len(ids), gen_s + elapsed
    out.write("\n")
    out.flush()
    stats = {"tokens": tokens, "tokens_per_s": round(tokens / gen_s, 1) if gen_s else 0.0,
             "peak_rss_mb": round(peak_rss_mb(), 1), "per_token_ms": timings, "samples": cfg.num_samples,
             "decoded_together": together, "load_s": round(load_s, 3), "dtype": cfg.dtype, "threads": threads,
             "products": "torch" if in_torch or not blas_products(lm.model) else "numpy",
             "kv_cache": kv_cache,
             "checkpoint": str(lm.path), "step": lm.state.get("step"),
             "memory": "rolling" if schedule is not None else "off"}
    print(f"generate: {tokens:,} tokens at {stats['tokens_per_s']:,.1f} tokens/s, peak RSS "
          f"{stats['peak_rss_mb']:,.0f} MB ({cfg.dtype}, {threads} thread{'s' if threads > 1 else ''}, products in "
          f"{stats['products']}, KV cache {stats['kv_cache']}, "
          f"{together} sample{'s' if together > 1 else ''} at a time, {lm.path})", file=sys.stderr)
    if cfg.out_file:
        atomic_write_bytes(Path(cfg.out_file).expanduser(), (SEPARATOR.join(texts) + "\n").encode("utf-8"))
    if memory_log is not None:
        lines = "".join(dumps_json(r) + "\n" for r in memory_log)
        atomic_write_bytes(Path(cfg.memory_log).expanduser(), lines.encode("utf-8"))
    if cfg.stats_json:
        atomic_write_bytes(Path(cfg.stats_json).expanduser(), (dumps_json(stats) + "\n").encode("utf-8"))
    return {"samples": cfg.num_samples, "tokens": tokens, "tokens_per_s": stats["tokens_per_s"],
            "peak_rss_mb": stats["peak_rss_mb"]}


def main(argv: list[str] | None = None) -> int:
    # glibc's adaptive threshold would keep the freed per-layer load copies in the heap (~17 MB of RSS on the
    # small preset); decoding allocates only small blocks, so a fixed 1 MB threshold costs it nothing. Set here,
    # in the command's own process only (run() may share a process with training, which wants the default).
    set_malloc_mmap_threshold(1)
    # primary=False: no dataset lock (generating must not wait for a training run on the same dataset) and no
    # summary line on stdout (stdout is the story; run() prints its figures to stderr).
    return stage_main(STAGE, GenerateConfig, run, argv, __doc__, "generate.py", primary=False)


if __name__ == "__main__":
    sys.exit(main())
