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

import sys
from pathlib import Path

import dataclasses
import os
from dataclasses import dataclass

from common.cli import stage_main
from common.config import UserError, build_config, load_yaml, opt
from common.paths import DatasetPaths, training_out_dir
from model.gpt import ModelConfig

STAGE = "train"
PRESET_DIR = Path(__file__).resolve().parent / "configs"
# The model-shape keys default to the model's own defaults (its measured winners), so the two never drift apart.
M = {f.name: f.default for f in dataclasses.fields(ModelConfig) if f.default is not dataclasses.MISSING}


@dataclass
class TrainConfig:
    # --- run -----------------------------------------------------------------------------------------------
    preset: str = opt("", "base settings: a file name in training/configs/ (e.g. tiny) or a YAML path; "
                          "every key given besides it overrides the preset")
    name: str = opt("", "run name; the default out_dir is training/out/<name> (else <preset>, else 'default')")
    out_dir: str = opt("", "folder for checkpoints, metrics.jsonl and loss_curve.png (default: see name)")
    init: str = opt("resume", "'resume' (continue from out_dir's last checkpoint, if any) or 'scratch' "
                              "(delete it and start from random weights)")
    # --- model shape: the fields of model.gpt.ModelConfig with its defaults (vocab_size comes from the data)
    block_size: int = opt(M["block_size"], "context length (tokens); <= 256 in the low-RAM presets")
    n_layer: int = opt(M["n_layer"], "transformer blocks")
    n_head: int = opt(M["n_head"], "attention heads (n_embd must divide by it)")
    n_embd: int = opt(M["n_embd"], "model width")
    ffn_mult: float = opt(M["ffn_mult"], "FFN size relative to n_embd (parameter-equivalent across mlp kinds)")
    ffn_widths: list[int] | None = opt(M["ffn_widths"], "per-layer FFN hidden widths (overrides ffn_mult), "
                                                        "one per layer")
    dropout: float = opt(M["dropout"], "dropout on embeddings, attention and residual branches (0 = off)")
    bias: bool = opt(M["bias"], "biases in linear layers and LayerNorm")
    tie_embeddings: bool = opt(M["tie_embeddings"], "output head shares the token-embedding matrix")
    norm: str = opt(M["norm"], "'rmsnorm' or 'layernorm'")
    pos: str = opt(M["pos"], "'rope' (rotary) or 'learned' (absolute position embeddings)")
    mlp: str = opt(M["mlp"], "'swiglu', 'relu2' or 'gelu'")
    qk_norm: bool = opt(M["qk_norm"], "normalise queries and keys per head before attention")
    zero_init_proj: bool = opt(M["zero_init_proj"], "residual output projections start at zero")
    rope_base: float = opt(M["rope_base"], "rotary frequency base")
    grad_checkpoint: bool = opt(M["grad_checkpoint"], "recompute block activations in backward (less memory, "
                                                       "~30 percent slower)")
    vocab_multiple: int = opt(1, "round the model's vocabulary up to a multiple of this (64 helps GPUs); "
                                 "spare rows absorb new characters without a resize")
    # --- optimisation --------------------------------------------------------------------------------------
    batch_size: int = opt(32, "sequences per micro-batch (per process)")
    grad_accum: int = opt(1, "micro-batches per optimizer step")
    max_iters: int = opt(2000, "optimizer steps in total (a resumed run continues up to this step)")
    max_minutes: float = opt(0.0, "stop this run after this many minutes at a step boundary (0 = no limit)")
    lr: float = opt(1e-3, "peak learning rate")
    min_lr: float = opt(1e-4, "learning rate at the end of the cosine decay")
    warmup_iters: int = opt(100, "linear warmup steps")
    lr_decay_iters: int = opt(0, "step where the cosine decay reaches min_lr (0 = max_iters)")
    weight_decay: float = opt(0.1, "AdamW decoupled weight decay on matrices (not on embeddings, norms, biases)")
    beta1: float = opt(0.9, "AdamW beta1")
    beta2: float = opt(0.99, "AdamW beta2")
    grad_clip: float = opt(1.0, "clip the gradient norm to this (0 = off)")
    # --- evaluation, checkpoints, logs ------------------------------------------------------------------------
    eval_interval: int = opt(100, "evaluate train/val loss (and save a checkpoint) every this many steps")
    eval_iters: int = opt(20, "fixed, seeded batches per split in each evaluation")
    ckpt_interval: int = opt(0, "also save the last checkpoint every this many steps (0 = at evaluations only)")
    log_interval: int = opt(10, "refresh the progress bar's loss and tokens/s every this many steps")
    plot: bool = opt(True, "draw loss_curve.png next to the checkpoints")
    # --- reproducibility and hardware ------------------------------------------------------------------------
    seed: int = opt(1337, "seed of weights, batches and dropout")
    threads: int = opt(0, "CPU threads for torch (0 = all cores this process may use); keep it fixed to "
                          "resume bit-for-bit")
    device: str = opt("auto", "'auto' (cuda when available), 'cuda', 'cuda:N' or 'cpu'")
    dtype: str = opt("auto", "autocast dtype: 'auto' (CUDA: bfloat16, fp16 where bf16 is missing; CPU: bfloat16 "
                             "where the cores multiply it natively (AVX512-BF16/AMX), else float32), 'float32', "
                             "'bfloat16', 'float16'")
    param_dtype: str = opt("float32", "dtype of weights and AdamW state: 'float32' or 'bfloat16' (halves "
                                      "their memory; used by the 1.3B GPU preset)")
    compile: bool = opt(False, "torch.compile the model (GPU: faster after a warm-up of a minute or so)")
    malloc_mmap_mb: float = opt(0.0, "Linux/glibc: memory blocks above this size (MB) get their own mapping, "
                                     "returned to the OS when freed: 1 measured ~25 percent lower peak RSS but "
                                     "~50 percent slower steps on the small preset; 0 = the C library's default")
    max_ram_mb: int = opt(0, "refuse to start when the estimated peak RAM exceeds this (MB; 0 = 85 percent of the "
                             "available RAM)")

    # build_config passes only the keys a file, profile section or flag gave; remembering them lets `preset`
    # fill in exactly the others (a given key wins even when it equals the code default).
    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._given = frozenset(kwargs)
        return self


