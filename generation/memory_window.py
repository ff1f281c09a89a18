"""Decoding with a rolling summary: the model's block holds `<|summary|> ... <|/summary|>` and the most recent
story tokens (story_memory/rolling.py decides when text is folded into the summary).

Between folds the prefix does not change, so tokens go through the KV cache one at a time; the prefix and the
window never exceed the block, so the cache never slides. After a fold (every `update_every` tokens or so) the
new prefix and the window are re-encoded in one batched forward pass. Memory stays flat however long the story
runs: only the window's ids, the summary and the cache are kept.
"""

from __future__ import annotations

import torch

from generation.kv_decoder import KVDecoder
from story_memory.extract import find
from story_memory.rolling import RollingStory, Schedule, make_schedule, rolling_story
from story_memory.summary import Summary


def schedule_of(state: dict, block_size: int) -> Schedule | None:
    """The rolling schedule a checkpoint was trained with (its state's `memory`), or None when it was not."""
    mem = state.get("memory") if isinstance(state, dict) else None
    if not isinstance(mem, dict):
        return None
    try:
        # a checkpoint from before focus existed was trained on the summary as kept
        return make_schedule(block_size, int(mem["budget"]), int(mem["update_every"]), mem.get("focus", "none"))
    except (KeyError, TypeError, ValueError):
        return None


class RollingWindow:
    """Feeds a story to the model through a rolling summary; `log` (a list) gets one record per fold with drift
    figures: the share of the first window's names still in the summary kept, and names new since the last fold."""

    def __init__(self, model, tokenizer, schedule: Schedule, log: list | None = None):
        self.tok, self.schedule, self.log = tokenizer, schedule, log
        self.story: RollingStory = rolling_story(tokenizer, schedule)
        self.dec = KVDecoder(model, 0)
        self.window: list[int] = []   # ids of the story from `story.covered` on
        self.n = 0                    # story tokens so far
        self.first_names: set[str] | None = None
        self.names: set[str] = set()
        self._window_start = 0        # story position of window[0] while a refold runs

    def _text_of(self, a: int, b: int) -> str:
        base = self._window_start  # the window is trimmed after catch_up, not between its folds
        return self.tok.decode(self.window[a - base: b - base])

    def _refold(self) -> torch.Tensor:
        if self.first_names is None:
            self.first_names = set(find(self.tok.decode(self.window[: self.schedule.block_size]), []).names)
        folds: list[dict] = []
        before = self._window_start = self.story.covered
        self.story.catch_up(self.n, self._text_of, folds)
        del self.window[: self.story.covered - before]
        if self.log is not None:
            for f in folds:
                names = set(Summary.parse(f.get("kept", f["summary"])).names())  # drift: what memory still holds
                kept = len(self.first_names & names) / len(self.first_names) if self.first_names else None
                self.log.append({"position": self.n, **f, "first_window_names_kept": kept,
                                 "new_names": sorted(names - self.names)})
                self.names = names
        return self.dec.prefill(self.story.prefix + self.window)

    def start(self, ids: list[int]) -> torch.Tensor:
        """Encode the prompt (folding what does not fit); logits [V] of the next token."""
        self.window, self.n = list(ids), len(ids)
        if not self.story.fits(self.n):
            return self._refold()
        return self.dec.prefill(self.story.prefix + self.window)

    def feed(self, token: int) -> torch.Tensor:
        """Add one token to the story; logits [V] of the next."""
        self.window.append(token)
        self.n += 1
        if self.story.fits(self.n):
            return self.dec.step(token)
        return self._refold()
