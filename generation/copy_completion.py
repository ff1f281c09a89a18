"""Copy completion: once a reply has begun a word that its prompt holds, the prompt's next piece of that word gets a
logit bonus, so a name the model started to copy from its memory block is finished as it was written.

Why: the chat model (a 0.9M-parameter `tiny` trained for 10 minutes) copies names from its memory block piece by
piece - " K" "ing" "s" "for" "d" - and slips within a word to a likelier piece it saw in training: "Wrenwell" for
"Wrenbury", "Kingshaven" for "Kingsford". The bonus only ever goes to a piece that continues the word being
written, exactly as the prompt continues it, and only after the reply holds at least `min_pieces` of that word; the
model alone chooses how each word begins and where it ends, so a reply that copies nothing is untouched.

A piece "continues a word" when its text starts with a letter; any other piece (" K", ".", a role tag) starts one.
Two pieces of a word are needed before the bonus: from the first on, a whole word such as " for" grew into a prompt
word ("forgetabiting") in 9 % of the replies to sentences of real books (1 in 400 with two).
A word that begins with a capital letter (a name, a town) gets twice the bonus (NAME_FACTOR): the slips the plain
bonus left were in names the model was surer of ("Percimb" for "Percy", "Lincross" for "Linstead"), and doubling
it for every word turned 7 % of the other replies into nonsense ("weight 8" below), while doubling it for
capitalised words only changed 2 of 1,458 other replies, both to the name the user had just said.
Measured (`bench/chat.py`, three seeds of profiles/chat.yaml trained before the retrieval changes of 2026-12-05;
ROADMAP.md, section 9): planted facts recalled at 20 sessions +0.02 to +0.08 against no bonus (0.900 / 0.883 /
0.950), the users' own questions +0.02 to +0.03.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.tokenizer import Tokenizer

NAME_FACTOR = 2.0  # the bonus for a word that begins with a capital letter, in multiples of the weight


@dataclass(frozen=True)
class WordPieces:
    """Per id of a vocabulary: does its text continue a word (starts with a letter), is its first character after
    any spaces a capital letter (" K", "Tom"), is it spaces alone (a char tokenizer's " ")?"""

    continues: list[bool]
    capital: list[bool]
    blank: list[bool]


def word_pieces(tokenizer: Tokenizer) -> WordPieces:
    texts = [tokenizer.id_to_string(i) for i in range(tokenizer.vocab_size)]
    return WordPieces([t[:1].isalpha() for t in texts], [t.lstrip()[:1].isupper() for t in texts],
                      [t.isspace() for t in texts])


@dataclass
class CopyCompletion:
    """The bonus for the next id of a reply to `prompt`: `bonus(reply)` -> (ids to raise, logits to add)."""

    prompt: list[int]
    pieces: WordPieces
    weight: float           # the chat's setting (assistant/orchestrator.py ChatSettings.copy_weight) is the default
    min_pieces: int = 2     # pieces of the word already in the reply (its first piece, with the space, counts)

    def __post_init__(self):
        self.prompt = [int(t) for t in self.prompt]

    def bonus(self, reply: list[int]) -> tuple[list[int], float]:
        """Ids that continue, in the prompt, the word the reply is in the middle of (sorted; [] when none), and
        the logits to add to them: the weight, or NAME_FACTOR times it for a word that begins with a capital."""
        start = len(reply) - 1
        while start >= 0 and self._flag(self.pieces.continues, reply[start]):
            start -= 1
        word = reply[max(start, 0):]
        if start < 0 or len(word) < self.min_pieces:
            return [], 0.0  # no word begun in the reply, or too little of it to tell which prompt word it copies
        n, p = len(word), self.prompt
        found = {p[i + n] for i in range(len(p) - n)
                 if p[i:i + n] == word and self._flag(self.pieces.continues, p[i + n])}
        if not found:
            return [], 0.0
        # a char tokenizer writes the space apart: " " "T" "o" "m"
        first = word[1] if len(word) > 1 and self._flag(self.pieces.blank, word[0]) else word[0]
        name = self._flag(self.pieces.capital, first)
        return sorted(found), self.weight * (NAME_FACTOR if name else 1.0)

    @staticmethod
    def _flag(flags: list[bool], token: int) -> bool:
        return 0 <= token < len(flags) and flags[token]
