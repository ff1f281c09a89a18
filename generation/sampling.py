"""Logit processors for sampling the next token: repetition penalty, temperature, top-k, top-p (nucleus).

Pure functions on float logits [V] (one position of one sequence) or [B, V] (one row per sequence decoded
together); each works along the last dimension, row by row, returns a new tensor and never changes its input.
`pick_tokens` chains them in the usual order (penalty, temperature, top-k, top-p, draw) for all rows at once and
draws each row with its own `torch.Generator`, so the same generator state always picks the same token;
`pick_token` is the one-row case. On the CPU it runs the same rules in numpy (`pick_rows`): a torch operation
costs ~3-30 us of dispatch and torch.topk over 32,000 ids ~100 us, so the chain of ~20 of them took 0.5 ms per
token there, a fifth of a stories15M-shaped decoding step; numpy's took ~0.1 ms (see pick_rows).
`RecentTokens` is the fixed-size window of recent ids the repetition penalty looks at.
"""

from __future__ import annotations

import numpy as np
import torch


def apply_repetition_penalty(logits: torch.Tensor, recent: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make every id in `recent` ([W] or [B, W] int64, one row per logits row, repeats allowed) less likely:
    positive logits are divided by `penalty`, negative ones multiplied (the CTRL paper's rule, as in Hugging
    Face). penalty 1.0 = off."""
    if penalty == 1.0 or recent.numel() == 0:
        return logits
    if penalty <= 0:
        raise ValueError(f"repetition penalty must be > 0 (got {penalty})")
    vals = logits.gather(-1, recent)
    # duplicates write the same value
    return logits.scatter(-1, recent, torch.where(vals > 0, vals / penalty, vals * penalty))


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits divided by `temperature` (> 0); use greedy decoding for temperature 0."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 here (got {temperature}); 0 means greedy")
    return logits if temperature == 1.0 else logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits (ties with the k-th are kept too), the others become -inf. k <= 0 or >= V: off."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


NUCLEUS_PROBE = 256  # top_p first looks among this many most likely ids (see top_p_filter)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely ids whose probabilities sum to >= p (always at least
    the most likely one; ids tied with the least likely kept one are kept too); the others become -inf. p >= 1:
    off.

    Only the ranked probabilities are needed, not which id holds each: the nucleus is every id at or above the
    smallest probability kept. They come from a top-NUCLEUS_PROBE selection when those ids already hold >= p of
    the probability (then the nucleus lies among them: the next id has >= p ranked above it), else from sorting
    all of them. Most steps never sort: the probe held the nucleus at every step of bench/generate.py's stories15M
    model, at temperature 0.8 and 1.5 alike. (On the CPU, pick_tokens runs `nucleus` in numpy instead.)"""
    if p >= 1.0:
        return logits
    if p <= 0:
        raise ValueError(f"top_p must be in (0, 1] (got {p})")
    probs = torch.softmax(logits.float(), dim=-1)
    vocab = probs.shape[-1]
    ranked = torch.topk(probs, min(NUCLEUS_PROBE, vocab), dim=-1).values
    if ranked.shape[-1] < vocab and bool((ranked.sum(-1) < p).any()):
        ranked = torch.sort(probs, dim=-1, descending=True).values
    before = torch.cumsum(ranked, dim=-1) - ranked  # probability mass of the ids ranked above each one
    # the first id has 0 before it, so it is always kept and `least` is finite
    least = torch.where(before < p, ranked, torch.inf).amin(dim=-1, keepdim=True)
    return torch.where(probs >= least, logits, float("-inf"))


def pick_tokens(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, repetition_penalty: float,
                recent: torch.Tensor, generators: list[torch.Generator]) -> list[int]:
    """The next id of each row of float logits [B, V] (`recent` [B, W]: each row's recent ids): penalty, then
    greedy (temperature 0) or temperature/top-k/top-p and a draw from that row's generator."""
    if logits.device.type == "cpu":
        return pick_rows(logits.float().numpy().copy(), temperature, top_k, top_p, repetition_penalty,
                         recent.numpy(), generators)
    return pick_tokens_torch(logits, temperature, top_k, top_p, repetition_penalty, recent, generators)


def pick_tokens_torch(logits: torch.Tensor, temperature: float, top_k: int, top_p: float,
                      repetition_penalty: float, recent: torch.Tensor, generators: list[torch.Generator]) -> list[int]:
    """pick_tokens through the torch filters above, on any device (a GPU's logits stay there)."""
    logits = apply_repetition_penalty(logits, recent, repetition_penalty)
    if temperature <= 0:
        return torch.argmax(logits, dim=-1).tolist()
    logits = top_p_filter(top_k_filter(apply_temperature(logits, temperature), top_k), top_p)
    return draw(torch.softmax(logits.float(), dim=-1), generators)


def pick_token(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, repetition_penalty: float,
               recent: torch.Tensor, generator: torch.Generator) -> int:
    """The next id from float logits [V] (one row of pick_tokens)."""
    return pick_tokens(logits[None], temperature, top_k, top_p, repetition_penalty, recent[None], [generator])[0]


def draw(probs: torch.Tensor, generators: list[torch.Generator]) -> list[int]:
    """An id per row of `probs` [B, V], drawn by inverting the row's running sum at one uniform number from the
    row's generator: the same distribution as torch.multinomial, whose CPU kernel draws an exponential for every
    id (~0.65 ms for 32,000 ids, a tenth of a decoding step; this takes ~0.05 ms). Ids of probability 0 are
    never drawn (their running sum does not rise past the previous id's, and the search returns the first id
    whose sum exceeds the point)."""
    cdf = torch.cumsum(probs, dim=-1, dtype=torch.float64)
    points = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in generators])
    ids = torch.searchsorted(cdf, (points * cdf[:, -1])[:, None], right=True)[:, 0]
    return ids.clamp_(max=probs.shape[-1] - 1).tolist()


