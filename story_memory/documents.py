"""The documents of a prepared split read as generation reads a story: one (covered, prefix) per fold.

For each document of `<split>.bin` (documents end at id 0, end of text) a `RollingStory` folds the document's
tokens as a model with `block_size` would while reading it; after each fold the example is (the document's
position `covered` in the split, the new prefix). Consecutive equal prefixes are stored once. An example whose
window would run past the end of the split is dropped.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from common.text_format import EOT_ID, SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID
from story_memory.example_files import relevance
from story_memory.rolling import Schedule, rolling_story


def document_bounds(data: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, end) of each document in a split's ids, end excluding its end-of-text id."""
    start = 0
    for end in np.flatnonzero(np.asarray(data) == EOT_ID).tolist():
        if end > start:
            yield start, end
        start = end + 1
    if start < len(data):
        yield start, len(data)


def document_folds(doc: np.ndarray, tok, schedule: Schedule) -> list[tuple[int, list[int], int]]:
    """(covered, prefix ids, relevance of the window that follows) after each fold of one document, in order
    (`tok`: any model.tokenizer.Tokenizer). Folds depend only on the tokens, not on when `catch_up` is called, so
    one call reads the whole document."""
    story = rolling_story(tok, schedule)
    log: list[dict] = []
    story.catch_up(len(doc), lambda a, b: tok.decode(doc[a:b]), log)
    out = []
    for entry in log:
        s = entry["summary"]
        prefix = [SUMMARY_OPEN_ID, *story.encode(s), SUMMARY_CLOSE_ID] if s else []
        covered = entry["covered"]
        window = tok.decode(doc[covered: covered + schedule.block_size - len(prefix)])
        out.append((covered, prefix, relevance(s, window) if s else 0))
    return out
