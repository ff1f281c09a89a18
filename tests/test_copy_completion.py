"""Copy completion (generation/copy_completion.py): a word of the prompt that the output has begun is finished as
the prompt writes it - the rule on its own, then through generate_ids with a real (random) GPT."""

from pathlib import Path

import torch

from generation.copy_completion import NAME_FACTOR, CopyCompletion, WordPieces, word_pieces
from generation.inference import LoadedModel, generate_ids
from generation.sampling_config import SampleConfig
from model.gpt import GPT, ModelConfig
from model.tokenizer import CharTokenizer

# ids of a toy vocabulary: 1 " K", 2 "ing", 3 "s", 4 "for", 5 "d", 6 "sh", 7 " live", 8 ".", 9 " k"
PIECES = WordPieces(continues=[False, False, True, True, True, True, True, False, False, False],
                    capital=[False, True, False, False, False, False, False, False, False, False],
                    blank=[False] * 10)
KINGSFORD = [7, 1, 2, 3, 4, 5, 8]  # " live Kingsford."


def test_the_next_piece_of_the_prompt_word_the_reply_has_begun():
    copy = CopyCompletion(KINGSFORD, PIECES, 4.0)
    assert copy.bonus([7, 1, 2]) == ([3], 4.0 * NAME_FACTOR)  # " K" "ing" -> "s", as in the prompt (not "sh")
    assert copy.bonus([7, 1, 2, 3, 4]) == ([5], 4.0 * NAME_FACTOR)
    assert copy.bonus([7, 1, 2, 3, 4, 5]) == ([], 0.0)  # the prompt's word ends there: the model ends it
    assert copy.bonus([7, 1]) == ([], 0.0)           # one piece: " for" may be a word of its own, not "forget" begun
    assert copy.bonus([7, 1, 6]) == ([], 0.0)        # a word the prompt does not hold
    assert copy.bonus([2, 3]) == ([], 0.0)           # no word begun in the reply
    assert CopyCompletion(KINGSFORD, PIECES, 4.0, min_pieces=1).bonus([7, 1]) == ([2], 8.0)  # from the first piece on
    # every continuation the prompt gives the same beginning
    assert CopyCompletion([1, 2, 3, 8, 1, 2, 6, 8], PIECES, 4.0).bonus([1, 2]) == ([3, 6], 8.0)
    assert CopyCompletion([1, 2, 3, 8, 1, 2, 6, 8], PIECES, 4.0).bonus([1, 2, 6, 4]) == ([], 0.0)  # left the words


def test_a_word_that_begins_with_a_capital_gets_twice_the_bonus():
    lower = [7, 9, 2, 3, 8]  # " live kings."
    assert CopyCompletion(lower, PIECES, 4.0).bonus([9, 2]) == ([3], 4.0)
    assert CopyCompletion(KINGSFORD + lower, PIECES, 3.0).bonus([1, 2]) == ([3], 3.0 * NAME_FACTOR)
    assert CopyCompletion(KINGSFORD + lower, PIECES, 3.0).bonus([9, 2]) == ([3], 3.0)
    assert NAME_FACTOR > 1
    # a char tokenizer writes the space apart: " " "K" "i" is a capitalised word too
    tok = CharTokenizer(" Kik")
    sp, k_up, i, k = (tok.encode(c)[0] for c in " Kik")
    assert CopyCompletion([sp, k_up, i, k], word_pieces(tok), 1.0).bonus([sp, k_up]) == ([i], NAME_FACTOR)
    assert CopyCompletion([sp, k, i, k], word_pieces(tok), 1.0).bonus([sp, k]) == ([i], 1.0)
    assert CopyCompletion([sp, k, i, k], word_pieces(tok), 1.0, min_pieces=1).bonus([sp]) == ([k], 1.0)


def test_word_pieces_of_a_vocabulary():
    tok = CharTokenizer("ab .A")
    pieces = word_pieces(tok)
    ids = [tok.encode(c)[0] for c in "ab .A"]
    assert [pieces.continues[i] for i in ids] == [True, True, False, False, True]
    assert [pieces.capital[i] for i in ids] == [False, False, False, False, True]
    assert [pieces.blank[i] for i in ids] == [False, False, True, False, False]
    assert len(pieces.continues) == len(pieces.capital) == len(pieces.blank) == tok.vocab_size
    assert not pieces.continues[tok.eot_id] and not pieces.capital[tok.eot_id]  # a special id starts a word


def test_generate_ids_finishes_every_copied_word_as_the_prompt_writes_it():
    torch.manual_seed(0)
    tok = CharTokenizer("ab ")
    model = GPT(ModelConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()
    lm = LoadedModel(model=model, tokenizer=tok, state={}, path=Path("x"), device=torch.device("cpu"))
    space, a, b = (int(tok.encode(c)[0]) for c in " ab")
    prompt = [space, a, b, space, a, b]
    sample = SampleConfig(temperature=1.0, stop_at_eot=False)

    def after_space_a(copy) -> list[int]:
        """What the reply writes after each " a" of it."""
        ids = list(generate_ids(lm, prompt, 3000, sample, seed=5, copy=copy))
        return [ids[i + 2] for i in range(len(ids) - 2) if ids[i:i + 2] == [space, a]]
    plain = after_space_a(None)
    copied = after_space_a(CopyCompletion(prompt, word_pieces(tok), weight=100.0))
    # in the prompt " a" always goes on with "b": with copy completion so does every " a" of the reply
    assert len(copied) >= 5 and set(copied) == {b}
    assert set(plain) - {b}  # (the random model alone does not)
