"""Copy completion (generation/copy_completion.py): a word of the prompt that the output has begun is finished as
the prompt writes it - the rule on its own, then through generate_ids with a real (random) GPT."""

from pathlib import Path

import torch

from generation.copy_completion import CopyCompletion, continuation_pieces
from generation.inference import LoadedModel, generate_ids
from generation.sampling_config import SampleConfig
from model.gpt import GPT, ModelConfig
from model.tokenizer import CharTokenizer

# ids of a toy vocabulary: 1 " K", 2 "ing", 3 "s", 4 "for", 5 "d", 6 "sh", 7 " live", 8 "."
CONTINUES = [False, False, True, True, True, True, True, False, False]
KINGSFORD = [7, 1, 2, 3, 4, 5, 8]  # " live Kingsford."


def test_the_next_piece_of_the_prompt_word_the_reply_has_begun():
    copy = CopyCompletion(KINGSFORD, CONTINUES, 4.0)
    assert copy.bonus([7, 1, 2]) == [3]       # " K" "ing" -> "s", as in the prompt (not "sh")
    assert copy.bonus([7, 1, 2, 3, 4]) == [5]
    assert copy.bonus([7, 1, 2, 3, 4, 5]) == []  # the prompt's word ends there: the model ends it
    assert copy.bonus([7, 1]) == []           # one piece: " for" may be a word of its own, not "forget" begun
    assert copy.bonus([7, 1, 6]) == []        # a word the prompt does not hold
    assert copy.bonus([2, 3]) == []           # no word begun in the reply
    assert CopyCompletion(KINGSFORD, CONTINUES, 4.0, min_pieces=1).bonus([7, 1]) == [2]  # from the first piece on
    # every continuation the prompt gives the same beginning
    assert CopyCompletion([1, 2, 3, 8, 1, 2, 6, 8], CONTINUES, 4.0).bonus([1, 2]) == [3, 6]
    assert CopyCompletion([1, 2, 3, 8, 1, 2, 6, 8], CONTINUES, 4.0).bonus([1, 2, 6, 4]) == []  # left the prompt's words


def test_continuation_pieces_are_those_that_start_with_a_letter():
    tok = CharTokenizer("ab .")
    pieces = continuation_pieces(tok)
    assert [pieces[tok.encode(c)[0]] for c in "ab ."] == [True, True, False, False]
    assert len(pieces) == tok.vocab_size and not pieces[tok.eot_id]  # a special id starts a word


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
    copied = after_space_a(CopyCompletion(prompt, continuation_pieces(tok), weight=100.0))
    # in the prompt " a" always goes on with "b": with copy completion so does every " a" of the reply
    assert len(copied) >= 5 and set(copied) == {b}
    assert set(plain) - {b}  # (the random model alone does not)
