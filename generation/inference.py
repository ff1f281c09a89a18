"""Model-side inference: find and load a checkpoint for inference, and generate tokens with a KV cache.

Loading reads only the `model/` tensors of a checkpoint (never the optimizer state; never unpickles; one tensor
at a time), builds the GPT without its random init and assigns them, then either lays the linear weights out
transposed for batch-1 decoding (fp32, bf16, fp16: `generation.quantize`; a tied head shares one transposed
matrix with the embedding) or replaces every linear layer by weight-only int8. The stored model config is
validated and matched against the file's tensors (`model.checkpoint_check`) before the model is built, so a
damaged or edited state is a one-line error.

Generation (`generate_ids`) runs the GPT's own submodules one new token at a time against a preallocated KV cache
of exactly `block_size` slots per layer ([L, B, H, block_size, D] for keys and as much for values; B rows when
`generate_rows` decodes several samples together), so memory and cost per token stay flat however long the text
gets. A float32 model on the CPU takes those single-token steps in numpy (generation/numpy_step.py, same
logits, ~2x faster there); the thread counts are generation/threads.py's. Past the block a sliding window
keeps the most recent tokens plus the first `pinned` prompt tokens:

- rotary positions (default layout): the cache is a ring. Slots [0, P) hold the pinned tokens, slots [P, block)
  the most recent block - P tokens, each new token overwriting the oldest (no copies at all). Attention of a
  single query needs no mask and does not care about slot order, and rotary scores depend only on the distance
  between query and key, so cached keys stay valid as the window slides. Queries take their true position (it
  grows without bound; angles are computed in float64). The pinned keys are re-rotated from their stored
  un-rotated form, every token once the ring has wrapped, to sit right before the oldest window token: every
  distance the model sees stays <= block_size - 1, the range it was trained on.
- learned absolute positions (GPT-2 layout): positions cannot go past block_size - 1 and they are baked into
  every layer's keys, so when the block is full the cache is reset and the pinned tokens plus the most recent
  half block are re-encoded at positions 0.. in one batched forward pass (prefill), then decoding continues one
  token at a time. That costs one half-block prefill every half block (a fraction of a token step each token,
  amortised); the attention span then varies between half a block and a full block.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import torch
import torch.nn as nn

from common.config import UserError
from common.paths import training_out_dir
from common.text_format import NOT_IN_STORIES
from generation.copy_completion import CopyCompletion
from generation.kv_decoder import KVDecoder, rope_rows  # noqa: F401  (KVDecoder: tests import it from here)
from generation.memory_window import RollingWindow
from generation.quantize import DTYPES, Int8Linear, TransposedEmbedding, TransposedLinear
from generation.sampling import RecentTokens, pick_tokens
from generation.sampling_config import SampleConfig
from model.checkpoint import LAST, iter_model_tensors, model_tensor_shapes, read_state
from model.checkpoint_check import check_aliases, check_shapes, check_weight_count, saved_model_config
from model.gpt import GPT
from model.token_files import tokenizer_from_dict
from model.tokenizer import Tokenizer
from story_memory.rolling import Schedule


@dataclass
class LoadedModel:
    model: GPT                        # eval mode, on `device` (linear layers may be int8: generation.quantize)
    tokenizer: Tokenizer              # from the checkpoint's state (the tokenizer travels inside the checkpoint)
    state: dict                       # the checkpoint's JSON state (step, config, model_config, ...)
    path: Path
    device: torch.device
    dtype: str = "fp32"


def find_checkpoint(spec: str = "", root: Path | None = None) -> Path:
    """The checkpoint file `spec` names: "" = the newest <root>/*/last.safetensors, a folder = its
    last.safetensors, a run name = <root>/<name>/last.safetensors, a file = itself. UserError when none."""
    root = Path(root) if root else training_out_dir()
    if spec:
        p = Path(spec).expanduser()
        for cand in (p, root / spec):
            if cand.is_file():
                return cand.resolve()
            if cand.is_dir():
                if (cand / LAST).is_file():
                    return (cand / LAST).resolve()
                raise UserError(f"no {LAST} in {cand}; train one first: python training/train.py --out-dir {cand}")
        raise UserError(f"checkpoint not found: {spec}")
    found = sorted(root.glob(f"*/{LAST}"), key=lambda f: (f.stat().st_mtime, str(f))) if root.is_dir() else []
    if not found:
        raise UserError(f"no checkpoint under {root}/; train one first: python training/train.py --preset tiny")
    return found[-1].resolve()