def pick_rows(x: np.ndarray, temperature: float, top_k: int, top_p: float, repetition_penalty: float,
              recent: np.ndarray, generators: list[torch.Generator]) -> list[int]:
    """pick_tokens on float32 logits [B, V] in numpy (`x` is changed in place; `recent` [B, W] int64): the same
    rules as the torch filters above (penalty, greedy or temperature, top-k with ties kept, the nucleus with the
    ids tied at its edge, each row drawn at one uniform number from its generator), with the
    probabilities summed in another order, so an id at the edge of the nucleus or of a draw can differ from the
    torch path's in the last float bit. The draw inverts the running sum over the kept ids only (an id outside
    the nucleus adds 0 to the torch path's running sum, so the points fall alike)."""
    if repetition_penalty != 1.0 and recent.size:
        if repetition_penalty <= 0:
            raise ValueError(f"repetition penalty must be > 0 (got {repetition_penalty})")
        vals = np.take_along_axis(x, recent, -1)
        np.put_along_axis(x, recent, np.where(vals > 0, vals / repetition_penalty, vals * repetition_penalty), -1)
    if temperature <= 0:
        return x.argmax(-1).tolist()
    if temperature != 1.0:
        x /= np.float32(temperature)
    vocab = x.shape[-1]
    if 0 < top_k < vocab:
        kth = np.partition(x, vocab - top_k, axis=-1)[:, vocab - top_k, None]
        x[x < kth] = -np.inf
    if not 0 < top_p:
        raise ValueError(f"top_p must be in (0, 1] (got {top_p})")
    e = np.exp(x - x.max(-1, keepdims=True))
    probs = e / e.sum(-1, keepdims=True)
    if len(probs) > 1 and vocab <= WHOLE_ROWS_VOCAB:
        return _pick_whole_rows(probs, top_p, generators)
    out = []
    for row, gen in zip(probs, generators):
        ids = nucleus(row, top_p) if top_p < 1.0 else np.flatnonzero(row > 0)
        cdf = np.cumsum(row[ids], dtype=np.float64)
        point = torch.rand(1, generator=gen, dtype=torch.float64).item() * cdf[-1]
        out.append(int(ids[min(int(np.searchsorted(cdf, point, side="right")), len(ids) - 1)]))
    return out


# Several rows over at most this many ids are picked all at once (whole rows sorted, one running sum each): 8 rows
# of 89 ids took 40 us so against 126 us one row at a time; over 4,096 ids sorting whole rows costs more than it
# saves (8 rows: 351 against 250 us; 2-core Intel Xeon, a /tmp script). One row is always picked on its own.
WHOLE_ROWS_VOCAB = 1024


def _pick_whole_rows(probs: np.ndarray, top_p: float, generators: list[torch.Generator]) -> list[int]:
    """pick_rows' nucleus and draw for all rows of probabilities [B, V] at once, with the same result: every
    row is sorted whole (the same ranked prefix as `nucleus`), and its running sum runs over every id, an id
    outside the nucleus adding 0, so the first id whose sum exceeds the point is the one pick_rows draws."""
    if top_p < 1.0:
        ranked = np.sort(probs, axis=-1)[:, ::-1]
        before = np.cumsum(ranked, axis=-1) - ranked
        least = np.where(before < top_p, ranked, np.inf).min(-1, keepdims=True)
        probs = np.where(probs >= least, probs, 0)
    cdf = np.cumsum(probs, axis=-1, dtype=np.float64)
    points = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in generators]).numpy()
    ids = (cdf <= (points * cdf[:, -1])[:, None]).sum(-1)  # the first id whose running sum exceeds the point
    return np.minimum(ids, probs.shape[-1] - 1).tolist()


def nucleus(probs: np.ndarray, p: float) -> np.ndarray:
    """The ids (ascending) of the smallest set of most likely ids whose probabilities sum to >= p, with the ids
    tied with the least likely kept one (top_p_filter's rule) for one row of probabilities [V], 0 < p < 1.

    Only the ids of probability >= (1 - p) / V need ranking: the others, fewer than V, hold less than 1 - p
    together, so the most likely ids reach p before any of them. For a peaked row that is a few hundred ids of
    32,000, and the threshold pass costs a quarter of a top-256 partition."""
    ranked = np.sort(probs[probs >= (1.0 - p) / probs.shape[-1]])[::-1]
    before = np.cumsum(ranked) - ranked  # mass ranked above each; the first id's is 0, so it is always kept
    return np.flatnonzero(probs >= ranked[before < p].min())


class RecentTokens:
    """The last `window` ids in a preallocated ring (no growth however long the text): `ids()` gives them
    (in ring order; the penalty does not care about order)."""

    def __init__(self, window: int):
        self.window = max(0, int(window))
        self.buf = torch.zeros(max(1, self.window), dtype=torch.long)
        self.count = 0

    def add(self, token: int) -> None:
        if self.window:
            self.buf[self.count % self.window] = token
            self.count += 1

    def ids(self) -> torch.Tensor:
        return self.buf[: min(self.count, self.window)]
