"""The numpy decoding step and batched decoding: logits equal to the torch path for every model layout and for int8
weights, with the float products in numpy's BLAS or in torch, through the sliding window and a pinned prefix; rows
decoded together give each seed's own sample; the thread settings are put back; the benchmark's weight-bytes
count."""

import pytest
import torch

from bench.bandwidth import weight_bytes_per_token
import generation.kv_decoder as kv_decoder
from generation.inference import KVDecoder, generate_ids, generate_rows, load_model
from generation.kv_decoder import cache_dtype, cache_dtype_name, default_cache_dtype, set_cache_dtype
from generation.numpy_step import set_torch_products, supports, torch_products
from generation.sampling_config import SampleConfig
from generation.threads import decode_threads, pick_decoding
from model.checkpoint import save_checkpoint
from model.gpt import GPT, ModelConfig
from model.tokenizer import CharTokenizer

TEXT = "the cat sat on the mat. a dog ran to the sea.\n"
LAYOUTS = {
    "default": {},
    "rmsnorm": {"norm": "rmsnorm"},
    "swiglu": {"mlp": "swiglu"},
    "gelu-bias": {"mlp": "gelu", "bias": True},
    "untied-no-qknorm": {"qk_norm": False, "tie_embeddings": False},
    "gpt2": None,
}


def checkpoint(path, layout: str):
    tok = CharTokenizer(sorted(set(TEXT)))
    over = dict(block_size=24, n_layer=2, n_head=2, n_embd=32, zero_init_proj=False)
    vocab = tok.vocab_size + 16 + 3
    kw = LAYOUTS[layout]
    cfg = ModelConfig.gpt2(vocab, **over) if kw is None else ModelConfig(vocab_size=vocab, **over, **kw)
    torch.manual_seed(1)
    model = GPT(cfg)
    state = {"step": 1, "model_config": cfg.to_dict(), "tokenizer": tok.to_dict(), "config": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, torch.optim.AdamW(model.parameters()), dict(model.named_parameters()), {}, state)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("numpy_step")
    return {name: checkpoint(root / name / "last.safetensors", name) for name in LAYOUTS}


@pytest.fixture(params=["numpy", "torch"])
def products(request):
    """Where the float32 weight products run for the decoders a test builds (put back after)."""
    before = set_torch_products(request.param == "torch")
    yield request.param
    set_torch_products(before)


def stepped(model, ids, numpy_step: bool, pinned: int = 3) -> torch.Tensor:
    dec = KVDecoder(model, pinned, numpy_step=numpy_step)
    assert (dec.fast is not None) == numpy_step
    with torch.no_grad():
        return torch.stack([dec.prefill(ids[:5])] + [dec.step(t) for t in ids[5:]])


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype,tol", [("fp32", 1e-5), ("int8", 2e-2)])
def test_numpy_step_logits_equal_the_torch_path_past_the_block(ckpts, layout, dtype, tol, products):
    lm = load_model(ckpts[layout], dtype)
    assert supports(lm.model)
    ids = torch.randint(16, lm.tokenizer.vocab_size, (80,), generator=torch.Generator().manual_seed(2)).tolist()
    fast, ref = stepped(lm.model, ids, True), stepped(lm.model, ids, False)  # 80 tokens: the block (24) wraps
    assert KVDecoder(lm.model).fast.in_torch == (products == "torch")
    assert fast.shape == ref.shape == (76, lm.model.cfg.vocab_size)
    assert torch.allclose(fast, ref, atol=tol, rtol=0), (fast - ref).abs().max()
    assert fast.std() > 0.01  # real logits, not a constant


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype,tol", [("fp32", 2e-3), ("int8", 2e-2)])  # logits' std ~0.13
def test_a_bf16_cache_holds_half_the_bytes_and_nearly_the_same_logits(ckpts, layout, dtype, tol, products):
    lm = load_model(ckpts[layout], dtype)
    ids = torch.randint(16, lm.tokenizer.vocab_size, (80,), generator=torch.Generator().manual_seed(2)).tolist()
    exact = stepped(lm.model, ids, True)
    with cache_dtype("bf16"):
        dec = KVDecoder(lm.model, 3)
        assert dec.k.dtype == dec.v.dtype == torch.bfloat16 and dec.k_pinned.dtype == torch.float32
        assert dec.fast.attention_in_torch  # numpy has no bfloat16: torch reads the cache
        fast, ref = stepped(lm.model, ids, True), stepped(lm.model, ids, False)  # past the block, pinned prefix
    assert dec.k.element_size() * 2 == KVDecoder(lm.model, 3).k.element_size()
    assert torch.allclose(fast, ref, atol=tol, rtol=0), (fast - ref).abs().max()
    assert torch.allclose(fast, exact, atol=tol, rtol=0), (fast - exact).abs().max()
    assert not torch.equal(fast, exact)  # the cache really is rounded