def load_model(path: Path, dtype: str = "fp32", device: str = "cpu") -> LoadedModel:
    """The checkpoint's model ready for inference in `dtype` (fp32 | bf16 | fp16 | int8) on `device`."""
    if dtype not in DTYPES:
        raise UserError(f"dtype must be one of {', '.join(DTYPES)} (got {dtype!r})")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"unknown device {device!r} (use cpu, cuda or cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda asked for, but no CUDA GPU is available")
    path = Path(path)
    st = read_state(path)
    # The state is checked against the file's tensors before the model is built (see model.checkpoint_check).
    shapes = model_tensor_shapes(path)
    mcfg = saved_model_config(st, path, dropout=0.0, grad_checkpoint=False)
    aliases = check_aliases(st, set(shapes), path)
    check_weight_count(mcfg, shapes, path)
    try:
        tokenizer = tokenizer_from_dict(st["tokenizer"])
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path}: cannot rebuild the tokenizer from its state ({' '.join(str(e).split())})") \
            from None
    if tokenizer.vocab_size > mcfg.vocab_size:
        raise UserError(f"{path}: its tokenizer has {tokenizer.vocab_size:,} ids, its model only "
                        f"{mcfg.vocab_size:,} (damaged or edited state)")
    with _skip_init():
        model = GPT(mcfg)  # no random init and no resident memory: the checkpoint's tensors are placed below
    check_shapes({k: tuple(v.shape) for k, v in model.state_dict().items()}, shapes, aliases, path)
    _place_weights(model, path, aliases, dtype)
    if mcfg.pos == "rope":
        model.rope_cos, model.rope_sin = rope_rows(mcfg, 0, mcfg.block_size)
    model = model.to(dev).eval()
    return LoadedModel(model, tokenizer, st, Path(path), dev, dtype)


def _place_weights(model: GPT, path: Path, aliases: dict, dtype: str) -> None:
    """Put the checkpoint's tensors into `model` one at a time, each linear layer converted to its inference form
    (transposed float, or int8) as soon as its weight and bias are in: peak memory is the result plus one layer.
    A tied output head shares the embedding (float) or gets its own int8 copy."""
    fdt = DTYPES[dtype]
    tied = model.cfg.tie_embeddings
    expected = set(model.state_dict()) - ({"lm_head.weight"} if tied else set())
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear) and not (tied and n == "lm_head")}
    placed: set[str] = set()
    for name, t in iter_model_tensors(path):
        for target in [name] + [a for a, s in aliases.items() if s == name and a in expected]:
            if target not in expected or target in placed:
                raise UserError(f"{path}: unexpected tensor {target!r} for its model_config")
            mod_name, _, attr = target.rpartition(".")
            value = t.to(fdt) if t.is_floating_point() else t
            setattr(model.get_submodule(mod_name), attr, nn.Parameter(value, requires_grad=False))
            placed.add(target)
            lin = linears.get(mod_name)
            if lin is not None and all(f"{mod_name}.{p}" in placed for p, _ in lin.named_parameters()):
                parent, _, child = mod_name.rpartition(".")
                new = Int8Linear.from_float(lin.weight, lin.bias) if dtype == "int8" else \
                    TransposedLinear(lin.weight, lin.bias)
                setattr(model.get_submodule(parent), child, new)
                del linears[mod_name], lin  # the float weight in its loaded layout is freed now
        del t
    missing = expected - placed
    if missing:
        raise UserError(f"{path}: no weights for {sorted(missing)[0]!r} (and {len(missing) - 1} more)")
    if tied and dtype == "int8":
        model.lm_head = Int8Linear.from_float(model.wte.weight)
    elif tied:  # one transposed matrix serves the embedding lookups and the head (quantize.TransposedEmbedding)
        model.wte = TransposedEmbedding(model.wte.weight)
        model.lm_head = TransposedLinear.sharing(model.wte.weight_t)


