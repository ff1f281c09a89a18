"""The training loop: steps, the progress bar, evaluations, checkpoints, budgets, the final summary.

`fit(cfg, paths, out_dir)` is what `training/train.py`'s `run()` calls; it checks the config (the one place it is
checked), joins the DDP job if any, builds the Trainer and runs the loop. A run ends at `max_iters`, when
`max_minutes` is spent, or at a first Ctrl-C; each of those stops at a step boundary, evaluates and writes the
last checkpoint, so the next run continues exactly there. A loss (or weight) that is no longer finite stops the run
with a one-line UserError before anything more is logged or saved: the last checkpoint and best stay finite.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from common.paths import DatasetPaths
from training.config import TrainConfig, check_config
from training.metrics import PLOT, append_metrics, plot_losses
from training.runtime import PEAK_FACTOR, peak_rss_mb, setup_distributed
from training.trainer import Trainer

log = logging.getLogger("miniature_memory.train")
PLOT_EVERY_S = 120.0  # redraw the loss curve at an evaluation at most this often (and always at the end)


@dataclass
class FitResult:
    """What a run leaves: its counts (the stage summary), the trained model (rank-local), its final step."""

    counts: dict
    model: torch.nn.Module
    step: int
    out_dir: Path


@dataclass
class Interval:
    """Tokens and step time since the last evaluation (or progress-bar refresh), and what the loop remembers
    between evaluations."""

    tokens: int = 0
    train_s: float = 0.0
    plotted: float = 0.0                # time.monotonic() of the last loss-curve drawing
    last_loss: float | None = None      # the latest evaluation's loss (val, else train)


@contextmanager
def interrupt_flag():
    """A first Ctrl-C asks the loop to stop at the next step boundary (after a checkpoint); a second aborts."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def fit(cfg: TrainConfig, paths: DatasetPaths, out_dir: Path) -> FitResult:
    """Train per cfg on paths.processed into out_dir (resuming from its last checkpoint); returns the result."""
    check_config(cfg)
    dist = setup_distributed(cfg.device)
    finished = False
    try:
        result = run_loop(Trainer(cfg, paths, out_dir, dist))
        finished = True
        return result
    finally:
        if dist.initialized_here:
            import torch.distributed as tdist
            # No rank tears its side down while a peer may still wait in a collective; after a failure a peer may
            # be gone, so no barrier then. (The process's own exit: runtime.exit_process.)
            if finished:
                tdist.barrier()
            tdist.destroy_process_group()


def say(t: Trainer, msg: str) -> None:
    """A line on stderr from rank 0 that does not break the progress bar."""
    if t.dist.is_main:
        tqdm.write(msg, file=sys.stderr)


def millions(n: float) -> str:
    return f"{n / 1e6:,.2f}M"


def print_header(t: Trainer) -> None:
    c, m, e = t.cfg, t.model.cfg, t.estimate
    say(t, f"train: model {millions(t.model.num_params())} parameters ({m.n_layer} layers, width {m.n_embd}, "
           f"{m.n_head} heads, block {m.block_size}, vocab {m.vocab_size:,}; {m.norm}, {m.pos}, {m.mlp})")
    limit = f" (limit {t.limit_mb:,} MB)" if t.limit_mb else ""
    say(t, f"train: peak memory estimate {t.est_total:,.0f} MB = process {t.baseline_mb:,.0f} + {PEAK_FACTOR:g} x "
           f"(weights {e['weights']:,.0f} + grads {e['grads']:,.0f} + AdamW {e['optimizer']:,.0f} + activations "
           f"{e['activations']:,.0f}){limit}")
    say(t, f"train: {t.device}, {t.threads} threads, {str(t.amp_dtype).replace('torch.', '')}; "
           f"{t.tokens_per_step:,} tokens/step = batch {c.batch_size} x block {c.block_size} x accum "
           f"{c.grad_accum} x {t.dist.world} process{'es' if t.dist.world > 1 else ''}")
    say(t, f"train: data {len(t.data['train']):,} train / {len(t.data['val']):,} val tokens; out dir {t.out_dir}")
    if t.resumed:
        grown = f", {t.new_ids} new token ids" if t.new_ids else ""
        changed = f" (new data since the checkpoint{grown})" if t.data_changed or t.new_ids else ""
        say(t, f"train: resumed at step {t.step:,} from {t.last}{changed}")
    else:
        say(t, f"train: starting from random weights (seed {c.seed})")


def evaluate_and_log(t: Trainer, iv: Interval) -> bool:
    """Evaluate, append a metrics record, track the best loss; True when this step is the best so far. A loss
    that is not finite stops the run (UserError) before anything is logged or saved."""
    losses = t.evaluate()
    for split, loss in losses.items():
        if loss is not None and not math.isfinite(loss):
            raise t.diverged(f"{split} loss", loss)
    key = losses["val"] if losses["val"] is not None else losses["train"]
    improved = t.step > 0 and key is not None and (t.best_loss is None or key < t.best_loss)
    if improved:
        t.best_loss, t.best_step = key, t.step
    rate = iv.tokens / iv.train_s if iv.train_s > 0 else None
    rec = {"step": t.step, "elapsed_s": round(t.elapsed_s, 3), "tokens_seen": t.tokens_seen,
           "train_loss": losses["train"], "val_loss": losses["val"], "lr": t.lr(),
           "tokens_per_s": round(rate, 1) if rate else None, "peak_rss_mb": round(peak_rss_mb(), 1)}
    iv.tokens, iv.train_s = 0, 0.0
    if t.dist.is_main:
        append_metrics(t.metrics_path, rec)
        val = f"{losses['val']:.4f}" if losses["val"] is not None else "n/a"
        say(t, f"step {t.step:,}: train loss {losses['train']:.4f}, val loss {val}"
               + (f", {rate:,.0f} tokens/s" if rate else "") + (" (best)" if improved else ""))
        if t.cfg.plot and time.monotonic() - iv.plotted > PLOT_EVERY_S:
            plot_losses(t.metrics_path, t.out_dir / PLOT)
            iv.plotted = time.monotonic()
    iv.last_loss = key
    return improved


