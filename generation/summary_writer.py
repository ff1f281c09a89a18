"""A model-written rolling summary (issue 12's experiment): at each fold the model itself writes the new summary,
greedily, after reading the previous summary and the text that is leaving its window:

    <|summary|> previous summary <|/summary|>  evicted text  <|summary|>  -> new summary <|/summary|>

the shape of the writing rows it was trained on (training/summary_write_rows.py, `summary_write_ratio`). The
summary stops at `<|/summary|>`, at any other special id, or at the budget. Plug it into a `RollingStory` as its
`writer`; the benchmark compares it with the extractive summarizer (`bench/memory.py --model-summary`).
"""

from __future__ import annotations

from typing import Callable

import torch

from common.text_format import NUM_SPECIAL, SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID
from generation.kv_decoder import KVDecoder
from story_memory.rolling import Schedule

Writer = Callable[[list[int], str], tuple[str, list[int]]]


def model_summary_writer(model, tok, schedule: Schedule) -> Writer:
    """writer(prefix ids, evicted text) -> (summary text, new prefix ids) written by `model`."""
    dec = KVDecoder(model, 0)
    budget, block = schedule.budget, schedule.block_size

    def write(prefix: list[int], evicted: str) -> tuple[str, list[int]]:
        room = max(0, block - len(prefix) - (budget + 2))  # the summary must fit after the input
        text_ids = [int(i) for i in tok.encode(evicted, errors="ignore")]
        ids = list(prefix) + (text_ids[len(text_ids) - room:] if room else []) + [SUMMARY_OPEN_ID]
        out: list[int] = []
        with torch.no_grad():
            logits = dec.prefill(ids)
            for _ in range(budget):
                t = int(torch.argmax(logits))
                if t < NUM_SPECIAL:  # <|/summary|>, or anything else that ends it
                    break
                out.append(t)
                logits = dec.step(t)
        return tok.decode(out), ([SUMMARY_OPEN_ID, *out, SUMMARY_CLOSE_ID] if out else [])
    return write
