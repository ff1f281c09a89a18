"""Copy warm-up rows (training/copy_rows.py): their shape and content, that they replace only the plain rows of a
mixed batch, that a model trained on them learns to copy, and the trainer's copy_warmup_iters (changes what is
learned, resumes bit for bit across the end of the warm-up, one-line error for a bad value)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from common.config import UserError
from model.gpt import GPT, ModelConfig
from training import train
from training.copy_rows import repeat_rows, with_copy_rows
from training.memory_batches import load_memory_examples, sample_mixed

from tests.test_memory_step import (  # noqa: F401  (built: the module fixture, a demo dataset + memory)
    BLOCK, assert_option_changes_training_and_resumes, built, cfg_of)


def test_repeat_rows_write_one_span_of_the_data_twice():
    data = np.arange(1000, dtype=np.uint16)
    rows = repeat_rows(data, 5, 20, torch.Generator().manual_seed(1))
    assert rows.shape == (5, 21) and rows.dtype == torch.int64
    half = 21 // 2 + 1
    for row in rows.tolist():
        assert row[half:] == row[: 21 - half]                      # the second half repeats the first
        assert row[:half] == list(range(row[0], row[0] + half))    # a contiguous span of the data


def test_copy_rows_replace_only_the_plain_rows_and_are_learned_in_full(built):  # noqa: F811
    paths = built[0]
    from model.token_files import load_meta, open_tokens
    meta = load_meta(paths.processed)
    data = open_tokens(paths.processed, "train", meta)
    memory = load_memory_examples(paths.processed, meta, "train", BLOCK)
    gen = torch.Generator().manual_seed(3)
    rows, plens = sample_mixed(data, memory, 8, BLOCK, 0.5, gen)
    new_rows, new_plens = with_copy_rows(rows, plens, data, BLOCK, gen)
    assert torch.equal(new_rows[:4], rows[:4]) and torch.equal(new_plens[:4], plens[:4])  # memory rows kept
    assert (plens[:4] > 0).all() and (new_plens[4:] == 0).all()
    half = (BLOCK + 1) // 2 + 1
    assert torch.equal(new_rows[4:, half:], new_rows[4:, : BLOCK + 1 - half])
    assert not torch.equal(new_rows[4:], rows[4:])


def test_a_model_trained_on_copy_rows_learns_to_copy_what_it_has_not_seen_before():
    torch.manual_seed(0)
    vocab, block = 32, 32
    data = np.random.default_rng(0).integers(0, vocab, 200_000).astype(np.uint16)  # no structure but repeats
    model = GPT(ModelConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, n_embd=64))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(250):
        rows = repeat_rows(data, 16, block, gen)
        _, loss = model(rows[:, :-1], rows[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    rows = repeat_rows(data, 64, block, torch.Generator().manual_seed(99))  # spans it may never have seen
    with torch.no_grad():
        logits, _ = model(rows[:, :-1])
    half = (block + 1) // 2 + 1
    nll = F.cross_entropy(logits.transpose(1, 2), rows[:, 1:], reduction="none")
    first, second = nll[:, : half - 1].mean().item(), nll[:, half:].mean().item()
    assert first > 3.0            # random tokens: about ln(32) = 3.47 nats, nothing to learn
    assert second < first / 3     # the repeat is copied from the window


def test_copy_warmup_changes_training_and_resumes_bit_for_bit_across_its_end(built, tmp_path):  # noqa: F811
    # stopped at step 2, resumed across the end of the warm-up (step 3)
    assert_option_changes_training_and_resumes(built[0], tmp_path, {"copy_warmup_iters": 3}, stop=2)


def test_a_negative_copy_warmup_is_a_one_line_error(built, tmp_path):  # noqa: F811
    with pytest.raises(UserError, match="copy_warmup_iters must be >= 0"):
        train.run(cfg_of(max_iters=1, copy_warmup_iters=-1, out_dir=str(tmp_path / "x")), built[0])
