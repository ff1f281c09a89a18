"""Chat rows (training/chat_rows.py): examples found in the token file, rows that start at their example and learn
only its reply, and the trainer's chat_ratio (evaluation on replies, bit-for-bit resume, a one-line error where the
data holds no chat examples)."""

import json

import numpy as np
import pytest
import torch

from common.config import UserError, build_config
from common.text_format import ASSISTANT_ID, EOT_ID, USER_ID
from model.checkpoint import LAST, load_checkpoint
from model.token_files import load_meta, open_tokens
from scripts import prepare_data
from training import train
from training.chat_rows import chat_rows, find_chat_examples, sample_chat_rows
from training.memory_batches import mask_prefix_targets

from tests.test_chat_examples import cleaned_conversations

BLOCK = 300
A, U, E = ASSISTANT_ID, USER_ID, EOT_ID


def test_examples_are_found_by_their_end_marker_and_last_assistant_turn():
    data = np.array([U, 20, 21, A, 22, 23, E,          # 0..6: one example, reply 22 23
                     U, 24, A, 25, U, 26, A, 27, E,     # 7..15: the reply follows the LAST assistant turn
                     U, 28, 29, E,                      # 16..19: no reply: skipped
                     U, 30, A] + [31] * 20 + [E],       # 20..43: longer than the block: skipped
                    dtype=np.uint16)
    ex = find_chat_examples(data, block_size=12)
    assert ex.starts.tolist() == [0, 7] and ex.replies.tolist() == [3, 13] and ex.ends.tolist() == [6, 15]
    rows, plens, ends = chat_rows(data, ex, [1, 0], block_size=12)
    assert rows.shape == (2, 13) and rows[0].tolist() == data[7:20].tolist()
    short, _, _ = chat_rows(data[:16], ex, [1], block_size=12)
    assert short[0].tolist() == data[7:16].tolist() + [0] * 4  # past the data's end: padding
    y = mask_prefix_targets(rows[:, 1:], plens, ends)
    learned = [[t for t in row if t >= 0] for row in y.tolist()]
    assert learned == [[27, E], [22, 23, E]]  # the reply and its end marker, nothing of the prompt


def test_no_example_without_a_reply_in_a_story_file():
    data = np.array([40, 41, 42, E, 43, 44, E], dtype=np.uint16)
    assert len(find_chat_examples(data, 16)) == 0


@pytest.fixture(scope="module")
def chat_data(tmp_path_factory):
    """A chat dataset prepared from 10 generated conversations (block 300 characters)."""
    paths = cleaned_conversations(tmp_path_factory.mktemp("chat") / "ds", 10)
    prepare_data.run(build_config(prepare_data.PrepareConfig, {"format": "chat", "val_fraction": 0.3,
                                                               "chat_block_size": BLOCK, "chat_reply_tokens": 60,
                                                               "chat_memory_tokens": 120}), paths)
    return paths


def test_sampled_rows_start_at_an_example_and_end_at_its_marker(chat_data):
    meta = load_meta(chat_data.processed)
    data = open_tokens(chat_data.processed, "train", meta)
    ex = find_chat_examples(data, BLOCK)
    assert len(ex) > 50
    gen = torch.Generator().manual_seed(0)
    picks = torch.randint(len(ex), (16,), generator=torch.Generator().manual_seed(0)).tolist()
    rows, plens, ends = sample_chat_rows(data, ex, 16, BLOCK, gen)
    for row, p, e, i in zip(rows.tolist(), plens.tolist(), ends.tolist(), picks):
        s = int(ex.starts[i])
        assert s == 0 or data[s - 1] == E                       # the row opens where its example does
        assert row[: e + 1] == data[s: s + e + 1].tolist()
        assert row[p - 1] == A and A not in row[p:e] and row[e] == E  # learned: after the last assistant turn


