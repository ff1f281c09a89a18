"""The synthetic chat-dialogue generator (demo/dialogues.py): determinism, structure, the fact timeline,
corrections, planted-fact probes, variety and child safety."""

import os
import random
import re
import subprocess
import sys
import time
from collections import Counter

import pytest

from common.paths import REPO_ROOT
from demo import dialogue_vocab as W
from demo.dialogues import (KEYS, TOPICS, UNKNOWN_MARK, Conversation, conversation_text, generate_conversation,
                            generate_corpus, planted_fact_probe, value_pool)
from demo.vocab import NAMES_HE, NAMES_SHE, PET_KINDS

SEED = 1234
ALL_NAMES = NAMES_SHE + NAMES_HE


@pytest.fixture(scope="module")
def corpus() -> list[Conversation]:
    return generate_corpus(50, SEED)


def words_regex(values, ignore_case: bool = False) -> re.Pattern:
    """Any of `values` as a whole word (longest first, so "sea green" wins over a shorter value inside it)."""
    alternatives = "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE if ignore_case else 0)


def has_word(value: str, text: str) -> bool:
    return bool(words_regex([value]).search(text))


def user_turns(conversations) -> list[str]:
    return [t.content for c in conversations for s in c.sessions for t in s.turns if t.role == "user"]


def all_texts(conversations) -> list[str]:
    return [t.content for c in conversations for s in c.sessions for t in s.turns]


def every_fact_value() -> list[str]:
    return [v for key in KEYS if key not in ("name", "sibling") for v in value_pool(key)] + list(ALL_NAMES)


