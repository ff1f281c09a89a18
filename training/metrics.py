"""metrics.jsonl and loss_curve.png of a run: append a record, trim the records a killed run wrote past its
last checkpoint, draw the loss curve."""

from __future__ import annotations

import io
import logging

from common.config import UserError
from common.fsio import append_jsonl, atomic_write_bytes, read_jsonl, write_jsonl

log = logging.getLogger("miniature_memory.train")
METRICS, PLOT = "metrics.jsonl", "loss_curve.png"


def trim_metrics(path, last_step: int) -> int:
    """Drop records after `last_step` (written by a run killed before its next checkpoint); returns how many."""
    recs = list(read_jsonl(path))
    keep = [r for r in recs if isinstance(r.get("step"), int) and r["step"] <= last_step]
    if len(keep) != len(recs):
        write_jsonl(path, keep)
    return len(recs) - len(keep)


def append_metrics(path, record: dict) -> None:
    """Append one metrics record; a failed write (disk full) is a one-line UserError (a torn line it may leave is
    cut off by the next append, and records past the last checkpoint are trimmed on resume)."""
    try:
        append_jsonl(path, [record])
    except OSError as e:
        raise UserError(f"cannot append to {path} ({e.strerror or e}): training stopped; the last checkpoint is "
                        f"kept, re-run once the folder can take it (free space?) to continue") from None


def plot_losses(metrics_path, png_path) -> bool:
    """Draw train/val loss against step from metrics.jsonl into a PNG (Agg backend, no pyplot state)."""
    recs = [r for r in read_jsonl(metrics_path) if isinstance(r.get("step"), int)]
    if not recs:
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for key, label in (("train_loss", "train"), ("val_loss", "val")):
        pts = [(r["step"], r[key]) for r in recs if isinstance(r.get(key), (int, float))]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 40 else None, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    last = recs[-1]
    ax.set_title(f"step {last['step']:,}, {last.get('tokens_seen', 0):,} tokens")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    try:
        atomic_write_bytes(png_path, buf.getvalue())
    except OSError as e:  # only a picture: training goes on (a checkpoint write would stop it, in one line)
        log.warning(f"train: cannot write {png_path} ({e.strerror or e}); the loss curve is not updated")
        return False
    return True


