"""The settings the terminal chat (scripts/chat.py) and the server (scripts/serve.py) share: which checkpoint,
where and in what dtype it runs, how replies are sampled, and whether retrieval uses dense vectors. Both configs
inherit `ChatOptions`, so they take the same flags and YAML keys with the same help, defaults and range checks,
and load the model the same way (`load`). The server uses the sampling settings when a request gives none.

No torch at import time: `--help` and `--dry-run` stay quick.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.config import UserError, opt
from generation.sampling_config import check_sampling


@dataclass
class ChatOptions:
    checkpoint: str = opt("", "checkpoint file, its folder or a run name under training/out/ (default: the newest "
                              "training/out/*/last.safetensors)")
    temperature: float = opt(0.0, "sampling temperature, 0 to 2 (0 = greedy: an answer about a remembered fact "
                                  "should not be a dice roll, and the same history gives the same reply)")
    top_k: int = opt(0, "sample among the k most likely tokens only (0 = off)")
    top_p: float = opt(1.0, "nucleus sampling: the smallest set of tokens holding this probability (1 = off)")
    repetition_penalty: float = opt(1.0, "divide the logits of recently used tokens by this (1 = off)")
    seed: int = opt(1337, "random seed for sampling")
    copy_weight: float = opt(4.0, "logits added to the piece that finishes a word of the prompt the reply has begun "
                                  "to copy, so a remembered name comes out as it was told (twice this in a word that "
                                  "begins with a capital; 0 = off; generation/copy_completion.py)")
    dtype: str = opt("fp32", "weights: fp32, bf16, fp16 or int8")
    device: str = opt("cpu", "cpu, cuda or cuda:N")
    threads: int = opt(1, "CPU threads for torch and numpy's BLAS (0 = torch's default: all cores); one token at "
                          "a time is too little work to share between cores")
    dense_retrieval: bool = opt(False, "also rank memories by dense vectors from the model itself (its mean hidden "
                                       "state), fused with BM25; off by default: with the models the chat profile "
                                       "trains it found the fact less often at 10-20 sessions (bench/chat.py "
                                       "--dense, ROADMAP.md)")

    def check_options(self) -> None:
        """One-line UserErrors for settings that cannot work, before the model loads."""
        if not 0 <= self.temperature <= 2 or not 0 < self.top_p <= 1:  # the OpenAI API's ranges
            raise UserError("temperature must be in [0, 2] and top_p in (0, 1]")
        if self.threads < 0:
            raise UserError("threads must be >= 0")
        if not 0 <= self.copy_weight <= 100:
            raise UserError(f"copy_weight must be in [0, 100], got {self.copy_weight}")
        check_sampling(self.temperature, self.top_k, self.top_p, self.repetition_penalty, 0, self.dtype)

    def sampling_overrides(self) -> dict:
        """The ChatSettings fields these options set (orchestrator.settings_for)."""
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p,
                "repetition_penalty": self.repetition_penalty, "seed": self.seed, "copy_weight": self.copy_weight}

    def load(self):
        """(checkpoint path, LoadedModel, embedder or None): the model in its dtype on its device, threads set."""
        from assistant.embedding import model_embedder
        from generation.inference import find_checkpoint, load_model
        from generation.threads import set_threads
        path: Path = find_checkpoint(self.checkpoint)
        lm = load_model(path, self.dtype, self.device)
        if self.threads > 0:
            set_threads(self.threads, lm.model)
        return path, lm, (model_embedder(lm) if self.dense_retrieval else None)
