"""Tests for model/gpt.py: shapes, causality, every option, GPT-2 layout, vocab growth, counts, memory, learning."""

import itertools
import subprocess
import sys

import pytest
import torch

from common.paths import REPO_ROOT
from model.gpt import GPT, ModelConfig, estimate_memory_mb, param_count

torch.set_num_threads(1)
TINY = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)


def make(seed: int = 0, **kw) -> GPT:
    torch.manual_seed(seed)
    return GPT(ModelConfig(**{**TINY, **kw}))


def test_forward_shapes_and_loss():
    model = make()
    idx = torch.randint(0, 11, (3, 16))
    logits, loss = model(idx)
    assert logits.shape == (3, 16, 11) and loss is None
    logits, loss = model(idx[:, :5], idx[:, 1:6])
    assert logits.shape == (3, 5, 11) and loss.ndim == 0 and torch.isfinite(loss)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize("layout", ["default", "gpt2"])
def test_causal_future_tokens_do_not_change_earlier_logits(layout):
    torch.manual_seed(0)
    cfg = ModelConfig.gpt2(**TINY) if layout == "gpt2" else ModelConfig(**TINY, zero_init_proj=False)
    model = GPT(cfg).eval()
    idx = torch.randint(0, 11, (2, 16))
    changed = idx.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 11
    a, b = model(idx)[0], model(changed)[0]
    assert torch.equal(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


OPTIONS = list(itertools.product(["rmsnorm", "layernorm"], ["rope", "learned"], ["swiglu", "relu2", "gelu"],
                                 [True, False], [True, False]))


@pytest.mark.parametrize("norm,pos,mlp,qk_norm,flag", OPTIONS)
def test_every_option_combination_runs_a_backward_step(norm, pos, mlp, qk_norm, flag):
    # `flag` toggles the remaining booleans together: bias, tie_embeddings (inverted), zero-init, dropout, checkpointing
    model = make(norm=norm, pos=pos, mlp=mlp, qk_norm=qk_norm, bias=flag, tie_embeddings=not flag,
                 zero_init_proj=flag, dropout=0.1 if flag else 0.0, grad_checkpoint=flag,
                 ffn_widths=[16, 48] if flag else None)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    idx = torch.randint(0, 11, (2, 16))
    _, loss = model(idx, idx)
    loss.backward()
    opt.step()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.num_params() == param_count(model.cfg)


def test_gpt2_layout_is_available():
    cfg = ModelConfig.gpt2(65, n_layer=4, n_head=4, n_embd=128, block_size=64)
    assert (cfg.norm, cfg.pos, cfg.mlp, cfg.bias, cfg.qk_norm, cfg.zero_init_proj) == \
        ("layernorm", "learned", "gelu", True, False, False)
    model = GPT(cfg)
    assert isinstance(model.norm_f, torch.nn.LayerNorm) and model.wpe is not None
    assert model.blocks[0].mlp.fc.out_features == 512  # nanoGPT: 4 * n_embd
    # nanoGPT's CPU recipe with 65 chars has ~0.80M parameters (embeddings included)
    assert 0.79e6 < model.num_params() < 0.82e6


def test_invalid_configs_are_refused():
    for bad in [dict(n_embd=15), dict(norm="batchnorm"), dict(pos="alibi"), dict(mlp="tanh"),
                dict(ffn_widths=[16]), dict(n_head=16)]:  # n_head=16 -> head size 1: odd with rope
        with pytest.raises(ValueError):
            ModelConfig(**{**TINY, **bad})


@pytest.mark.parametrize("bad,msg", [
    (dict(n_embd=-128), "n_embd must be a whole number >= 1"), (dict(block_size=1e12), "block_size must be a whole"),
    (dict(block_size=10**12), "block_size must be <="), (dict(rope_base=float("nan")), "rope_base must be a finite"),
    (dict(ffn_mult=float("inf")), "ffn_mult must be a finite"), (dict(dropout=float("nan")), "dropout"),
    (dict(vocab_size=True), "vocab_size must be a whole number"), (dict(bias="yes"), "bias must be true or false"),
    (dict(ffn_widths=[16.5, 16]), "ffn_widths must be a list of whole numbers"),
])
def test_values_from_a_damaged_file_are_refused_before_any_allocation(bad, msg):
    """A checkpoint's stored config is rebuilt through ModelConfig: NaN, floats for sizes and absurd lengths must
    stop there, not in torch (a traceback, or a rotary table of 10^12 rows)."""
    with pytest.raises(ValueError, match=msg):
        ModelConfig(**{**TINY, **bad})


@pytest.mark.parametrize("tied", [True, False])
def test_resize_vocab_keeps_old_rows_and_logits(tied):
    model = make(tie_embeddings=tied, zero_init_proj=False).eval()
    old_wte = model.wte.weight.detach().clone()
    old_head = model.lm_head.weight.detach().clone()
    idx = torch.randint(0, 11, (2, 16))
    before = model(idx)[0]
    model.resize_vocab(15)
    assert model.cfg.vocab_size == 15 and model.wte.weight.shape == (15, 16)
    assert model.lm_head.weight.shape == (15, 16)
    assert torch.equal(model.wte.weight[:11], old_wte) and torch.equal(model.lm_head.weight[:11], old_head)
    assert torch.isfinite(model.wte.weight[11:]).all() and model.wte.weight[11:].std() > 0.005
    assert (model.lm_head.weight is model.wte.weight) == tied
    after = model(idx)[0]
    assert after.shape == (2, 16, 15)
    # old tokens, old positions: same logits (up to the rounding of a wider output matmul)
    assert torch.allclose(after[..., :11], before, rtol=0, atol=1e-5)
    new_idx = torch.full((1, 4), 14)
    _, loss = model(new_idx, new_idx)
    loss.backward()  # new rows train
    assert model.wte.weight.grad[14].abs().sum() > 0
    with pytest.raises(ValueError, match="shrink"):
        model.resize_vocab(12)


def test_resize_vocab_is_seeded_not_global_rng():
    a, b = make(seed=1), make(seed=1)
    torch.manual_seed(123)
    a.resize_vocab(20)
    torch.manual_seed(999)
    b.resize_vocab(20)
    assert torch.equal(a.wte.weight, b.wte.weight)


def test_num_params_matches_hand_count():
    cfg = ModelConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8, ffn_widths=[16],
                      norm="layernorm", pos="learned", mlp="gelu", bias=True, qk_norm=False, tie_embeddings=False)
    # wte 10*8, wpe 8*8, lm_head 10*8, final LN 2*8; block: 2 LN 2*2*8, qkv 8*24+24, proj 8*8+8,
    # fc 8*16+16, proj 16*8+8
    hand = 80 + 64 + 80 + 16 + 32 + (192 + 24) + (64 + 8) + (128 + 16) + (128 + 8)
    assert GPT(cfg).num_params() == hand == param_count(cfg)
    tied = ModelConfig(**{**cfg.to_dict(), "tie_embeddings": True})
    assert GPT(tied).num_params() == hand - 80
    assert GPT(cfg).num_params(exclude_embeddings=True) == hand - 80 - 64