def run_loop(t: Trainer) -> FitResult:
    """Train from t.step up to max_iters or the time budget; evaluate, checkpoint, summarise."""
    cfg = t.cfg
    wall0 = time.monotonic()
    start_step, start_tokens = t.step, t.tokens_seen
    print_header(t)
    iv = Interval(plotted=time.monotonic())
    if t.step >= cfg.max_iters:
        note = " (new data since the checkpoint)" if t.data_changed or t.new_ids else ""
        say(t, f"train: already at step {t.step:,} of max_iters={cfg.max_iters:,}{note}; raise max_iters to "
               f"train more")
        return FitResult(counts_of(t, 0, iv), t.model, t.step, t.out_dir)
    if not t.resumed:
        evaluate_and_log(t, iv)
    deadline = wall0 + cfg.max_minutes * 60 if cfg.max_minutes > 0 else None
    bar = tqdm(total=cfg.max_iters, initial=t.step, desc="train", unit="step", dynamic_ncols=True,
               disable=None if t.dist.is_main else True)
    window = Interval()
    ema = None
    interrupted = stopped_by_time = False
    mark = time.monotonic()
    with interrupt_flag() as flag, closing(bar):
        while t.step < cfg.max_iters:
            s0 = time.monotonic()
            loss = t.train_step()
            dt = time.monotonic() - s0
            t.step += 1
            t.tokens_seen += t.tokens_per_step
            now = time.monotonic()
            t.elapsed_s += now - mark
            mark = now
            for acc in (iv, window):
                acc.train_s += dt
                acc.tokens += t.tokens_per_step
            ema = loss if ema is None else 0.9 * ema + 0.1 * loss
            bar.update(1)
            if t.step % cfg.log_interval == 0 or t.step == start_step + 1:
                bar.set_postfix(loss=f"{ema:.3f}", tok_s=f"{window.tokens / max(window.train_s, 1e-9):,.0f}",
                                lr=f"{t.lr():.1e}", refresh=False)
                window = Interval()
            stopped_by_time = deadline is not None and now >= deadline
            # fp16's grad scaler skips a step whose loss overflowed and lowers its scale: only without one does a
            # non-finite loss mean the weights are lost (the scaled run is still guarded at evaluation and save)
            stop, bad = flag.is_set() or stopped_by_time, not math.isfinite(loss) and not t.scaler.is_enabled()
            if t.dist.world > 1:  # every rank stops at the same step
                import torch.distributed as tdist
                flags = t._all_reduce(torch.tensor([float(stop), float(bad)]), op=tdist.ReduceOp.MAX)
                stop, bad = bool(flags[0].item()), bool(flags[1].item())
            if bad:  # the weights are no longer finite either: keep the last checkpoint as it is
                raise t.diverged("training loss", loss)
            if t.step % cfg.eval_interval == 0 or t.step == cfg.max_iters or stop:
                t.save(best=evaluate_and_log(t, iv))
            elif cfg.ckpt_interval and t.step % cfg.ckpt_interval == 0:
                t.save(best=False)
            if stop:
                interrupted = flag.is_set()
                break
    if t.dist.is_main and cfg.plot:
        plot_losses(t.metrics_path, t.out_dir / PLOT)
    print_summary(t, start_step, start_tokens, time.monotonic() - wall0, interrupted, stopped_by_time, iv)
    if interrupted:
        raise KeyboardInterrupt
    return FitResult(counts_of(t, t.step - start_step, iv), t.model, t.step, t.out_dir)


def counts_of(t: Trainer, steps: int, iv: Interval) -> dict:
    counts = {"steps": steps, "at_step": t.step, "tokens_seen": t.tokens_seen}
    if iv.last_loss is not None:
        counts["loss"] = round(iv.last_loss, 4)
    if t.best_loss is not None:
        counts["best_loss"] = round(t.best_loss, 4)
    counts.update({"new_ids": t.new_ids, "resumed": t.resumed, "finished": t.step >= t.cfg.max_iters})
    return counts


def print_summary(t: Trainer, start_step: int, start_tokens: int, wall: float, interrupted: bool,
                  by_time: bool, iv: Interval) -> None:
    cfg = t.cfg
    if interrupted:
        why = "interrupted"
    elif by_time:
        why = f"time budget of {cfg.max_minutes:g} min spent"
    else:
        why = "done"
    run_tokens = t.tokens_seen - start_tokens
    say(t, f"train: {why} at step {t.step:,} of {cfg.max_iters:,} (+{t.step - start_step:,} this run)")
    best = f"best {'val' if len(t.data['val']) > cfg.block_size else 'train'} loss {t.best_loss:.4f} at step " \
           f"{t.best_step:,}" if t.best_loss is not None else "no evaluation yet"
    say(t, f"train: {millions(t.model.num_params())} params, {t.tokens_seen:,} tokens seen "
           f"({run_tokens:,} this run), {best}")
    say(t, f"train: peak RSS {peak_rss_mb():,.0f} MB, wall {wall:,.1f} s this run ({t.elapsed_s:,.1f} s of "
           f"training in total), {run_tokens / max(wall, 1e-9):,.0f} tokens/s overall; checkpoints in {t.out_dir}")