def available_presets() -> list[str]:
    """Names of the preset files in training/configs/."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_file(preset: str) -> Path:
    """The YAML file of a preset name or path; UserError listing the presets when there is none."""
    p = Path(preset).expanduser()
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    candidate = PRESET_DIR / f"{preset}.yaml"
    if candidate.is_file():
        return candidate
    raise UserError(f"unknown preset '{preset}'; presets: {', '.join(available_presets())} (or a .yaml path)")


def apply_preset(cfg: TrainConfig) -> TrainConfig:
    """cfg with its preset file as the base: code defaults < preset < every key given alongside `preset`."""
    if not cfg.preset:
        return cfg
    path = preset_file(cfg.preset)
    values = load_yaml(path)
    if "preset" in values:
        raise UserError(f"{path}: a preset file cannot name another preset")
    build_config(TrainConfig, values, source=str(path))  # its own typos are reported against its own name
    given = {k: getattr(cfg, k) for k in getattr(cfg, "_given", ())}
    merged = build_config(TrainConfig, {**values, **given}, source=str(path))
    if not merged.name:
        merged.name = path.stem
    return merged


def out_dir_of(cfg: TrainConfig) -> Path:
    """Where checkpoints and logs go."""
    if cfg.out_dir:
        return Path(cfg.out_dir).expanduser().resolve()
    return training_out_dir() / (cfg.name or Path(cfg.preset).stem or "default")


def run(cfg: TrainConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Train (or continue training) on paths.processed; returns counts. `force` does not restart: see --init."""
    from training.train_loop import fit
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
    sys.exit(main())