def strings_in(obj) -> list[str]:
    """Every string inside nested tuples and dicts (keys included): a whole vocabulary block at once."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in strings_in(k) + strings_in(v)]
    return [s for item in obj for s in strings_in(item)]


CHAT_VOCAB = (W.HELLO, W.FIRST_OPENER, W.FIRST_REPLY, W.OPENER, W.HELLO_REPLY, W.BYE_REASON, W.BYE_CLOSING,
              W.BYE_REPLY, W.NUMBER_GAME, W.WEATHER, W.WEATHER_TAIL,
              W.STORY_ASK, W.STORY_ADJ, W.STORY_CREATURE, W.STORY_WISH, W.JOKE_ASK, W.JOKE_INTRO, W.JOKES,
              W.COOK_ASK, W.DISHES, W.COOK_SAFETY, W.INGREDIENTS, W.INGREDIENT_ASK, W.INGREDIENT_REPLY,
              W.PLANT_ASK, W.PLANTS, W.PLANT_PROBLEMS, W.MATH_ASK, W.MATH_REPLY, W.SPELL_WORDS, W.SPELL_ASK,
              W.SPELL_REPLY, W.MEANINGS, W.MEANING_ASK, W.MEANING_REPLY, W.RHYMES, W.RHYME_ASK, W.RHYME_REPLY,
              W.RIDDLE_ASK, W.RIDDLES, W.GUESS, W.RPS, W.RPS_ASK, W.RATHER, W.RATHER_ASK, W.RATHER_REPLY,
              W.SCIENCE, W.SCIENCE_PREFIX, W.SCIENCE_INTRO, W.DAY_MOODS, W.DAY_ASK)


# --- determinism ------------------------------------------------------------------------------------------------

def test_same_arguments_same_output_and_other_arguments_differ():
    a, b = generate_conversation(7, SEED), generate_conversation(7, SEED)
    assert a == b and conversation_text(a) == conversation_text(b)
    assert conversation_text(generate_conversation(8, SEED)) != conversation_text(a)
    assert conversation_text(generate_conversation(7, SEED + 1)) != conversation_text(a)
    assert planted_fact_probe(3, SEED, 5) == planted_fact_probe(3, SEED, 5)
    assert planted_fact_probe(3, SEED, 5) != planted_fact_probe(3, SEED + 1, 5)


def test_corpus_is_the_list_of_conversations_whatever_n_and_start():
    corpus = generate_corpus(6, SEED, start=10)
    assert corpus == [generate_conversation(i, SEED) for i in range(10, 16)]
    assert generate_corpus(3, SEED, start=12) == corpus[2:5]
    assert [c.user_id for c in corpus] == [f"user-{i:05d}" for i in range(10, 16)]


def test_global_random_state_is_neither_used_nor_disturbed():
    random.seed(99)
    before = random.getstate()
    first = generate_conversation(3, SEED)
    planted_fact_probe(3, SEED, 4)
    assert random.getstate() == before
    random.seed(5)
    assert generate_conversation(3, SEED) == first


def test_same_text_in_another_process_whatever_the_hash_seed():
    code = ("from demo.dialogues import generate_corpus, conversation_text; "
            "print(''.join(conversation_text(c) for c in generate_corpus(5, 1234)), end='')")
    expected = "".join(conversation_text(c) for c in generate_corpus(5, SEED))
    env = dict(os.environ, PYTHONHASHSEED="4242")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", env=env,
                         cwd=str(REPO_ROOT), check=True)
    assert out.stdout == expected


# --- structure --------------------------------------------------------------------------------------------------

def check_structure(conv: Conversation, sessions: int) -> None:
    assert len(conv.sessions) == sessions
    days = [s.day for s in conv.sessions]
    assert days[0] == 0 and days == sorted(days)
    for i, session in enumerate(conv.sessions):
        assert session.index == i and session.turns, "a session has at least one exchange"
        roles = [t.role for t in session.turns]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and len(roles) % 2 == 0
        assert all(t.content.strip() == t.content and t.content for t in session.turns)


@pytest.mark.parametrize("sessions", [1, 2, 3, 12, 20])
def test_sessions_alternate_roles_and_days_never_go_back(sessions):
    for i in range(15):
        check_structure(generate_conversation(i, SEED, sessions), sessions)


def test_default_corpus_structure(corpus):
    for conv in corpus:
        check_structure(conv, 12)
        assert 7 <= sum(k in conv.facts for k in KEYS) <= 10 and len(conv.questions) >= 5


def test_every_answer_is_in_the_reply_right_after_its_question(corpus):
    for conv in corpus:
        for q in conv.questions:
            turns = conv.sessions[q.session].turns
            assert turns[q.turn].role == "user" and turns[q.turn + 1].role == "assistant"
            reply = turns[q.turn + 1].content
            if q.answer:
                assert has_word(q.answer, reply), (q, reply)
                assert UNKNOWN_MARK not in reply
            else:
                assert q.told_in == -1 and q.key not in conv.facts and UNKNOWN_MARK in reply


def test_assistant_replies_are_one_or_two_sentences(corpus):
    for text in (t.content for c in corpus for s in c.sessions for t in s.turns if t.role == "assistant"):
        assert len(re.findall(r"[.!?]+(?=\s|$)", text)) <= 2 and len(text) <= 220, text


def test_sentences_start_with_a_capital(corpus):
    probes = [planted_fact_probe(i, SEED, 3)[0] for i in range(20)]
    texts = all_texts(corpus) + [t.content for sessions in probes for s in sessions for t in s.turns]
    for text in texts:
        assert not re.search(r"(^|[.!?] )[a-z]", text), text


# --- the fact timeline ------------------------------------------------------------------------------------------

def replay(conv: Conversation):
    """The timeline rebuilt from the user's words alone, independently of the generator's bookkeeping.

    A user turn that names a value of a key different from the current one makes it current (a correction names
    the old value too, so the one that is not current wins). Question turns tell nothing. Returns, per question,
    the (value, session told) current when it was asked, and the final state.
    """
    def other_person(key: str) -> set:
        fact = conv.facts.get(key)
        return {fact.value, fact.replaced} - {None} if fact else set()

    pools = {key: value_pool(key) for key in KEYS if key not in ("name", "sibling")}
    pools["name"] = set(ALL_NAMES) - other_person("sibling")
    pools["sibling"] = set(ALL_NAMES) - other_person("name")
    patterns = {key: words_regex(pool) for key, pool in pools.items()}
    asked = {(q.session, q.turn): q for q in conv.questions}
    current: dict[str, tuple[str, int]] = {}
    seen = []
    for session in conv.sessions:
        for t, turn in enumerate(session.turns):
            if turn.role != "user":
                continue
            if (session.index, t) in asked:
                q = asked[(session.index, t)]
                seen.append((q, current.get(q.key, ("", -1))))
                continue
            for key, pattern in patterns.items():
                new = set(pattern.findall(turn.content)) - {current.get(key, ("",))[0]}
                assert len(new) <= 1, (key, turn.content)
                if new:
                    current[key] = (new.pop(), session.index)
    return seen, current


def test_answers_follow_the_timeline_rebuilt_from_the_text(corpus):
    for conv in corpus + generate_corpus(10, 99, sessions=20):
        seen, final = replay(conv)
        for q, (value, told_in) in seen:
            assert (q.answer, q.told_in) == (value, told_in), q
        assert {k: (f.value, f.told_in) for k, f in conv.facts.items()} == final


def test_final_facts_and_what_they_replaced(corpus):
    for conv in corpus:
        for key, fact in conv.facts.items():
            assert fact.key == key and fact.value in value_pool(key, "sister") + value_pool(key, "brother")
            told = [t.content for t in conv.sessions[fact.told_in].turns if t.role == "user"]
            assert any(has_word(fact.value, text) for text in told)
            if fact.replaced is not None:
                assert fact.replaced != fact.value and key not in ("pet_kind", "name")
        if "name" in conv.facts and "sibling" in conv.facts:
            assert conv.facts["name"].value != conv.facts["sibling"].value


def test_most_conversations_have_a_correction_and_the_new_value_wins(corpus):
    corrected = [c for c in corpus if any(f.replaced for f in c.facts.values())]
    assert len(corrected) >= 0.6 * len(corpus)
    for conv in corrected:
        for fact in (f for f in conv.facts.values() if f.replaced):
            after = [q for q in conv.questions
                     if q.key == fact.key and q.session >= fact.told_in and q.answer == fact.value]
            assert after, f"no question after the correction of {fact.key} in {conv.user_id}"
            for q in after:
                reply = conv.sessions[q.session].turns[q.turn + 1].content
                assert not has_word(fact.replaced, reply), reply
    stale = [q for c in corrected for q in c.questions
             if q.key in c.facts and c.facts[q.key].replaced == q.answer]
    assert stale, "some questions come before the correction and get the old value"


def test_corrected_facts_are_asked_often_and_questions_say_what_was_replaced(corpus):
    later = [q for c in corpus for q in c.questions if q.answer and q.told_in < q.session]
    after_fix = [q for q in later if q.replaced]
    # about a quarter of the questions about earlier sessions come after a correction (once each: ~15 %)
    assert 0.18 <= len(after_fix) / len(later) <= 0.4, len(after_fix) / len(later)
    asked_twice = [(c.user_id, q.key) for c in corpus for q in c.questions if q.replaced]
    assert max(Counter(asked_twice).values()) >= 2
    for c in corpus:
        for q in c.questions:
            if q.replaced:  # the question's answer is a corrected value, and the old one was told before it
                assert q.replaced != q.answer
                said = " ".join(t.content for s in c.sessions[: q.session + 1] for t in s.turns if t.role == "user")
                assert has_word(q.replaced, said) and has_word(q.answer, said)


def test_some_questions_are_about_facts_never_told(corpus):
    questions = [q for c in corpus for q in c.questions]
    unknown = sum(q.answer == "" for q in questions) / len(questions)
    print(f"\n{len(questions)} questions, {unknown:.1%} about facts never told")
    assert 0.04 <= unknown <= 0.2
    assert {q.key for q in questions} == set(KEYS)


# --- planted-fact probes ----------------------------------------------------------------------------------------

def possible_questions(key: str) -> set[str]:
    """Every text the generator can ask about `key` with (prefix, template, pet kind, relation)."""
    texts = set()
    for prefix in W.ASK_PREFIX:
        for template in W.ASK[key]:
            for kind in PET_KINDS + ("pet",):
                for rel in ("sister", "brother"):
                    body = template.format(kind=kind, rel=rel)
                    starts = not prefix or prefix.rstrip().endswith((".", "!", "?"))
                    texts.add(prefix + (body[0].upper() + body[1:] if starts else body))
    return texts


@pytest.mark.parametrize("k", [1, 2, 5, 10, 20])
def test_planted_fact_probe(k):
    questions = {key: possible_questions(key) for key in KEYS}
    for index in range(20):  # every key twice
        sessions, question, answer, distractors = planted_fact_probe(index, SEED, k)
        key = KEYS[index % len(KEYS)]
        assert len(sessions) == k and [s.index for s in sessions] == list(range(k))
        assert [s.day for s in sessions] == sorted(s.day for s in sessions)
        assert question in questions[key] and not any(question in questions[o] for o in KEYS if o != key)
        assert any(has_word(answer, t.content) for t in sessions[0].turns if t.role == "user")
        for session in sessions[1:]:
            assert len(session.turns) == 2 * 3
            assert not any(words_regex([answer], ignore_case=True).search(t.content) for t in session.turns)
        assert len(set(distractors)) == 3 and answer not in distractors
        assert set(distractors) <= set(value_pool(key, "sister") + value_pool(key, "brother"))
        for session in sessions:
            roles = [t.role for t in session.turns]
            assert roles == ["user", "assistant"] * (len(roles) // 2)


def test_a_longer_probe_extends_a_shorter_one():
    for index in range(10):
        short, long = planted_fact_probe(index, SEED, 5, 2), planted_fact_probe(index, SEED, 10, 2)
        assert long[0][:5] == short[0] and long[1:] == short[1:]


def test_probe_filler_turns_and_bad_arguments():
    sessions, *_ = planted_fact_probe(4, SEED, 3, filler_turns=1)
    assert [len(s.turns) // 2 for s in sessions[1:]] == [1, 1]
    with pytest.raises(ValueError):
        planted_fact_probe(0, SEED, 0)
    with pytest.raises(ValueError):
        generate_conversation(0, SEED, sessions=0)


# --- chit-chat stays clear of fact values -----------------------------------------------------------------------

def test_chit_chat_never_contains_a_fact_value():
    values = words_regex(every_fact_value(), ignore_case=True)
    clashes = sorted({m.group(0) for text in strings_in(CHAT_VOCAB) for m in values.finditer(text)})
    assert not clashes, clashes
    # And in rendered chit-chat, every session after the first of a long probe.
    for index in range(30):
        sessions, *_ = planted_fact_probe(index, SEED, 20)
        for text in (t.content for s in sessions[1:] for t in s.turns):
            assert not values.search(text), text


def test_fact_pools_share_no_values():
    pools = {key: {v.lower() for v in value_pool(key)} for key in KEYS if key not in ("name", "sibling")}
    pools["name"] = {v.lower() for v in ALL_NAMES}
    keys = sorted(pools)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not pools[a] & pools[b], (a, b, pools[a] & pools[b])


# --- variety and safety -----------------------------------------------------------------------------------------

def test_user_turns_are_varied(corpus):
    turns = user_turns(corpus)
    distinct = len(set(turns)) / len(turns)
    top_turn, top_count = Counter(turns).most_common(1)[0]
    openings = Counter(" ".join(t.split()[:3]) for t in turns)
    top_opening, opening_count = openings.most_common(1)[0]
    print(f"\n{len(turns)} user turns, {distinct:.1%} distinct; most common {top_turn!r} x{top_count}; "
          f"most common opening {top_opening!r} x{opening_count}")
    assert distinct >= 0.5
    assert top_count <= 0.02 * len(turns)
    assert opening_count <= 0.08 * len(turns)


def test_every_chit_chat_topic_shows_up(corpus):
    text = "\n".join(all_texts(corpus))
    markers = {"weather": "Rainy days|Windy days|Sunshine|Snowy days|Fog makes|Phew", "story": "Once upon a time",
               "joke": " joke", "cooking": "make |recipe|snack", "plants": "My .* plant|leaves|pot",
               "maths": r"\d+ (plus|minus|times|add|divided)|take \d+ away|sweets", "words": "spell|mean|rhyme",
               "game": "riddle|rock, paper|thinking of a number|rather",
               "science": "planet|Moon|Sun|spider|bees|rain come",
               "day": " day\\.|day, because|was a .* day"}
    assert set(markers) == set(TOPICS)
    for topic, pattern in markers.items():
        assert re.search(pattern, text), topic


def test_nothing_unsuitable_for_children(corpus):
    blocked = words_regex(W.BLOCKLIST, ignore_case=True)
    vocab = [getattr(W, name) for name in dir(W) if name.isupper() and name != "BLOCKLIST"]
    texts = all_texts(corpus) + strings_in(vocab)
    for index in range(10):
        sessions, question, answer, distractors = planted_fact_probe(index, SEED, 10)
        texts += [t.content for s in sessions for t in s.turns] + [question, answer, *distractors]
    found = sorted({m.group(0) for text in texts for m in blocked.finditer(text)})
    assert not found, found


def test_generating_500_conversations_is_quick():
    start = time.perf_counter()
    corpus = generate_corpus(500, SEED)
    seconds = time.perf_counter() - start
    turns = sum(len(s.turns) for c in corpus for s in c.sessions)
    print(f"\n500 conversations ({turns} turns) in {seconds:.2f} s")