def test_auto_cache_is_bf16_only_where_torch_reads_it_on_a_cpu_with_bf16(ckpts, monkeypatch):
    fp32, int8 = load_model(ckpts["default"]).model, load_model(ckpts["default"], "int8").model
    bf16 = load_model(ckpts["default"], "bf16").model
    f32, b16 = torch.float32, torch.bfloat16
    assert [default_cache_dtype(m) for m in (fp32, int8, bf16)] == [f32, f32, b16]  # library default: exact
    for native in (True, False):
        monkeypatch.setattr(kv_decoder, "cpu_has_native_bf16", lambda: native)
        with cache_dtype("auto"):
            assert default_cache_dtype(fp32) == f32  # products and attention in numpy
            assert default_cache_dtype(int8) == (b16 if native else f32)
            assert default_cache_dtype(bf16) == b16
            with decode_threads(1, fp32, torch_products=True):
                assert default_cache_dtype(fp32) == (b16 if native else f32)
                assert cache_dtype_name(fp32) == ("bf16" if native else "fp32")
        with cache_dtype("bf16"):
            assert default_cache_dtype(fp32) == b16 and KVDecoder(fp32).k.dtype == b16
    assert default_cache_dtype(int8) == f32  # put back after the with
    with pytest.raises(ValueError, match="fp32, bf16"):
        set_cache_dtype("f16")


def test_low_precision_floats_keep_the_torch_path(ckpts):
    assert not supports(load_model(ckpts["default"], "bf16").model)
    assert KVDecoder(load_model(ckpts["default"], "fp16").model).fast is None


@pytest.mark.parametrize("layout", ["default", "gpt2"])
@pytest.mark.parametrize("kv", ["fp32", "bf16"])
def test_rows_decoded_together_are_each_seeds_own_sample(ckpts, layout, products, kv):
    lm = load_model(ckpts[layout])
    prompt = lm.tokenizer.encode("the cat").tolist()
    sample = SampleConfig(temperature=1.0, top_p=0.95, repetition_penalty=1.1, stop_at_eot=False)
    seeds = [5, 6, 7]
    with cache_dtype(kv):
        rows = list(zip(*generate_rows(lm, prompt, 60, sample, seeds, pinned=2)))
        alone = [list(generate_ids(lm, prompt, 60, sample, seed=s, pinned=2)) for s in seeds]
    assert [list(r) for r in rows] == alone
    assert len({tuple(a) for a in alone}) == 3  # different seeds, different samples


def test_rows_end_one_by_one_at_their_eot(ckpts):
    lm = load_model(ckpts["default"])
    with torch.no_grad():  # near-uniform logits: EOT comes up within a few dozen tokens in every row
        lm.model.norm_f.weight.mul_(0.01)
    sample = SampleConfig(temperature=1.0, stop_at_eot=True)
    steps = list(generate_rows(lm, [], 400, sample, [1, 2, 3, 4]))
    per_row = [[s[r] for s in steps] for r in range(4)]
    for r, seed in enumerate([1, 2, 3, 4]):
        ended = [t for t in per_row[r] if t is not None]
        assert ended == list(generate_ids(lm, [], 400, sample, seed=seed))
        assert None not in per_row[r][:len(ended)]  # None only after the row's end
    assert any(len([t for t in row if t is not None]) < 400 for row in per_row)


