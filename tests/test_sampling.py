"""Logit processors on hand-made logits: top-k, top-p, repetition penalty, temperature, the draw, the recent window."""

import math

import pytest
import torch

from generation.sampling import (RecentTokens, apply_repetition_penalty, apply_temperature, pick_token,
                               top_k_filter, top_p_filter)

NEG = float("-inf")


def kept(logits: torch.Tensor) -> list[int]:
    return [i for i, v in enumerate(logits.tolist()) if v != NEG]


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([0.1, 3.0, -1.0, 2.0, 0.5])
    assert kept(top_k_filter(logits, 2)) == [1, 3]
    assert kept(top_k_filter(logits, 1)) == [1]
    assert kept(top_k_filter(logits, 0)) == [0, 1, 2, 3, 4]  # off
    assert kept(top_k_filter(logits, 9)) == [0, 1, 2, 3, 4]
    assert top_k_filter(logits, 2)[1] == 3.0  # kept values unchanged


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = [0.05, 0.5, 0.15, 0.3]  # ranked: id1 0.5, id3 0.3, id2 0.15, id0 0.05
    logits = torch.tensor([math.log(p) for p in probs])
    assert kept(top_p_filter(logits, 0.4)) == [1]
    assert kept(top_p_filter(logits, 0.75)) == [1, 3]
    assert kept(top_p_filter(logits, 0.9)) == [1, 2, 3]
    assert kept(top_p_filter(logits, 0.999)) == [0, 1, 2, 3]
    assert kept(top_p_filter(logits, 1e-6)) == [1]  # the most likely is always kept
    assert kept(top_p_filter(logits, 1.0)) == [0, 1, 2, 3]
    tied = torch.tensor([1.0, 1.0, 1.0, 0.0])  # 0.3 / 0.3 / 0.3 / 0.1: two reach 0.5, the third ties the second
    assert kept(top_p_filter(tied, 0.5)) == [0, 1, 2]


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits_of_recent_ids_only():
    logits = torch.tensor([2.0, -2.0, 4.0, 1.0])
    before = logits.clone()
    out = apply_repetition_penalty(logits, torch.tensor([0, 1, 1]), 2.0)
    assert out.tolist() == [1.0, -4.0, 4.0, 1.0]
    assert torch.equal(logits, before)  # input untouched
    assert torch.equal(apply_repetition_penalty(logits, torch.tensor([0, 1]), 1.0), logits)


def test_temperature_scales_and_zero_is_refused_here():
    assert apply_temperature(torch.tensor([1.0, 2.0]), 0.5).tolist() == [2.0, 4.0]
    with pytest.raises(ValueError):
        apply_temperature(torch.tensor([1.0]), 0.0)