def tiny_cfg(tmp_path, name, **over):
    return build_config(train.TrainConfig, {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": BLOCK,
                                            "batch_size": 4, "eval_iters": 2, "plot": False, "threads": 1,
                                            "lr_decay_iters": 6, "out_dir": str(tmp_path / name), **over})


def test_training_on_chat_rows_evaluates_replies_and_resumes_bit_for_bit(chat_data, tmp_path):
    train.run(tiny_cfg(tmp_path, "a", max_iters=6, chat_ratio=0.5, eval_interval=3), chat_data)
    train.run(tiny_cfg(tmp_path, "b", max_iters=3, chat_ratio=0.5, eval_interval=3), chat_data)
    b = train.run(tiny_cfg(tmp_path, "b", max_iters=6, chat_ratio=0.5, eval_interval=3), chat_data)
    assert b["resumed"]
    wa, wb = (load_checkpoint(tmp_path / x / LAST).tensors for x in "ab")
    for k in wa:
        if k.startswith(("model/", "optim/")):
            assert torch.equal(wa[k], wb[k]), k
    train.run(tiny_cfg(tmp_path, "c", max_iters=6, eval_interval=3), chat_data)
    assert not torch.equal(wa["model/wte.weight"], load_checkpoint(tmp_path / "c" / LAST).tensors["model/wte.weight"])
    # evaluation scores replies only: at step 0 (the same random weights) a different figure from plain windows
    va, vc = (json.loads((tmp_path / x / "metrics.jsonl").read_text().splitlines()[0])["val_loss"] for x in "ac")
    assert va is not None and vc is not None and va != vc


def test_chat_ratio_on_data_without_chat_examples_is_a_one_line_error(chat_data, tmp_path):
    with pytest.raises(UserError, match="chat_ratio > 0 needs chat examples"):
        train.run(tiny_cfg(tmp_path, "x", max_iters=1, chat_ratio=1.0, block_size=16), chat_data)
    with pytest.raises(UserError, match="chat_ratio must be between 0 and 1"):
        train.run(tiny_cfg(tmp_path, "y", max_iters=1, chat_ratio=1.5), chat_data)


def test_examples_that_answer_from_their_memory_block_are_found_and_drawn_half_the_time():
    from model.tokenizer import CharTokenizer
    from common.text_format import ASSISTANT, EOT, MEMORY_CLOSE, MEMORY_OPEN, USER
    from training.chat_rows import recall_examples
    values = [f"{a}{b}{c}ix" for a in "bcdfg" for b in "aeiou" for c in "klmnp"][:120]
    texts = []
    for i, v in enumerate(values):
        memory = f"{MEMORY_OPEN}user: My colour is {v}.{MEMORY_CLOSE}" if i % 3 else ""
        reply = f"It's {v}!" if i % 2 == 0 else "Hello there, nice to chat."
        texts.append(f"{memory}{USER}What colour do I like?{ASSISTANT}{reply}{EOT}")
    text = "".join(texts)
    tok = CharTokenizer()
    tok.add_chars(text)
    data = np.asarray(tok.encode(text), dtype=np.uint16)
    ex = find_chat_examples(data, 128)
    assert len(ex) == 120
    ex.recalls = recall_examples(data, ex, tok.decode)
    # a reply naming the value its memory block holds; "colour" is in the memory block but not a rare reply word
    assert ex.recalls.tolist() == [i for i in range(120) if i % 2 == 0 and i % 3]
    gen = torch.Generator().manual_seed(0)
    picks = []
    for _ in range(50):
        rows, plens, ends = sample_chat_rows(data, ex, 8, 128, gen)
        picks += [tok.decode(r[p: e].numpy()) for r, p, e in zip(rows, plens, ends)]
    # half drawn among the recalls, half uniformly (of which half recall): 0.75 expected, 0.5 without the draw
    assert 0.65 <= sum(p.startswith("It's") for p in picks) / len(picks) <= 0.85
