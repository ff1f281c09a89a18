"""Sampling settings: what one decode needs (`SampleConfig`) and the settings the commands share (`SamplingConfig`).

`scripts/generate.py` and `scripts/evaluate.py` both load a checkpoint and sample stories from it. Their config
dataclasses inherit `SamplingConfig`, so both take the same flags and YAML keys (flat: `--top-k`, `top_k:`), with
the same help, defaults and range checks, and build the decoder's `SampleConfig` the same way. A command that
wants another default redeclares that one field (evaluate writes shorter stories: max_new_tokens 300).

No torch at import time: evaluate's `--help`, `--dry-run` and "already evaluated" paths stay quick.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import UserError, opt


@dataclass
class SampleConfig:
    """How `generation.inference.generate_ids` picks each next token."""

    temperature: float = 0.8          # 0 = greedy
    top_k: int = 0                    # 0 = off
    top_p: float = 1.0                # 1.0 = off (nucleus)
    repetition_penalty: float = 1.0   # 1.0 = off; >1 divides positive / multiplies negative logits of recent tokens
    repetition_window: int = 256      # how many recent tokens the penalty looks at
    stop_at_eot: bool = True          # stop at the tokenizer's <|endoftext|> id, which is not emitted


@dataclass
class SamplingConfig:
    """The checkpoint, where and in what dtype it runs, and how stories are sampled from it."""

    checkpoint: str = opt("", "checkpoint file, its folder or a run name under training/out/ "
                              "(default: the newest training/out/*/last.safetensors)")
    max_new_tokens: int = opt(500, "tokens to generate per sample (no limit at block_size)")
    temperature: float = opt(0.8, "sampling temperature (0 = greedy)")
    top_k: int = opt(0, "sample among the k most likely tokens only (0 = off)")
    top_p: float = opt(0.95, "nucleus sampling: the smallest set of tokens holding this probability (1 = off)")
    repetition_penalty: float = opt(1.1, "divide the logits of recently used tokens by this (1 = off)")
    repetition_window: int = opt(256, "how many recent tokens the repetition penalty looks at")
    seed: int = opt(1337, "random seed (sample i uses seed + i)")
    dtype: str = opt("fp32", "weights: fp32, bf16, fp16 or int8 (weight-only, per-channel scales)")
    device: str = opt("cpu", "cpu, cuda or cuda:N")

    def sample_config(self, stop_at_eot: bool = True) -> SampleConfig:
        """The decoder's settings; UserError on out-of-range values (checked before any model is loaded)."""
        check_sampling(self.temperature, self.top_k, self.top_p, self.repetition_penalty, self.repetition_window,
                       self.dtype)
        return SampleConfig(self.temperature, self.top_k, self.top_p, self.repetition_penalty,
                            self.repetition_window, stop_at_eot)


def check_sampling(temperature: float, top_k: int, top_p: float, repetition_penalty: float,
                   repetition_window: int, dtype: str) -> None:
    """One-line UserErrors for sampling settings out of range (every command that samples: generate, evaluate,
    chat, serve)."""
    if temperature < 0:
        raise UserError(f"temperature must be >= 0 (got {temperature})")
    if not 0 < top_p <= 1:
        raise UserError(f"top_p must be in (0, 1] (got {top_p})")
    if repetition_penalty <= 0 or top_k < 0 or repetition_window < 0:
        raise UserError("repetition_penalty must be > 0; top_k and repetition_window >= 0")
    from generation.quantize import DTYPES  # imports torch: only once the settings are used
    if dtype not in DTYPES:
        raise UserError(f"dtype must be one of {', '.join(DTYPES)} (got {dtype!r})")