@contextmanager
def _skip_init() -> Iterator[None]:
    """torch.nn.init's fill functions as no-ops while a model whose every weight is then loaded is built: no time
    spent drawing random weights, and the untouched allocations never become resident memory. (The meta device
    would do the same but its first use imports ~800 modules: +2 s and +74 MB of RSS.) Not thread-safe: it
    swaps module attributes for the duration of the `with`."""
    names = ("normal_", "zeros_", "ones_", "uniform_", "kaiming_uniform_", "trunc_normal_")
    saved = {n: getattr(nn.init, n) for n in names}
    try:
        for n in names:
            setattr(nn.init, n, lambda t, *args, **kwargs: t)
        yield
    finally:
        for n, f in saved.items():
            setattr(nn.init, n, f)


class SlidingWindow:
    """The plain window: the most recent block of tokens (plus `pinned` prompt tokens kept in view)."""

    def __init__(self, model: GPT, pinned: int):
        self.dec, self.pinned = None, pinned
        self.model = model

    def start(self, ids: list[int]) -> torch.Tensor:
        self.dec = KVDecoder(self.model, min(self.pinned, len(ids)))
        return self.dec.prefill(ids)

    def feed(self, token: int) -> torch.Tensor:
        return self.dec.step(token)


def _checked_prompt(lm: LoadedModel, prompt_ids: list[int]) -> list[int]:
    """The prompt as ints (empty: start as after an <|endoftext|>); UserError for ids outside the vocabulary."""
    vocab = lm.tokenizer.vocab_size
    prompt = [int(i) for i in prompt_ids] or [lm.tokenizer.eot_id]
    bad = [i for i in prompt if not 0 <= i < vocab]
    if bad:
        raise UserError(f"prompt id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
    return prompt


def _banned(vocab: int, allow: Iterable[int]) -> list[int]:
    """Special ids never to sample. A young model gives some probability to tags a story never holds
    (placeholders, chat tags, the summary tags only the prefix holds); they would print as literal tags."""
    allowed = set(allow)
    return [i for i in NOT_IN_STORIES if i < vocab and i not in allowed]


def _pick(logits: torch.Tensor, vocab: int, banned: list[int], sample: SampleConfig,
          recents: list[RecentTokens], gens: list[torch.Generator]) -> list[int]:
    """The next id of each row of float32 logits [B, V] (changed in place: padded and banned ids set to -inf)."""
    windows = [r.ids() for r in recents]
    if len({len(w) for w in windows}) > 1:  # rows with windows of different lengths: one at a time
        return [_pick(logits[i:i + 1], vocab, banned, sample, recents[i:i + 1], gens[i:i + 1])[0]
                for i in range(len(recents))]
    # rows padded for vocab_multiple (or spare for growth) are never emitted; on the CPU the ids are masked in
    # numpy, whose indexing costs a fraction of torch's (generation/sampling.py pick_rows)
    masked = logits.numpy() if logits.device.type == "cpu" else logits
    masked[:, vocab:] = float("-inf")
    masked[:, banned] = float("-inf")
    return pick_tokens(logits, sample.temperature, sample.top_k, sample.top_p, sample.repetition_penalty,
                       torch.stack(windows), gens)


def generate_ids(lm: LoadedModel, prompt_ids: list[int], max_new_tokens: int, sample: SampleConfig,
                 seed: int = 1337, pinned: int = 0, memory: Schedule | None = None,
                 memory_log: list | None = None, allow: Iterable[int] = (),
                 copy: CopyCompletion | None = None) -> Iterator[int]:
    """Yield up to `max_new_tokens` new ids one at a time after `prompt_ids` (empty: start as after an
    <|endoftext|>), KV-cached, no cap at block_size. With `memory` (a rolling schedule, see
    generation/memory_window.py) the text that leaves the window is folded into a summary the model reads;
    `memory_log` then gets one record per fold. `allow`: special ids to let through that a story never holds
    (NOT_IN_STORIES; a chat allows its role tags). `copy`: a word of the prompt the output has begun is finished
    as the prompt writes it (generation/copy_completion.py). Same seed/model/flags (and thread count) = same ids."""
    tok = lm.tokenizer
    prompt = _checked_prompt(lm, prompt_ids)
    gen = torch.Generator().manual_seed(int(seed))
    recent = RecentTokens(sample.repetition_window)
    for t in prompt:
        recent.add(t)
    banned = _banned(tok.vocab_size, allow)
    window = RollingWindow(lm.model, tok, memory, memory_log) if memory is not None else \
        SlidingWindow(lm.model, pinned)
    with torch.no_grad():
        logits = window.start(prompt)
    out: list[int] = []
    for i in range(max_new_tokens):
        raised, extra = copy.bonus(out) if copy is not None else ([], 0.0)
        if raised:
            logits[raised] += extra
        nxt = _pick(logits[None], tok.vocab_size, banned, sample, [recent], [gen])[0]
        if sample.stop_at_eot and nxt == tok.eot_id:
            return
        yield nxt
        out.append(nxt)
        recent.add(nxt)
        if i + 1 < max_new_tokens:
            with torch.no_grad():
                logits = window.feed(nxt)


def generate_rows(lm: LoadedModel, prompt_ids: list[int], max_new_tokens: int, sample: SampleConfig,
                  seeds: list[int], pinned: int = 0) -> Iterator[list[int | None]]:
    """Several samples of one prompt decoded together, one row each (the sliding window, no rolling memory):
    every step multiplies all rows by each weight matrix at once, so the weights stream from memory once per
    step for all of them. Yields a list per step: each row's new id, or None once that row has ended (its
    <|endoftext|> with stop_at_eot, which is not yielded); stops when every row has. Row i draws from a generator
    seeded with seeds[i], as generate_ids(seed=seeds[i]) does, so it gives the same ids up to the rounding of
    the batched products."""
    tok = lm.tokenizer
    prompt = _checked_prompt(lm, prompt_ids)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    recents = [RecentTokens(sample.repetition_window) for _ in seeds]
    for recent in recents:
        for t in prompt:
            recent.add(t)
    banned = _banned(tok.vocab_size, ())
    dec = KVDecoder(lm.model, min(pinned, len(prompt)), rows=len(seeds))
    with torch.no_grad():
        logits = dec.prefill(prompt).expand(len(seeds), -1).clone()
    done = [False] * len(seeds)
    last = [tok.eot_id] * len(seeds)
    for i in range(max_new_tokens):
        live = [r for r in range(len(seeds)) if not done[r]]
        picked = _pick(logits[live], tok.vocab_size, banned, sample, [recents[r] for r in live],
                       [gens[r] for r in live])
        out: list[int | None] = [None] * len(seeds)
        for r, nxt in zip(live, picked):
            if sample.stop_at_eot and nxt == tok.eot_id:
                done[r] = True
                continue
            recents[r].add(nxt)
            out[r] = last[r] = nxt
        if all(done):
            return
        yield out
        if i + 1 < max_new_tokens:
            with torch.no_grad():
                logits = dec.step_rows(last)  # an ended row is fed its last id; its logits are ignored
