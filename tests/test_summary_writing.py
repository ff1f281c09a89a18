"""The model-written summary experiment: writing rows built from consecutive memory examples (targets only on the
new summary), training with them (resume bit for bit, the ratio recorded), the model writing a summary within its
budget, and a RollingStory folding with a writer instead of the extractive summarizer."""

import dataclasses

import numpy as np
import pytest
import torch

from common.text_format import NUM_SPECIAL, SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID
from generation.inference import load_model
from generation.summary_writer import model_summary_writer
from model.checkpoint import read_state
from model.token_files import load_meta, open_tokens
from story_memory.rolling import make_schedule, rolling_story
from common.config import UserError
from scripts import prepare_memory
from tests.test_memory_step import BLOCK, CFG, cfg_of, demo_dataset
from training import train
from training.memory_batches import load_memory_examples, mask_prefix_targets
from training.summary_write_rows import with_write_rows, write_pairs, write_row

LAST = "last.safetensors"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small demo dataset whose memory examples show the summary as kept (focus: none), as writing rows need:
    (paths,)."""
    paths = demo_dataset(tmp_path_factory.mktemp("memwrite") / "ds", 12)
    prepare_memory.run(dataclasses.replace(CFG, focus="none"), paths)
    return (paths,)


def test_writing_rows_are_refused_for_focused_examples(tmp_path):
    paths = demo_dataset(tmp_path / "ds", 12)
    prepare_memory.run(CFG, paths)  # focus: window, the default
    with pytest.raises(UserError, match="summary_write_ratio > 0 learns to write the summary as kept: run the "
                                        "memory step with focus: none"):
        train.run(cfg_of(max_iters=1, out_dir=str(tmp_path / "o"), summary_write_ratio=0.5), paths)


def test_pairs_are_consecutive_folds_of_one_document():
    ex = np.array([[100, 0, 5, 0], [119, 5, 6, 0], [138, 11, 6, 1], [500, 17, 5, 0], [519, 22, 7, 0]])
    assert write_pairs(ex, 19).tolist() == [1, 2, 4]  # 500 starts another document
    assert write_pairs(ex[:1], 19).tolist() == []


def test_a_writing_row_is_previous_summary_evicted_text_new_summary_and_only_the_summary_is_learned(built):
    paths = built[0]
    meta = load_meta(paths.processed)
    data = open_tokens(paths.processed, "train", meta)
    mem = load_memory_examples(paths.processed, meta, "train", BLOCK)
    assert len(mem.pairs) > 10
    i = int(mem.pairs[3])
    row, first, end = write_row(data, mem.prefixes, mem.examples, i, BLOCK)
    (s0, o0, l0), (s1, o1, l1) = (mem.examples[i - 1, :3], mem.examples[i, :3])
    prev, new = list(mem.prefixes[o0:o0 + l0]), list(mem.prefixes[o1:o1 + l1])
    assert row.shape == (BLOCK + 1,)
    assert row[:l0].tolist() == prev and row[l0:first].tolist() == list(data[s0:s1])
    assert row[first] == SUMMARY_OPEN_ID and row[first:first + l1].tolist() == new[: BLOCK + 1 - first]
    # targets: positions first .. end - 1 predict the new summary's tokens and its closing tag, nothing else
    rows, plens, ends = with_write_rows(torch.from_numpy(row)[None].repeat(2, 1), torch.tensor([l0, 0]),
                                        torch.full((2,), BLOCK), mem, mem.pairs[3:4], data, BLOCK, 1.0,
                                        torch.Generator().manual_seed(0))
    y = mask_prefix_targets(rows[:, 1:], plens, ends)
    learned = y[0][y[0] >= 0].tolist()
    assert learned == new[1:] and learned[-1] == SUMMARY_CLOSE_ID
    assert (y[1] >= 0).all()  # a plain row keeps every target


def test_training_with_writing_rows_resumes_bit_for_bit_and_records_the_ratio(built, tmp_path):
    common = {"lr_decay_iters": 10, "summary_write_ratio": 0.5}
    train.run(cfg_of(max_iters=8, out_dir=str(tmp_path / "a"), **common), built[0])
    train.run(cfg_of(max_iters=4, out_dir=str(tmp_path / "b"), **common), built[0])
    train.run(cfg_of(max_iters=8, out_dir=str(tmp_path / "b"), **common), built[0])
    from model.checkpoint import load_checkpoint
    wa, wb = (load_checkpoint(tmp_path / x / LAST).tensors for x in "ab")
    for k in wa:
        if k.startswith("model/"):
            assert torch.equal(wa[k], wb[k]), k
    assert read_state(tmp_path / "a" / LAST)["memory"]["write_ratio"] == 0.5
    # the trained model writes a summary: tagged, within the budget, no special id inside
    lm = load_model(tmp_path / "a" / LAST)
    sched = make_schedule(BLOCK, 12)
    write = model_summary_writer(lm.model, lm.tokenizer, sched)
    text, prefix = write([], "Ann has a red kite. Her dog Bo runs to the river.")
    assert prefix == [] or (prefix[0] == SUMMARY_OPEN_ID and prefix[-1] == SUMMARY_CLOSE_ID
                            and len(prefix) <= sched.budget + 2 and min(prefix[1:-1]) >= NUM_SPECIAL)
    assert write([], "Ann has a red kite.") == write([], "Ann has a red kite.")  # greedy: deterministic


def test_a_rolling_story_folds_with_its_writer():
    class Tok:
        def encode(self, text, errors="strict"):
            return np.array([NUM_SPECIAL + ord(c) % 50 for c in text], dtype=np.int32)
    story = rolling_story(Tok(), make_schedule(40, 8))
    seen = []

    def writer(prefix, evicted):
        seen.append((list(prefix), evicted))
        return f"s{len(seen)}", [SUMMARY_OPEN_ID, 99 + len(seen), SUMMARY_CLOSE_ID]
    story.writer = writer
    text = "abcdefghij" * 8
    log = []
    assert story.catch_up(len(text), lambda a, b: text[a:b], log)
    assert seen[0] == ([], text[:story.schedule.update_every])
    assert seen[1][0] == [SUMMARY_OPEN_ID, 100, SUMMARY_CLOSE_ID]  # each fold reads the previous summary
    assert story.prefix == [SUMMARY_OPEN_ID, 99 + len(seen), SUMMARY_CLOSE_ID]
    assert [e["summary"] for e in log] == [f"s{i + 1}" for i in range(len(seen))]
