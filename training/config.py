"""The training configuration: the one TrainConfig dataclass (every flag and YAML key, with its help), the
presets in training/configs/, the output folder, and the checks that reject values no run can use.

The model-shape keys are the fields of `model.gpt.ModelConfig`, flat in the YAML and on the command line, with
the model's own defaults; `model_config` turns them into a ModelConfig, whose own checks are the shape's
validation (nothing here restates them). `check_config` runs once per run, in `training.loop.fit`, before any
data is read.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from common.config import UserError, build_config, load_yaml, opt
from common.paths import training_out_dir
from model.gpt import ModelConfig

PRESET_DIR = Path(__file__).resolve().parent / "configs"
# The model-shape keys default to the model's own defaults (its measured winners), so the two never drift apart.
M = {f.name: f.default for f in dataclasses.fields(ModelConfig) if f.default is not dataclasses.MISSING}
MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.name != "vocab_size")


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
    # --- rolling summary memory (story_memory/, the memory step) ---------------------------------------------
    memory_ratio: float = opt(0.0, "share of each batch's rows that are memory examples (a summary prefix, then "
                                   "the story); 0 = off. Needs the memory step run for this block_size")
    summary_write_ratio: float = opt(0.0, "share of the memory rows that teach the model to write its summary "
                                          "(previous summary + evicted text -> new summary); 0 = off, an "
                                          "experiment (training/summary_write_rows.py)")
    memory_recall_weight: float = opt(1.0, "loss weight of the targets a memory row can only get from its summary "
                                           "(a token of the summary the window uses for the first time); 1 = "
                                           "no extra weight (training/recall_weights.py)")
    copy_warmup_iters: int = opt(0, "during the first this many steps, half of each batch's rows are a span of the "
                                    "text written twice, so the model learns early to copy what it read (names "
                                    "from its window and its summary); 0 = off (training/copy_rows.py)")
    # --- chat examples (prepare --format chat) ----------------------------------------------------------------
    chat_ratio: float = opt(0.0, "share of each batch's rows that are whole chat examples, from their first token, "
                                 "learned on the reply only (training/chat_rows.py); with it, evaluation scores "
                                 "the replies of fixed val examples. 0 = plain windows only")
    chat_recall_weight: float = opt(1.0, "loss weight of the reply tokens of a chat row that only its memory "
                                         "block holds (a name, a town: training/recall_weights.py); 1 = no extra "
                                         "weight")
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


# Every TrainConfig key that is a ModelConfig field (all but vocab_size, which comes from the data) has the same
# name and meaning there: a new model field without its flag here fails at import, not in a run.
assert set(MODEL_FIELDS) <= {f.name for f in dataclasses.fields(TrainConfig)}, "TrainConfig lacks a model field"


# The training keys that are floats, read off the dataclass so a new one is checked too (the model's own,
# ffn_mult, dropout and rope_base, are ModelConfig's to check).
FLOAT_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.type in ("float", float) and f.name not in M)


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


def check_config(cfg: TrainConfig) -> None:
    """One-line UserErrors for values no run can use: the training keys here, the model shape by building its
    ModelConfig (which validates itself), all before any data is read."""
    if cfg.init not in ("resume", "scratch"):
        raise UserError(f"init must be 'resume' or 'scratch', not {cfg.init!r}")
    for key in ("batch_size", "grad_accum", "eval_interval", "eval_iters", "log_interval", "vocab_multiple"):
        if getattr(cfg, key) < 1:
            raise UserError(f"{key} must be at least 1, got {getattr(cfg, key)}")
    for key in ("max_iters", "warmup_iters", "lr_decay_iters", "ckpt_interval", "threads", "max_ram_mb"):
        if getattr(cfg, key) < 0:
            raise UserError(f"{key} must be 0 or more, got {getattr(cfg, key)}")
    for key in FLOAT_KEYS:  # NaN passes every comparison below, so finiteness comes first
        if not math.isfinite(getattr(cfg, key)):
            raise UserError(f"{key} must be a finite number, got {getattr(cfg, key)}")
    if cfg.lr <= 0:
        raise UserError(f"lr must be > 0, got {cfg.lr}")
    for key in ("min_lr", "weight_decay", "grad_clip", "max_minutes", "malloc_mmap_mb"):
        if getattr(cfg, key) < 0:
            raise UserError(f"{key} must be 0 or more, got {getattr(cfg, key)}")
    for key in ("beta1", "beta2"):
        if not 0 <= getattr(cfg, key) < 1:
            raise UserError(f"{key} must be in [0, 1), got {getattr(cfg, key)}")
    for key in ("memory_recall_weight", "chat_recall_weight"):
        if not (math.isfinite(getattr(cfg, key)) and getattr(cfg, key) > 0):
            raise UserError(f"{key} must be a number > 0, got {getattr(cfg, key)}")
    if cfg.copy_warmup_iters < 0:
        raise UserError(f"copy_warmup_iters must be >= 0, got {cfg.copy_warmup_iters}")
    for key in ("memory_ratio", "summary_write_ratio", "chat_ratio"):
        if not 0 <= getattr(cfg, key) <= 1:
            raise UserError(f"{key} must be between 0 and 1, got {getattr(cfg, key)}")
    if cfg.param_dtype not in ("float32", "bfloat16"):
        raise UserError(f"param_dtype must be 'float32' or 'bfloat16', not {cfg.param_dtype!r}")
    model_config(cfg, 1)  # the model shape: positive dims, n_head dividing n_embd, finite dropout, ...


def padded_vocab(vocab_size: int, multiple: int) -> int:
    """vocab_size rounded up to a multiple of `multiple`."""
    return -(-vocab_size // multiple) * multiple


def model_config(cfg: TrainConfig, vocab_size: int) -> ModelConfig:
    """The ModelConfig of the TrainConfig's shape keys; a bad shape is a one-line UserError."""
    try:
        return ModelConfig(vocab_size=vocab_size, **{k: getattr(cfg, k) for k in MODEL_FIELDS})
    except ValueError as e:
        raise UserError(f"model shape: {e}") from None


