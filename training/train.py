"""Train the GPT of `model/gpt.py` on a prepared dataset; resumes from the last checkpoint by default.

Random windows of `block_size + 1` tokens are drawn from the memory-mapped processed/train.bin by a seeded
generator whose state travels in the checkpoint, so a run that is stopped (budget, Ctrl-C, kill -9) and started
again ends with bit-identical weights to one that never stopped (same config, thread count and hardware).
When prepare has added data since the checkpoint, training continues on the new data; new characters get new
embedding/output rows (old rows and their optimizer state are kept). Nothing restarts from random weights
unless `--init scratch` is given (it deletes the old checkpoints and metrics of that output folder). A loss that
turns NaN or infinite stops the run in one line without saving, keeping the last (finite) checkpoint; a checkpoint
that cannot be written (disk full) stops it in one line too, leaving the previous one intact.

Config: a flat YAML of TrainConfig keys (`training/configs/<preset>.yaml`), flags in kebab-case override it. The
model shape is given by flat keys (n_layer, n_embd, ...: the fields of `model.gpt.ModelConfig`). `preset:
NAME` takes training/configs/NAME.yaml as the base that every other given key overrides, so a run.py profile
can say `train: {preset: tiny, max_minutes: 3}`. `--force` changes nothing here: training always resumes
(use `--init scratch` to start over).

Device: `device: auto` uses CUDA when present (bf16 autocast, TF32; fp16 with a grad scaler on cards without
bf16), else the CPU in float32. Multi-GPU / multi-node: `torchrun --nproc-per-node N training/train.py ...`
(DDP over NCCL, gloo on CPU); only rank 0 writes checkpoints, metrics and the plot.

**Reads:** `<dataset>/processed/{train,val}.bin` and `meta.json`; `<out-dir>/last.safetensors` when resuming.
**Writes:** `<out-dir>/last.safetensors`, `best.safetensors`, `metrics.jsonl`, `loss_curve.png`
(default out-dir: `training/out/<name or preset or 'default'>`, git-ignored).
**Usage:**
    python training/train.py --config training/configs/tiny.yaml
    python training/train.py --config training/configs/small.yaml --max-minutes 30 --dataset-dir /data/stories
    python training/train.py --preset tiny --max-iters 500 --out-dir /tmp/tiny-run
    torchrun --nproc-per-node 8 training/train.py --config training/configs/gpu-300m.yaml
"""

import os

from common.cli import stage_main
from common.paths import DatasetPaths
# The config and its presets live in training/config.py; run.py and the tests reach them through this command.
from training.config import TrainConfig, apply_preset, available_presets, out_dir_of  # noqa: F401

STAGE = "train"


def run(cfg: TrainConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Train (or continue training) on paths.processed; returns counts. `force` does not restart: see --init."""
    from training.loop import fit
    cfg = apply_preset(cfg)
    result = fit(cfg, paths, out_dir_of(cfg))
    return result.counts


def is_main_process() -> bool:
    """False in the non-zero ranks of a torchrun launch (they neither lock the dataset nor print summaries)."""
    return os.environ.get("RANK", "0") == "0"


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, TrainConfig, run, argv, __doc__, "train.py", finalize=apply_preset,
                      primary=is_main_process())


if __name__ == "__main__":
    from training.runtime import exit_process
    exit_process(main())
