"""Recall weights (training/recall_weights.py): which targets of a memory row weigh more, that other rows keep
weight 1, the weighted loss, and the trainer's memory_recall_weight (changes what is learned, resumes bit for bit,
one-line error for a bad value), and the same for chat rows and chat_recall_weight."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from common.config import UserError
from common.text_format import (ASSISTANT_ID, EOT_ID, MEMORY_CLOSE_ID, MEMORY_OPEN_ID, SUMMARY_CLOSE_ID,
                                SUMMARY_OPEN_ID, USER_ID)
from model.checkpoint import LAST, load_checkpoint
from training import train, trainer
from training.recall_weights import common_tokens, recall_weights, weighted_loss

from tests.test_chat_rows import chat_data, tiny_cfg  # noqa: F401  (chat_data: the module fixture)
from tests.test_memory_step import (  # noqa: F401  (built: the module fixture, a demo dataset + memory)
    assert_option_changes_training_and_resumes, built, cfg_of)

O, C = SUMMARY_OPEN_ID, SUMMARY_CLOSE_ID


def test_recall_targets_are_summary_tokens_the_window_uses_first_and_that_are_not_common():
    #             prefix: <s> 50 51 60 </s>   window: 40 50 40 50 51 60 52
    row = [O, 50, 51, 60, C, 40, 50, 40, 50, 51, 60, 52]
    w = recall_weights(torch.tensor([row]), torch.tensor([5]), 4.0, common=np.array([60]))
    assert w.shape == (1, len(row) - 1)
    # target of position t is row[t + 1]: 50 first used at index 6 (position 5), 51 at index 9 (position 8);
    # the second 50 (index 8) is in the window already; 60 is common; 40 and 52 are not in the summary
    assert w[0].tolist() == [1, 1, 1, 1, 1, 4, 1, 1, 4, 1, 1]


def test_only_memory_example_rows_are_weighted():
    plain = [50] * 8
    writing = [O, 50, C, 50, 51, O, 51, C]       # a summary-writing row: its prefix ends with <|summary|>
    chat = [7, 50, 8, 9, 50, 10, 51, 0]          # a chat row: no summary at the front
    memory = [O, 50, C, 51, 50, 52, 50, 51]
    rows = torch.tensor([plain, writing, chat, memory])
    w = recall_weights(rows, torch.tensor([0, 6, 5, 3]), 3.0, common=np.array([], dtype=np.int64))
    assert w[:3].eq(1).all()
    assert w[3].tolist() == [1, 1, 1, 3, 1, 1, 1]


def test_chat_recall_targets_are_reply_tokens_only_the_memory_block_holds():
    M, MC, U, A, E = MEMORY_OPEN_ID, MEMORY_CLOSE_ID, USER_ID, ASSISTANT_ID, EOT_ID
    #      memory block: 50 51 60 | user: 51 44 | reply: 50 51 52 50 60 | end
    row = [M, 50, 51, 60, MC, U, 51, 44, A, 50, 51, 52, 50, 60, E, 0]
    plen = row.index(A) + 1
    rows, plens = torch.tensor([row]), torch.tensor([plen])
    assert recall_weights(rows, plens, 3.0, common=np.array([60])).eq(1).all()  # chat_weight 1: nothing
    w = recall_weights(rows, plens, 3.0, common=np.array([60]), chat_weight=4.0)
    # target of position t is row[t + 1]: the reply's first 50 (index 9, position 8) only the memory block holds;
    # 51 is in the user's message too, 52 is not in the block, the second 50 is not its first use, 60 is common
    assert w[0].tolist() == [1] * 8 + [4] + [1] * 6
    no_block = [U, 51, 44, A, 50, 51, E, 0]
    assert recall_weights(torch.tensor([no_block]), torch.tensor([4]), 3.0, np.array([]), 4.0).eq(1).all()


def test_chat_recall_weight_changes_training_and_resumes_bit_for_bit(chat_data, tmp_path, monkeypatch):  # noqa: F811
    # characters: the 64 commonest ids would be nearly every one, leaving no target (the chat profile uses BPE)
    monkeypatch.setattr(trainer, "common_tokens", lambda data: common_tokens(data, k=8))

    def run(name, steps, **over):
        return train.run(tiny_cfg(tmp_path, name, max_iters=steps, chat_ratio=1.0, eval_interval=3, **over),
                         chat_data)
    run("a", 6, chat_recall_weight=5.0)
    run("b", 3, chat_recall_weight=5.0)
    assert run("b", 6, chat_recall_weight=5.0)["resumed"]
    run("c", 6)
    wa, wb, wc = (load_checkpoint(tmp_path / x / LAST).tensors for x in "abc")
    for k in wa:
        if k.startswith(("model/", "optim/")):
            assert torch.equal(wa[k], wb[k]), k
    assert not torch.equal(wa["model/wte.weight"], wc["model/wte.weight"])


def test_common_tokens_are_the_most_frequent_ids():
    data = np.array([5, 5, 5, 2, 2, 9, 1, 1, 1, 1], dtype=np.uint16)
    assert common_tokens(data, k=2).tolist() == [1, 5]


def test_the_weighted_loss_is_the_weighted_mean_over_the_targets_kept():
    logits = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([[1, -1, 3], [4, 5, 6]])
    weights = torch.tensor([[2.0, 9.0, 1.0], [1.0, 1.0, 3.0]])
    ce = F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1), ignore_index=-1, reduction="none")
    expected = (2 * ce[0] + ce[2] + ce[3] + ce[4] + 3 * ce[5]) / 8
    assert torch.allclose(weighted_loss(logits, targets, weights), expected)
    ones = torch.ones(2, 3)
    assert torch.allclose(weighted_loss(logits, targets, ones),
                          F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1), ignore_index=-1))


def test_recall_weight_changes_training_and_resumes_bit_for_bit(built, tmp_path):  # noqa: F811
    assert_option_changes_training_and_resumes(built[0], tmp_path, {"memory_recall_weight": 5.0}, stop=3)


@pytest.mark.parametrize("key", ["memory_recall_weight", "chat_recall_weight"])
@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_a_bad_recall_weight_is_a_one_line_error(built, tmp_path, bad, key):  # noqa: F811
    with pytest.raises(UserError, match=f"{key}.* must be a"):
        train.run(cfg_of(max_iters=1, out_dir=str(tmp_path / "x"), **{key: bad}), built[0])
