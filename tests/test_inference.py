"""Inference: checkpoint lookup and loading, KV-cached decoding against full recomputation (both layouts), the
sliding window past block_size, pinned prefix, determinism, int8 / bf16 / fp16 weights.

Checkpoints here are written with the real `save_checkpoint` from randomly initialised tiny models (residual
projections not zeroed, so every layer matters): what is tested is the arithmetic, not the text quality."""

import math
import os
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from common.config import UserError
from model.checkpoint import save_checkpoint
from common.text_format import NOT_IN_STORIES, NUM_SPECIAL, SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID
from generation.inference import KVDecoder, find_checkpoint, generate_ids, load_model
from generation.sampling_config import SampleConfig
from model.gpt import GPT, ModelConfig, apply_rotary, rotary_tables
from generation.quantize import Int8Linear, dequantize_weight, quantize_weight
from model.tokenizer import CharTokenizer

BLOCK = 32
TEXT = "the cat sat on the mat. a dog ran to the sea. we go up and down.\n"


def make_checkpoint(path, pos: str = "rope", seed: int = 0, vocab_extra: int = 3):
    """A tiny GPT checkpoint (rope: the default layout; learned: the GPT-2 layout) with a char tokenizer."""
    tok = CharTokenizer(sorted(set(TEXT)))
    torch.manual_seed(seed)
    over = dict(block_size=BLOCK, n_layer=2, n_head=2, n_embd=32, zero_init_proj=False)
    vocab = tok.vocab_size + vocab_extra  # padded rows, as with vocab_multiple: never emitted
    mcfg = ModelConfig.gpt2(vocab, **over) if pos == "learned" else ModelConfig(vocab_size=vocab, **over)
    model = GPT(mcfg)
    opt = torch.optim.AdamW(model.parameters())
    state = {"step": 1, "model_config": mcfg.to_dict(), "tokenizer": tok.to_dict(), "config": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, opt, dict(model.named_parameters()), {}, state)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("inference")
    return {pos: make_checkpoint(root / pos / "last.safetensors", pos) for pos in ("rope", "learned")}


def full_logits(model: GPT, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids]))[0][0]  # [T, V]


def decoder_logits(model: GPT, ids: list[int], first: int, pinned: int = 0) -> torch.Tensor:
    """Logits after each of ids[first-1:], prefilling ids[:first] then stepping one token at a time."""
    dec = KVDecoder(model, pinned)
    with torch.no_grad():
        out = [dec.prefill(ids[:first])] + [dec.step(t) for t in ids[first:]]
    return torch.stack(out)