def test_memory_estimate_monotonic():
    cfg = ModelConfig(vocab_size=65, block_size=64)
    acts = [estimate_memory_mb(cfg, b)["activations"] for b in (1, 4, 16)]
    assert acts[0] < acts[1] < acts[2]
    longer = ModelConfig(vocab_size=65, block_size=128)
    assert estimate_memory_mb(longer, 4)["activations"] > estimate_memory_mb(cfg, 4)["activations"]
    est = estimate_memory_mb(cfg, 4)
    assert est["total"] == pytest.approx(sum(v for k, v in est.items() if k != "total"))
    assert est["optimizer"] == pytest.approx(2 * est["weights"])
    ckpt = ModelConfig(vocab_size=65, block_size=64, n_layer=8, grad_checkpoint=True)
    assert estimate_memory_mb(ckpt, 4)["activations"] < estimate_memory_mb(
        ModelConfig(vocab_size=65, block_size=64, n_layer=8), 4)["activations"]


MEASURE = """
import os, sys, threading, time, torch
from model.gpt import GPT, ModelConfig
torch.set_num_threads(1)
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20
cfg = ModelConfig(vocab_size=65, block_size=128, n_layer=4, n_head=4, n_embd=128)
model = GPT(cfg)
tiny = torch.zeros(1, 1, dtype=torch.long)
model(tiny, tiny)[1].backward()
x = torch.randint(0, 65, (32, 128))
# Current RSS sampled during the step (ru_maxrss is a high-water mark: an earlier peak can hide this one).
peak, done = [0.0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.0005)
before = rss()
t = threading.Thread(target=sample)
t.start()
model(x, x)[1].backward()
done.set()
t.join()
print(max(peak[0], rss()) - before)
"""


def test_memory_estimate_within_factor_of_measured_peak_rss():
    out = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, check=True,
                         cwd=REPO_ROOT,
                         # Large blocks straight from mmap and back to the OS on free: without this, glibc's
                         # reuse of earlier heap pages made the RSS delta swing from 55 to 273 MB run to run.
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "", "MALLOC_MMAP_THRESHOLD_": "65536"})
    measured = float(out.stdout.strip())
    est = estimate_memory_mb(ModelConfig(vocab_size=65, block_size=128, n_layer=4, n_head=4, n_embd=128), 32)
    assert 0.67 < est["activations"] / measured < 1.5, (est["activations"], measured)


def test_loss_goes_down_on_a_learnable_sequence():
    model = make(seed=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    seq = torch.arange(40) % 11  # periodic: each token determines the next
    x, y = seq[:-1].unfold(0, 16, 4)[:4], seq[1:].unfold(0, 16, 4)[:4]
    first = model(x, y)[1].item()
    for _ in range(50):
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first


def test_deterministic_with_a_seed():
    idx = torch.randint(0, 11, (2, 16))
    a, b = make(seed=7, dropout=0.1), make(seed=7, dropout=0.1)
    for model in (a, b):
        torch.manual_seed(5)
        _, loss = model(idx, idx)
        loss.backward()
    assert torch.equal(a.eval()(idx)[0], b.eval()(idx)[0])
    assert all(torch.equal(p.grad, q.grad) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(make(seed=8).wte.weight, a.wte.weight)

