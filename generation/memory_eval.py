"""Measuring the rolling memory: probe recall (does the model pick the right fact far past its window?) and the
context ablation (how much of the value of the previous window does the summary carry?).

Probes (story_memory/probes.py): each candidate (the answer and its distractors) is scored by its summed
log-likelihood as the continuation of the probe's context; recall@1 is the share of probes whose answer scores
highest. Two readings of the same probe, side by side:
- with memory: the context reaches the model exactly as in generation, through `RollingStory` (everything
  before the window only through the summary);
- without memory: the last block of tokens alone.
Whitespace that ends the context is moved onto the candidates (a BPE tokenizer joins a space to the next word).
Distances are counted in tokens from the end of the fact's last earlier mention to the probe, bucketed in
multiples of the block size.

In-window recall (a diagnostic): the same probes rebuilt so the answer's sentence sits inside the window; it
tells whether the model can copy a name it just read, which reading a summary needs first.

Context ablation on documents: the loss of a stretch of `window` tokens given (a) nothing, (b) the rolling
summary of everything before it, (c) the summary at the same point of a different document (from half the document
list away), (d) the previous `block - window` tokens in full. usefulness = (a - b) / (a - d): 0 means the summary
is worth nothing, 1 that it is worth the full previous text. The stretch's first token is scored in none of the
four: in (a) nothing comes before it, so no model can predict it, and scoring it in the other three only would
credit any prefix with its loss.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable

import torch
import torch.nn.functional as F

from story_memory.documents import document_folds
from story_memory.rolling import Schedule, rolling_story

MAX_BUCKET = 8  # distances of 8 blocks and more share one bucket


def _logprob_sums(model, rows: list[list[int]], spans: list[tuple[int, int]]) -> list[float]:
    """Summed log-probabilities of rows[i][a:b] (each token given the ones before it), one forward pass. A token
    needs one before it (a >= 1): a row's first token has no prediction."""
    if any(a < 1 or b > len(r) for r, (a, b) in zip(rows, spans)):
        raise ValueError("a scored span must start after the row's first token and end within the row")
    width = max(len(r) for r in rows)
    batch = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, :len(r)] = torch.tensor(r)
    device = next(model.parameters()).device
    with torch.no_grad():
        logits, _ = model(batch.to(device))
    logp = F.log_softmax(logits.float(), dim=-1).cpu()
    out = []
    for i, (a, b) in enumerate(spans):
        pos = torch.arange(a - 1, b - 1)
        out.append(float(logp[i, pos, batch[i, a:b]].sum()))
    return out


def bucket_of(distance_tokens: int, block_size: int) -> str:
    k = distance_tokens // block_size
    return f"{MAX_BUCKET}+" if k >= MAX_BUCKET else str(k)


def score_probe(model, tok, block_size: int, schedule: Schedule | None, probe, writer=None) -> dict:
    """{"correct": bool, "scores": [answer, *distractors]} for one probe read with memory (schedule) or without
    (None), plus the distance in tokens and, with memory, "held": whether the summary in force holds the answer
    (None without memory). `writer`: fold with it instead of the extractive summarizer
    (generation/summary_writer.py)."""
    context = probe.context.rstrip(" ")
    space = probe.context[len(context):]
    ctx = [int(i) for i in tok.encode(context, errors="ignore")]
    cands = [[int(i) for i in tok.encode(space + c, errors="ignore")] for c in [probe.answer, *probe.distractors]]
    longest = max(len(c) for c in cands)
    if schedule is not None:
        story = rolling_story(tok, schedule)
        story.writer = writer
        story.catch_up(len(ctx) + longest, lambda a, b: tok.decode(ctx[a:b]))
        head = story.prefix + ctx[story.covered:]
        held = probe.answer in tok.decode(story.prefix)
    else:
        head = ctx[max(0, len(ctx) + longest - block_size):]
        held = None
    rows = [head + c for c in cands]
    scores = _logprob_sums(model, rows, [(len(head), len(head) + len(c)) for c in cands])
    distance = len(tok.encode(probe.context[probe.last_mention:], errors="ignore"))
    return {"correct": scores[0] > max(scores[1:]), "scores": scores, "distance": distance, "held": held}


def probe_recall(model, tok, block_size: int, schedule: Schedule, probes: Iterable, progress=None,
                 writer=None) -> dict:
    """The report of a probe set: with and without memory, recall and recall by distance bucket, chance. With
    `writer`, a third reading "with_model_summary": the memory folded by the model (generation/summary_writer.py)."""
    readings = [("with_memory", schedule, None), ("without_memory", None, None)]
    if writer is not None:
        readings.append(("with_model_summary", schedule, writer))
    out = {key: {"hits": 0, "by_distance": {}} for key, _, _ in readings}
    held = {True: [0, 0], False: [0, 0]}  # with memory: [hits, probes] where the summary holds the answer / not
    n, chance = 0, 0.0
    for probe in probes:
        n += 1
        chance += 1.0 / (1 + len(probe.distractors))
        for key, sch, wr in readings:
            r = score_probe(model, tok, block_size, sch, probe, wr)
            b = out[key]["by_distance"].setdefault(bucket_of(r["distance"], block_size), [0, 0])
            b[0] += r["correct"]
            b[1] += 1
            out[key]["hits"] += r["correct"]
            if key == "with_memory":
                held[r["held"]][0] += r["correct"]
                held[r["held"]][1] += 1
        if progress is not None:
            progress()
    for key, _, _ in readings:
        hits = out[key].pop("hits")
        out[key]["recall"] = round(hits / n, 4) if n else None
        out[key]["by_distance"] = {k: {"recall": round(h / t, 4), "probes": t}
                                   for k, (h, t) in sorted(out[key]["by_distance"].items(), key=_bucket_order)}
    # Why recall with memory is what it is: how often the summary holds the answer at all, and how often the
    # model picks it when it does (recall <= held + (1 - held) x chance for a model that reads perfectly)
    out["with_memory"]["answer_in_summary"] = round(held[True][1] / n, 4) if n else None
    for flag, key in ((True, "recall_if_in_summary"), (False, "recall_if_not_in_summary")):
        h, t = held[flag]
        out["with_memory"][key] = round(h / t, 4) if t else None
    out["chance"] = round(chance / n, 4) if n else None
    out["probes"] = n
    return out


