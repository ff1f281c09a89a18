"""Copy completion: once a reply has begun a word that its prompt holds, the prompt's next piece of that word gets a
logit bonus, so a name the model started to copy from its memory block is finished as it was written.

Why: the chat model (a 0.9M-parameter `tiny` trained for 10 minutes) copies names from its memory block piece by
piece - " K" "ing" "s" "for" "d" - and slips within a word to a likelier piece it saw in training: "Wrenwell" for
"Wrenbury", "Kingshaven" for "Kingsford". A bonus of 4 mends the slips it makes by a small margin (the first), not
those it is sure of (the second). The bonus only ever goes to a piece that continues the word being written, exactly
as the prompt continues it, and only after the reply holds at least `min_pieces` of that word; the model alone
chooses how each word begins and where it ends, so a reply that copies nothing is untouched.

A piece "continues a word" when its text starts with a letter; any other piece (" K", ".", a role tag) starts one.
Two pieces of a word are needed before the bonus: from the first on, a whole word such as " for" grew into a prompt
word ("forgetabiting") in 9 % of the replies to sentences of real books (1 in 400 with two).
Measured (`bench/chat.py --copy-weight 0` against the default 4, three seeds of profiles/chat.yaml): planted facts
recalled at 20 sessions +0.000 to +0.050, the users' own questions +0.02 to +0.04; weight 8 turned 7 % of the other
replies into nonsense, weight 4 changed 5 of 747 (ROADMAP.md, section 9).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.tokenizer import Tokenizer


def continuation_pieces(tokenizer: Tokenizer) -> list[bool]:
    """For each id of the vocabulary: does its text start with a letter (a piece inside a word)?"""
    return [text[:1].isalpha() for text in map(tokenizer.id_to_string, range(tokenizer.vocab_size))]


@dataclass
class CopyCompletion:
    """The bonus for the next id of a reply to `prompt`: `bonus(reply)` -> ids to raise by `weight` logits."""

    prompt: list[int]
    continues: list[bool]   # continuation_pieces of the tokenizer
    weight: float           # the chat's setting (assistant/orchestrator.py ChatSettings.copy_weight) is the default
    min_pieces: int = 2     # pieces of the word already in the reply (its first piece, with the space, counts)

    def __post_init__(self):
        self.prompt = [int(t) for t in self.prompt]

    def bonus(self, reply: list[int]) -> list[int]:
        """Ids that continue, in the prompt, the word the reply is in the middle of (sorted; [] when none)."""
        start = len(reply) - 1
        while start >= 0 and self._continues(reply[start]):
            start -= 1
        word = reply[max(start, 0):]
        if start < 0 or len(word) < self.min_pieces:
            return []  # no word begun in the reply, or too little of it to tell which prompt word it copies
        n, p = len(word), self.prompt
        found = {p[i + n] for i in range(len(p) - n) if p[i:i + n] == word and self._continues(p[i + n])}
        return sorted(found)

    def _continues(self, token: int) -> bool:
        return 0 <= token < len(self.continues) and self.continues[token]