def test_decoder_rows_must_match(ckpts):
    dec = KVDecoder(load_model(ckpts["default"]).model, rows=2)
    with pytest.raises(ValueError, match="2 rows"):
        dec.prefill_rows([[1, 2]])
    dec.prefill([3, 4])
    with pytest.raises(ValueError, match="2 tokens"):
        dec.step_rows([5])


def blas_threads() -> set[int]:
    from threadpoolctl import threadpool_info
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_decode_threads_give_the_products_pool_the_threads_and_put_both_back(ckpts):
    before, blas_before = torch.get_num_threads(), blas_threads()
    fp32, int8 = load_model(ckpts["default"]).model, load_model(ckpts["default"], "int8").model
    with decode_threads(2, fp32):  # float32 products run in numpy's BLAS: torch keeps one thread
        assert torch.get_num_threads() == 1 and blas_threads() == {2}
    with decode_threads(2, int8):  # int8 products run in torch: BLAS keeps one thread
        assert torch.get_num_threads() == 2 and blas_threads() == {1}
    with decode_threads(2, fp32, torch_products=True):  # float32 products moved to torch: torch gets the threads
        assert torch.get_num_threads() == 2 and blas_threads() == {1} and torch_products()
        assert KVDecoder(fp32).fast.in_torch
    assert torch.get_num_threads() == before and blas_threads() == blas_before and not torch_products()
    assert not KVDecoder(fp32).fast.in_torch
    picked = pick_decoding(fp32, rows=2, candidates=[1, 2])
    assert picked[0] in (1, 2) and isinstance(picked[1], bool)
    assert pick_decoding(int8, candidates=[2]) == (2, False)  # one option: nothing to time
    assert torch.get_num_threads() == before and not torch_products()


def test_weight_bytes_per_token_counts_every_matrix_once_and_one_embedding_row(ckpts):
    fp32 = load_model(ckpts["default"]).model
    cfg = fp32.cfg
    C, L, V = cfg.n_embd, cfg.n_layer, cfg.vocab_size
    per_layer = (3 * C * C + C * C + 2 * C * cfg.hidden_widths()[0]) * 4 + (2 * C + cfg.head_dim) * 4
    tied_head = V * C * 4  # the head reads the whole matrix; the embedding row is inside it
    assert weight_bytes_per_token(fp32) == L * per_layer + tied_head + C * 4
    int8 = load_model(ckpts["default"], "int8").model
    linear_int8 = (3 * C * C + C * C + 2 * C * cfg.hidden_widths()[0]) + (3 * C + C + cfg.hidden_widths()[0] + C) * 4
    head_int8 = V * C + V * 4
    norms = (2 * C + cfg.head_dim) * 4
    assert weight_bytes_per_token(int8) == L * (linear_int8 + norms) + head_int8 + C * 4 + C * 4


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_numpy_prefill_fills_the_cache_as_the_torch_path(ckpts, layout, products):
    lm = load_model(ckpts[layout])
    ids = torch.randint(16, lm.tokenizer.vocab_size, (2, 20), generator=torch.Generator().manual_seed(3)).tolist()
    fast, ref = KVDecoder(lm.model, 3, rows=2), KVDecoder(lm.model, 3, rows=2, numpy_step=False)
    with torch.no_grad():
        logits = fast.prefill_rows(ids), ref.prefill_rows(ids)
    assert torch.allclose(*logits, atol=1e-5, rtol=0) and logits[0].std() > 0.01
    assert not torch.allclose(logits[0][0], logits[0][1])  # two different rows, each its own
    for name in ("k", "v", "k_pinned"):
        assert torch.allclose(getattr(fast, name), getattr(ref, name), atol=1e-5, rtol=0), name
    assert fast.k[:, :, :, :20].abs().sum() > 0
