"""Chat rows: whole chat examples, each row starting at its example's first token and learning only the reply.

Why: prepare (format: chat) writes one example per assistant turn - memory block, recent turns, the user's
message, then the reply - ended by <|endoftext|>. Plain training windows start anywhere, so most of them cut an
example's front off, and the front is where the memory block sits: the reply is then learned without the fact it
should copy, and the model learns to guess a common name instead. A chat row holds its example from the start, so
the reply always sees everything the prompt builder gave it, as at run time; its loss covers the reply tokens and
the end marker only (the prompt is text the model reads, not text it writes).

The examples are found in the token file itself (each ends with <|endoftext|>; the reply follows the example's
last <|assistant|>), so no file format changes. Examples longer than the block are skipped.

Half of the chat rows are drawn among the examples whose reply recalls something from their memory block (a
word of the reply, rare among all replies, that the memory block holds: "It's teal!" after "...colour is teal"):
answering from memory is the skill the memory exists for, and fewer than a quarter of the turns exercise it
(4,777 of 20,553 examples of the chat profile's corpus).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from common.text_format import ASSISTANT_ID, EOT_ID, MEMORY_CLOSE_ID, MEMORY_OPEN_ID

RARE_REPLY_SHARE = 0.01  # a recalled word is in fewer than this share of all replies (a name, a place, a colour)


@dataclass
class ChatExamples:
    starts: np.ndarray   # first token of each example
    replies: np.ndarray  # position of the example's last <|assistant|>
    ends: np.ndarray     # position of its <|endoftext|>
    recalls: np.ndarray | None = None  # indices of the examples whose reply recalls a word of their memory block

    def __len__(self) -> int:
        return len(self.starts)


def find_chat_examples(data: np.ndarray, block_size: int) -> ChatExamples:
    """The examples of a token array that fit a row of block_size + 1 tokens and have a reply."""
    ends = np.flatnonzero(np.asarray(data) == EOT_ID)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    assistants = np.flatnonzero(np.asarray(data) == ASSISTANT_ID)
    last = np.searchsorted(assistants, ends) - 1  # index of the last <|assistant|> before each end
    replies = np.where(last >= 0, assistants[np.maximum(last, 0)] if len(assistants) else -1, -1)
    keep = (replies >= starts) & (ends - starts + 1 <= block_size + 1)
    return ChatExamples(starts[keep], replies[keep].astype(np.int64), ends[keep].astype(np.int64))


def words_of(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)}


def recall_examples(data: np.ndarray, ex: ChatExamples, decode: Callable[[np.ndarray], str]) -> np.ndarray:
    """Indices of the examples whose reply holds a rare word (in fewer than RARE_REPLY_SHARE of the replies) that
    their memory block holds too."""
    opens = np.flatnonzero(np.asarray(data) == MEMORY_OPEN_ID)
    closes = np.flatnonzero(np.asarray(data) == MEMORY_CLOSE_ID)
    replies = [words_of(decode(data[r + 1: e])) for r, e in zip(ex.replies, ex.ends)]
    df = Counter(w for words in replies for w in words)
    out = []
    for i, (s, r) in enumerate(zip(ex.starts, ex.replies)):
        o = np.searchsorted(opens, s)  # the example's memory block, if any: the first one inside it
        if o == len(opens) or opens[o] > r:
            continue
        c = np.searchsorted(closes, opens[o])
        if c == len(closes) or closes[c] > r:
            continue
        rare = {w for w in replies[i] if df[w] < RARE_REPLY_SHARE * len(replies)}
        if rare & words_of(decode(data[opens[o] + 1: closes[c]])):
            out.append(i)
    return np.asarray(out, dtype=np.int64)


def chat_rows(data: np.ndarray, examples: ChatExamples, picks: list[int], block_size: int
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows [n, block_size + 1], prefix lengths [n], ends [n]) for the picked examples, in the terms of
    training.memory_batches.mask_prefix_targets: targets before the first reply token and after the end marker
    are ignored. Rows are zero-padded past the data's end (those targets are ignored too)."""
    rows = np.zeros((len(picks), block_size + 1), dtype=np.int64)
    prefix_lens = torch.empty(len(picks), dtype=torch.long)
    ends = torch.empty(len(picks), dtype=torch.long)
    for i, e in enumerate(picks):
        s = int(examples.starts[e])
        chunk = data[s: s + block_size + 1]
        rows[i, : len(chunk)] = chunk
        prefix_lens[i] = int(examples.replies[e]) - s + 1  # the <|assistant|> token is read, not learned
        ends[i] = int(examples.ends[e]) - s                # target index of the end marker is ends - 1
    return torch.from_numpy(rows), prefix_lens, ends


def sample_chat_rows(data: np.ndarray, examples: ChatExamples, n: int, block_size: int, gen: torch.Generator
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n random examples, half of them among the recalling ones when there are any (drawn with the run's batch
    generator, so resume stays bit-for-bit)."""
    recalls = examples.recalls if examples.recalls is not None else np.zeros(0, dtype=np.int64)
    k = n // 2 if len(recalls) else 0
    picks = torch.randint(len(examples), (n - k,), generator=gen).tolist()
    if k:
        picks += recalls[torch.randint(len(recalls), (k,), generator=gen).numpy()].tolist()
    return chat_rows(data, examples, picks, block_size)


def eval_picks(n_examples: int, n: int, seed: int) -> list[int]:
    """A fixed sample of n example indices (with repeats when there are fewer), the same at every evaluation."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(n_examples, (n,), generator=g).tolist()