def random_ids(n: int, vocab: int, seed: int = 0) -> list[int]:
    return torch.randint(16, vocab, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


# ------------------------------------------------------------------------------------------- lookup, loading
def test_find_checkpoint_newest_folder_file_and_missing(tmp_path):
    with pytest.raises(UserError, match="no checkpoint under"):
        find_checkpoint("", root=tmp_path)
    a = make_checkpoint(tmp_path / "a" / "last.safetensors")
    b = make_checkpoint(tmp_path / "b" / "last.safetensors")
    os.utime(a, (time.time() + 10, time.time() + 10))
    assert find_checkpoint("", root=tmp_path) == a.resolve()
    assert find_checkpoint(str(tmp_path / "b"), root=tmp_path) == b.resolve()
    assert find_checkpoint("b", root=tmp_path) == b.resolve()
    assert find_checkpoint(str(b), root=tmp_path) == b.resolve()
    with pytest.raises(UserError, match="not found"):
        find_checkpoint(str(tmp_path / "nope"), root=tmp_path)


def test_load_model_reads_the_weights_and_tokenizer(ckpts):
    for pos, path in ckpts.items():
        lm = load_model(path)
        ref = GPT(lm.model.cfg)
        ref.load_state_dict({k[len("model/"):]: v for k, v in load_file(str(path)).items()
                             if k.startswith("model/")}, strict=False)
        if ref.cfg.tie_embeddings:
            ref.lm_head.weight = ref.wte.weight
        ids = random_ids(BLOCK, lm.tokenizer.vocab_size)
        assert torch.allclose(full_logits(lm.model, ids), full_logits(ref.eval(), ids), atol=1e-5), pos
        assert lm.tokenizer.decode(lm.tokenizer.encode("the cat")) == "the cat"
        # tie kept: the head multiplies by the very matrix the embedding reads (one copy in memory)
        assert lm.model.lm_head.weight_t is lm.model.wte.weight_t
        assert lm.state["step"] == 1


def test_load_refuses_unknown_dtype(ckpts):
    with pytest.raises(UserError, match="dtype"):
        load_model(ckpts["rope"], dtype="int4")


# ------------------------------------------------------------------------------------------- KV cache
@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_kv_cache_logits_equal_full_recomputation_within_the_block(ckpts, pos):
    lm = load_model(ckpts[pos])
    ids = random_ids(BLOCK, lm.tokenizer.vocab_size, seed=1)
    got = decoder_logits(lm.model, ids, first=5)
    want = full_logits(lm.model, ids)[4:]
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_greedy_text_equals_full_recomputation(ckpts, pos):
    lm = load_model(ckpts[pos])
    prompt = lm.tokenizer.encode("the dog").tolist()
    n = BLOCK - len(prompt)
    got = list(generate_ids(lm, prompt, n, SampleConfig(temperature=0, stop_at_eot=False)))
    ctx = list(prompt)
    never = [SUMMARY_OPEN_ID, SUMMARY_CLOSE_ID, *range(7, NUM_SPECIAL)]  # tags generate never emits
    for _ in range(n):
        logits = full_logits(lm.model, ctx)[-1, :lm.tokenizer.vocab_size]
        logits[never] = float("-inf")
        ctx.append(int(logits.argmax()))
    assert got == ctx[len(prompt):]
    assert lm.tokenizer.decode(got) == lm.tokenizer.decode(ctx[len(prompt):])


def band_reference(model: GPT, ids: list[int], window: int) -> torch.Tensor:
    """Rotary layout: every token at every layer attends to the `window` most recent tokens (itself included),
    absolute positions as they come: what a ring-buffer KV cache of `window` slots computes."""
    cfg, N = model.cfg, len(ids)
    cos, sin = rotary_tables(cfg.head_dim, N, cfg.rope_base)
    i = torch.arange(N)
    mask = (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < window)  # [query, key]
    with torch.no_grad():
        x = model.wte(torch.tensor([ids]))
        for b in model.blocks:
            a = b.attn
            qkv = a.qkv(b.norm1(x)).view(1, N, 3, cfg.n_head, cfg.head_dim)
            qk = apply_rotary(a.qk_norm(qkv[:, :, :2]), cos[:, None, None], sin[:, None, None])
            q, k, v = (t.transpose(1, 2) for t in (qk[:, :, 0], qk[:, :, 1], qkv[:, :, 2]))
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = x + a.proj(y.transpose(1, 2).reshape(1, N, cfg.n_embd))
            x = x + b.mlp(b.norm2(x))
        return model.lm_head(model.norm_f(x))[0]


def test_rope_past_the_block_is_a_sliding_window_with_a_fixed_cache(ckpts):
    lm = load_model(ckpts["rope"])
    ids = random_ids(4 * BLOCK + 7, lm.tokenizer.vocab_size, seed=2)
    dec = KVDecoder(lm.model)
    k_ptr, shape = dec.k.data_ptr(), tuple(dec.k.shape)
    with torch.no_grad():
        got = torch.stack([dec.prefill(ids[:3])] + [dec.step(t) for t in ids[3:]])
    assert dec.k.data_ptr() == k_ptr and tuple(dec.k.shape) == shape and shape[3] == BLOCK  # never grew
    want = band_reference(lm.model, ids, BLOCK)[2:]
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_generation_runs_far_past_the_block_with_flat_state(ckpts, pos):
    lm = load_model(ckpts[pos])
    sample = SampleConfig(temperature=1.0, stop_at_eot=False)
    ids = list(generate_ids(lm, [], 6 * BLOCK, sample, seed=3, pinned=0))
    assert len(ids) == 6 * BLOCK and all(0 <= i < lm.tokenizer.vocab_size for i in ids)  # padded rows never
    dec = KVDecoder(lm.model, pinned=4)
    with torch.no_grad():
        dec.prefill(ids[:5])
        for t in ids[5:]:
            dec.step(t)
            assert len(dec.history) <= BLOCK
    assert dec.k.shape[3] == BLOCK


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_pinned_prefix_matters_only_past_the_block(ckpts, pos):
    lm = load_model(ckpts[pos])
    ids = random_ids(3 * BLOCK, lm.tokenizer.vocab_size, seed=4)
    free, pinned = decoder_logits(lm.model, ids, 6), decoder_logits(lm.model, ids, 6, pinned=6)
    inside = BLOCK - 6  # rows before the window first slides
    assert torch.allclose(free[:inside], pinned[:inside], atol=1e-5)
    assert not torch.allclose(free[-BLOCK:], pinned[-BLOCK:], atol=1e-3)
    assert torch.isfinite(pinned).all()


def test_same_seed_same_ids_other_seed_other_ids(ckpts):
    lm = load_model(ckpts["rope"])
    s = SampleConfig(temperature=1.0, top_p=0.95, repetition_penalty=1.2, stop_at_eot=False)
    a = list(generate_ids(lm, [20, 21], 80, s, seed=11))
    assert a == list(generate_ids(lm, [20, 21], 80, s, seed=11))
    assert a != list(generate_ids(lm, [20, 21], 80, s, seed=12))


def test_stop_at_eot_ends_the_sample_where_eot_is_drawn(ckpts):
    lm = load_model(ckpts["rope"])
    free = list(generate_ids(lm, [20], 300, SampleConfig(temperature=1.5, stop_at_eot=False), seed=1))
    assert 0 in free  # near-uniform random weights draw <|endoftext|> sooner or later
    stopped = list(generate_ids(lm, [20], 300, SampleConfig(temperature=1.5, stop_at_eot=True), seed=1))
    assert stopped == free[:free.index(0)]
    with pytest.raises(UserError):
        list(generate_ids(lm, [10_000], 5, SampleConfig()))


# ------------------------------------------------------------------------------------------- weight formats
def test_int8_round_trip_error_is_at_most_half_a_step_per_row():
    w = torch.randn(64, 48) * torch.logspace(-3, 1, 64)[:, None]  # rows of very different scales
    w[5] = 0
    q, scale = quantize_weight(w)
    assert q.dtype == torch.int8 and scale.shape == (64,)
    err = (dequantize_weight(q, scale) - w).abs()
    assert (err <= scale[:, None] / 2 + 1e-7 * w.abs().amax(1, keepdim=True)).all()
    assert torch.equal(dequantize_weight(q, scale)[5], torch.zeros(48))
    lin = torch.nn.Linear(48, 64)
    lin.weight.data = w
    x = torch.randn(3, 5, 48)
    want = lin(x)
    got = Int8Linear.from_float(lin.weight, lin.bias)(x)
    assert got.shape == want.shape
    assert ((got - want).norm() / want.norm()) < 0.02


@pytest.mark.parametrize("dtype,tol", [("int8", 0.05), ("bf16", 0.05), ("fp16", 0.01)])
def test_low_precision_weights_stay_close_to_fp32(ckpts, dtype, tol):
    ref, low = load_model(ckpts["rope"]), load_model(ckpts["rope"], dtype=dtype)
    ids = random_ids(BLOCK, ref.tokenizer.vocab_size, seed=5)
    a = decoder_logits(ref.model, ids, 4)
    b = decoder_logits(low.model, ids, 4)
    assert b.dtype == torch.float32
    rel = float((a - b).norm() / a.norm())
    assert rel < tol, rel
    if dtype == "int8":
        assert isinstance(low.model.blocks[0].attn.qkv, Int8Linear) and isinstance(low.model.lm_head, Int8Linear)
        full = low.model(torch.tensor([ids]), torch.tensor([ids]))[1]  # the plain forward works too (val loss)
        assert math.isfinite(float(full))


def test_reserved_special_tokens_are_never_sampled():
    # An untrained model spreads probability over every id, reserved placeholders included.
    from model.gpt import GPT, ModelConfig
    from generation.inference import LoadedModel, generate_ids
    from generation.sampling_config import SampleConfig
    from model.tokenizer import CharTokenizer
    tok = CharTokenizer("ab")
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    with torch.no_grad():
        model.lm_head.weight.zero_()  # uniform logits: 16 specials and 2 characters equally likely
    lm = LoadedModel(model=model, tokenizer=tok, state={}, path=Path("x"), device=torch.device("cpu"))
    ids = list(generate_ids(lm, [tok.eot_id], 400, SampleConfig(temperature=1.0, stop_at_eot=False), seed=3))
    reserved = set(NOT_IN_STORIES)
    assert len(ids) == 400 and not reserved & set(ids)
    assert set(ids) - reserved - {tok.eot_id}  # other ids (characters, other specials) still come out
