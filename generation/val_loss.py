"""Validation loss of a model on prepared tokens, and the units (characters or bytes) it is counted in.

Shared by scripts/evaluate.py and bench/generate.py, so both score a model the same way.
"""

import numpy as np

from model.tokenizer import NUM_SPECIAL  # ids below it are special strings in every tokenizer


def eval_windows(n_tokens: int, block_size: int, max_eval_tokens: int) -> list[tuple[int, int]]:
    """(start, length) of the windows scored: consecutive, non-overlapping, `length` tokens predicted each (the
    window reads tokens start .. start+length-1 and predicts start+1 .. start+length)."""
    scored = n_tokens - 1 if max_eval_tokens <= 0 else min(n_tokens - 1, max_eval_tokens)
    return [(s, min(block_size, scored - s)) for s in range(0, max(scored, 0), block_size)]


def val_loss(model, tokens: np.ndarray, block_size: int, max_eval_tokens: int, batch_size: int,
             device: str = "cpu") -> tuple[float, int, int]:
    """(mean cross-entropy in nats per predicted token, tokens predicted, windows) of `model` on `tokens`;
    `model(x)` returns logits [B, T, V] or a tuple whose first item they are."""
    import torch
    import torch.nn.functional as F
    windows = eval_windows(len(tokens), block_size, max_eval_tokens)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(windows), batch_size):
            group = windows[i:i + batch_size]
            # a short last window runs on its own so every batch is one rectangle
            for part in ([group] if len({n for _, n in group}) == 1 else [[w] for w in group]):
                n = part[0][1]
                rows = np.stack([np.asarray(tokens[s:s + n + 1], dtype=np.int64) for s, _ in part])
                x = torch.from_numpy(rows[:, :-1]).to(device)
                y = torch.from_numpy(rows[:, 1:]).to(device)
                out = model(x)
                logits = out[0] if isinstance(out, tuple) else out
                loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum")
                total += float(loss)
                count += y.numel()
    return (total / count if count else float("nan")), count, len(windows)


def units_of(tokenizer, target_ids: np.ndarray) -> tuple[str, int]:
    """(unit name, how many of them the target ids stand for): characters for the char tokenizer, bytes for the
    byte tokenizer (one per token), UTF-8 bytes of the decoded text for BPE; a special id counts as one."""
    kind = tokenizer.to_dict().get("type")
    if kind == "char":
        return "char", int(len(target_ids))
    if kind == "byte":
        return "byte", int(len(target_ids))
    text = tokenizer.decode(np.asarray(target_ids))
    specials = np.asarray(target_ids) < NUM_SPECIAL
    extra = sum(len(tokenizer.specials[int(i)].encode("utf-8")) - 1 for i in np.asarray(target_ids)[specials])
    return "byte", len(text.encode("utf-8")) - extra