def answer_sentence(text: str, answer: str) -> str | None:
    """The sentence of `text` where `answer` first occurs (cut after '.', '!', '?' or a newline), or None."""
    i = text.find(answer)
    if i < 0:
        return None
    start = 0
    for mark in (". ", "! ", "? ", "\n"):
        j = text.rfind(mark, 0, i)
        if j >= 0:
            start = max(start, j + len(mark))
    end = len(text)
    for mark in (".", "!", "?", "\n"):
        j = text.find(mark, i + len(answer))
        if j >= 0:
            end = min(end, j + 1)
    return text[start:end].strip()


def in_window_recall(model, tok, block_size: int, probes: Iterable, tail_chars: int = 80) -> dict:
    """Can the model copy at all? Each probe rebuilt short: the sentence that first gave the answer, a blank line,
    then the probe's last `tail_chars` characters, all inside one window, scored without memory. Near chance here
    means the model does not yet copy a name it read a sentence earlier, so no summary can help it either."""
    hits = n = 0
    chance = 0.0
    for probe in probes:
        sentence = answer_sentence(probe.context, probe.answer)
        if sentence is None:
            continue
        short = dataclasses.replace(probe, context=sentence + "\n\n" + probe.context[-tail_chars:], last_mention=0)
        hits += score_probe(model, tok, block_size, None, short)["correct"]
        chance += 1.0 / (1 + len(probe.distractors))
        n += 1
    return {"recall": round(hits / n, 4) if n else None, "chance": round(chance / n, 4) if n else None,
            "probes": n}


def _bucket_order(item) -> int:
    k = item[0]
    return int(k.rstrip("+"))


def recall_beyond(report: dict, key: str, min_blocks: int) -> tuple[float | None, int]:
    """(recall over the buckets of min_blocks blocks and more, how many probes) from a probe_recall report."""
    hits = total = 0
    for k, v in report[key]["by_distance"].items():
        if int(k.rstrip("+")) >= min_blocks:
            hits += v["recall"] * v["probes"]
            total += v["probes"]
    return (round(hits / total, 4) if total else None), total


def _window_loss(model, rows: list[list[int]], window: int) -> float:
    """Mean loss of the last `window` tokens of each row but the first of them (see the module's docstring)."""
    sums = _logprob_sums(model, rows, [(len(r) - window + 1, len(r)) for r in rows])
    return -sum(sums) / ((window - 1) * len(rows))


def context_ablation(model, tok, schedule: Schedule, docs: list, max_points: int = 200) -> dict:
    """Losses (a) no context, (b) own summary, (c) another document's summary, (d) the full previous text, over
    up to max_points fold points of the documents `docs` (token id arrays); and usefulness."""
    block = schedule.block_size
    window = schedule.min_window
    points = []  # (doc index, covered, prefix)
    folds = [document_folds(d, tok, schedule) for d in docs]
    for di, (doc, fl) in enumerate(zip(docs, folds)):
        for covered, prefix, _ in fl:
            if prefix and covered >= block - window and covered + window <= len(doc):
                points.append((di, covered, prefix))
    if len(docs) < 2 or not points:
        return {"points": 0}
    step = max(1, len(points) // max_points)
    points = points[::step][:max_points]
    losses = {"none": [], "summary": [], "other_summary": [], "full_previous": []}
    for di, covered, prefix in points:
        doc = [int(i) for i in docs[di]]
        target = doc[covered: covered + window]
        other = _other_prefix(folds, di, _fold_index(folds[di], covered))
        losses["none"].append(_window_loss(model, [target], window))
        losses["summary"].append(_window_loss(model, [prefix + target], window))
        if other:
            losses["other_summary"].append(_window_loss(model, [other + target], window))
        losses["full_previous"].append(_window_loss(model, [doc[covered - (block - window): covered] + target],
                                                    window))
    mean = {k: (sum(v) / len(v) if v else math.nan) for k, v in losses.items()}
    gap = mean["none"] - mean["full_previous"]
    usefulness = (mean["none"] - mean["summary"]) / gap if gap > 0 else math.nan
    return {"points": len(points), "window": window, **{f"loss_{k}": round(v, 4) for k, v in mean.items()},
            "usefulness": round(usefulness, 4)}


def _other_prefix(folds: list, di: int, k: int) -> list[int] | None:
    """The k-th summary prefix (or the last there is) of another document: the first with one, searching from half
    the list away (parts cut from one book sit side by side, and a neighbour may be the same tale)."""
    n = len(folds)
    for oj in range(n // 2, n // 2 + n):
        j = (di + oj) % n
        if j == di:
            continue
        prefixes = [p for _, p, _ in folds[j] if p]
        if prefixes:
            return prefixes[min(k, len(prefixes) - 1)]
    return None


def _fold_index(folds: list, covered: int) -> int:
    for k, (c, _, _) in enumerate(folds):
        if c == covered:
            return k
    return 0