def test_pick_token_greedy_seeded_and_filtered():
    logits = torch.tensor([0.0, 1.0, 5.0, 4.9])
    none = torch.zeros(0, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    assert pick_token(logits, 0.0, 0, 1.0, 1.0, none, g) == 2
    # the penalty can change the greedy choice
    assert pick_token(logits, 0.0, 0, 1.0, 2.0, torch.tensor([2]), g) == 3
    draws = [[pick_token(logits, 1.0, 0, 1.0, 1.0, none, gen) for _ in range(50)]
             for gen in (torch.Generator().manual_seed(5), torch.Generator().manual_seed(5))]
    assert draws[0] == draws[1] and set(draws[0]) > {2}  # same seed, same draws; not always the top id
    assert {pick_token(logits, 1.0, 1, 1.0, 1.0, none, g) for _ in range(30)} == {2}  # top-k 1 = greedy
    assert {pick_token(logits, 1.0, 0, 0.5, 1.0, none, g) for _ in range(30)} <= {2, 3}


def test_recent_tokens_is_a_fixed_window():
    r = RecentTokens(3)
    for t in [5, 6, 7, 8, 9]:
        r.add(t)
    assert sorted(r.ids().tolist()) == [7, 8, 9] and r.buf.numel() == 3
    assert RecentTokens(0).ids().numel() == 0


def reference_top_p(logits: torch.Tensor, p: float) -> list[int]:
    """The nucleus by a full sort, written out plainly (what top_p_filter's probe shortcut must agree with)."""
    probs = torch.softmax(logits, -1)
    order = torch.argsort(probs, descending=True).tolist()
    out, mass = [], 0.0
    for i in order:
        if mass >= p:
            break
        out.append(i)
        mass += float(probs[i])
    return sorted(out)


@pytest.mark.parametrize("scale", [8.0, 0.3])  # peaked: the nucleus lies in the probe; flat: it needs the sort
def test_top_p_over_a_wide_vocabulary_equals_a_full_sort(scale):
    from generation.sampling import NUCLEUS_PROBE
    logits = torch.randn(5000, generator=torch.Generator().manual_seed(3)) * scale
    for p in (0.5, 0.9, 0.95):
        got = kept(top_p_filter(logits, p))
        assert got == reference_top_p(logits, p)
        # the two cases really differ: the peaked logits keep fewer ids than the probe holds, the flat ones more
        assert (len(got) < NUCLEUS_PROBE) == (scale > 1)
    kept_values = top_p_filter(logits, 0.9)
    assert torch.equal(kept_values[kept_values != NEG], logits[kept_values != NEG])


def test_top_p_filters_each_row_of_a_batch_on_its_own():
    gen = torch.Generator().manual_seed(4)
    rows = torch.stack([torch.randn(3000, generator=gen) * 8.0, torch.randn(3000, generator=gen) * 0.3])
    out = top_p_filter(rows, 0.9)  # one row's nucleus inside the probe, the other's needs the full sort
    for r in range(2):
        assert kept(out[r]) == reference_top_p(rows[r], 0.9)


def test_draw_follows_the_probabilities_never_picks_a_zero_and_repeats_with_the_seed():
    from generation.sampling import draw
    probs = torch.tensor([0.0, 0.5, 0.0, 0.2, 0.3, 0.0])
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(6)
    for _ in range(20000):
        counts[draw(probs[None], [gen])[0]] += 1
    assert counts[[0, 2, 5]].sum() == 0
    assert torch.allclose(counts / counts.sum(), probs, atol=0.015)
    first = [draw(probs[None], [torch.Generator().manual_seed(7)])[0] for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same draw
    assert draw(torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), [gen, gen]) == [2, 0]


@pytest.mark.parametrize("scale", [8.0, 0.3])
def test_numpy_nucleus_equals_a_full_sort(scale):
    import numpy as np

    from generation.sampling import nucleus
    logits = torch.randn(5000, generator=torch.Generator().manual_seed(3)) * scale
    probs = torch.softmax(logits, -1)
    for p in (0.5, 0.9, 0.95):
        assert nucleus(probs.numpy(), p).tolist() == reference_top_p(logits, p)
    hand = np.array([0.05, 0.5, 0.15, 0.3], dtype=np.float32)  # ranked: id1, id3, id2, id0
    assert [nucleus(hand, p).tolist() for p in (1e-6, 0.4, 0.75, 0.9, 0.999)] == \
        [[1], [1], [1, 3], [1, 2, 3], [0, 1, 2, 3]]
    tied = np.array([0.3, 0.3, 0.3, 0.1], dtype=np.float32)  # two reach 0.5, the third ties the second
    assert nucleus(tied, 0.5).tolist() == [0, 1, 2]


@pytest.mark.parametrize("settings", [(0.8, 0, 0.95, 1.1), (1.0, 0, 1.0, 1.0), (1.3, 40, 0.9, 1.3),
                                      (0.0, 0, 1.0, 1.2), (0.7, 5, 1.0, 1.0)])
def test_numpy_picks_equal_the_torch_filters_for_the_same_generator(settings):
    """The CPU path (numpy) against the torch chain on the same logits and generator states: the same ids, up to
    an id at the float edge of a nucleus or a draw (none in these 600 picks)."""
    import numpy as np

    from generation.sampling import pick_rows, pick_tokens_torch
    temperature, top_k, top_p, penalty = settings
    gen = torch.Generator().manual_seed(11)
    same = 0
    for i in range(200):
        logits = torch.randn(3, 3000, generator=gen) * (6.0 if i % 2 else 1.0)
        recent = torch.randint(0, 3000, (3, 64), generator=gen)
        seeds = [i * 3 + r for r in range(3)]
        ours = pick_rows(logits.numpy().copy(), temperature, top_k, top_p, penalty, recent.numpy(),
                         [torch.Generator().manual_seed(s) for s in seeds])
        theirs = pick_tokens_torch(logits, temperature, top_k, top_p, penalty, recent,
                                   [torch.Generator().manual_seed(s) for s in seeds])
        same += sum(a == b for a, b in zip(ours, theirs))
    assert same == 600
    with pytest.raises(ValueError):
        pick_rows(np.zeros((1, 4), np.float32), 1.0, 0, 0.0, 1.0, np.zeros((1, 0), np.int64), [gen])
    with pytest.raises(ValueError):
        pick_rows(np.zeros((1, 4), np.float32), 1.0, 0, 1.0, 0.0, np.zeros((1, 1), np.int64), [gen])


@pytest.mark.parametrize("top_p", [0.9, 1.0])
def test_rows_over_a_small_vocabulary_picked_together_equal_each_row_alone(top_p):
    """Up to WHOLE_ROWS_VOCAB ids, several rows are picked in one pass over whole sorted rows; the ids are those
    each row gets alone (the threshold-pruned path) and those of the torch chain."""
    import numpy as np

    from generation.sampling import WHOLE_ROWS_VOCAB, pick_rows, pick_tokens_torch
    gen = torch.Generator().manual_seed(5)
    vocab = 200
    assert vocab <= WHOLE_ROWS_VOCAB
    for i in range(100):
        logits = torch.randn(4, vocab, generator=gen) * (5.0 if i % 2 else 1.0)
        recent = torch.randint(0, vocab, (4, 32), generator=gen)
        together = pick_rows(logits.numpy().copy(), 0.9, 0, top_p, 1.1, recent.numpy(),
                             [torch.Generator().manual_seed(i * 4 + r) for r in range(4)])
        alone = [pick_rows(logits[r:r + 1].numpy().copy(), 0.9, 0, top_p, 1.1, recent[r:r + 1].numpy(),
                           [torch.Generator().manual_seed(i * 4 + r)])[0] for r in range(4)]
        torch_ids = pick_tokens_torch(logits, 0.9, 0, top_p, 1.1, recent,
                                      [torch.Generator().manual_seed(i * 4 + r) for r in range(4)])
        assert together == alone == torch_ids
    # by hand: a tie at the nucleus' edge is kept, ids of probability 0 are never drawn
    hand = np.array([[-np.inf, 0.0, -np.inf, 0.0], np.log([0.7, 0.1, 0.1, 0.1])], np.float32)
    drawn = [pick_rows(hand.copy(), 1.0, 0, 0.4, 1.0, np.zeros((2, 0), np.int64),
                       [torch.Generator().manual_seed(s), torch.Generator().manual_seed(s + 99)]) for s in range(60)]
    assert {a for a, _ in drawn} == {1, 3} and {b for _, b in drawn} == {0}
