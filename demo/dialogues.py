"""A seeded, deterministic corpus of synthetic chat dialogues for a small chat model with persistent memory.

One `Conversation` is one user chatting with an assistant over several sessions, days or weeks apart. In the
early sessions the user tells facts about themselves (KEYS: their name, their pet's kind and name, their town,
favourite colour and food, a sibling's name, a hobby, their birthday month and favourite school subject), mixed
with chit-chat. Some facts are corrected or change later ("we moved to Brookmere"), and the later value wins.
Later sessions ask about facts, and the assistant answers with the value current at that moment, verbatim, in a
short sentence; a fact never told gets a reply that says "don't know". Chit-chat (TOPICS) never contains a fact
value, so a value appears only where it was told or recalled.

The writer keeps the fact timeline as it renders: every `Question.answer` is read from the state at the moment
of the question, and `Conversation.facts` is the final state. `planted_fact_probe` builds the recall benchmark's
probes (one fact, k - 1 sessions of chit-chat, then the question).

Determinism: conversation i is a pure function of (GENERATOR_VERSION, seed, i, sessions), drawn from its own
`random.Random` seeded with a string (never the global generator or hash()), so every process and machine gets
the same text. Word pools and templates live in demo/dialogue_vocab.py; names, pets, colours and towns are
reused from demo/vocab.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from demo import dialogue_vocab as W
from demo.vocab import COLOURS, NAMES_HE, NAMES_SHE, PET_KINDS, PET_NAMES, TOWN_HEADS, TOWN_TAILS

GENERATOR_VERSION = "demo-dialogues-3"  # bump whenever the output of any (seed, index) changes
KEYS = ("name", "pet_kind", "pet_name", "town", "colour", "food", "sibling", "hobby", "birthday_month", "subject")
# What the user tells in one go: a pet's name is never told without its kind.
UNITS = {"name": ("name",), "pet": ("pet_kind", "pet_name"), "town": ("town",), "colour": ("colour",),
         "food": ("food",), "sibling": ("sibling",), "hobby": ("hobby",), "birthday_month": ("birthday_month",),
         "subject": ("subject",)}
# A pet does not turn into another animal, and a name is not corrected sessions later.
CORRECTABLE = tuple(k for k in KEYS if k not in ("pet_kind", "name"))
# Town names are made up from parts; the few that are also a name ("Bramwell") are left out.
_TAKEN = {v.lower() for v in NAMES_SHE + NAMES_HE + PET_NAMES}
TOWNS = tuple(t for t in (head + tail for head in TOWN_HEADS for tail in TOWN_TAILS) if t.lower() not in _TAKEN)
POOLS = {"pet_kind": PET_KINDS, "pet_name": PET_NAMES, "town": TOWNS, "colour": COLOURS, "food": W.FOODS,
         "hobby": W.HOBBIES, "birthday_month": W.MONTHS, "subject": W.SUBJECTS}
TOPICS = ("weather", "story", "joke", "cooking", "plants", "maths", "words", "game", "science", "day")
DAY_GAPS = (1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 7, 9, 12, 14)
UNKNOWN_MARK = "don't know"  # every reply to a question about a fact never told contains this


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass
class Session:
    index: int  # 0-based session number within the conversation
    day: int  # days since the first session (non-decreasing)
    turns: list[Turn]  # alternating user/assistant, starting with user, ending with assistant


@dataclass(frozen=True)
class Fact:
    key: str
    value: str
    told_in: int  # session index where this value was (last) told
    replaced: str | None  # the earlier value this one corrected, or None


@dataclass(frozen=True)
class Question:
    session: int  # session index of the question
    turn: int  # index of the user's question in that session's turns (the answer is turn + 1)
    key: str
    answer: str  # the value the assistant's reply contains ("" when the fact was never told)
    told_in: int  # session where the current value was told (-1 if never told)
    replaced: str | None = None  # the earlier value the answer corrected, or None


@dataclass
class Conversation:
    user_id: str
    sessions: list[Session]
    facts: dict[str, Fact]  # final state of every fact told
    questions: list[Question]


# --- Small text helpers -----------------------------------------------------------------------------------------

def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _prefixed(prefix: str, text: str) -> str:
    """`prefix + text`, with `text` capitalised when it starts a sentence."""
    starts_sentence = not prefix or prefix.rstrip().endswith((".", "!", "?"))
    return prefix + (_cap(text) if starts_sentence else text)


def value_pool(key: str, rel: str = "sister") -> tuple[str, ...]:
    """Every value `key` can take; a sibling's name depends on whether they are a sister or a brother."""
    if key == "name":
        return NAMES_SHE + NAMES_HE
    if key == "sibling":
        return NAMES_SHE if rel == "sister" else NAMES_HE
    return POOLS[key]


def _draw_person(rng: random.Random) -> dict:
    """Who the user is: a first value for every key, plus the words the templates need around them."""
    rel = rng.choice(("sister", "brother"))
    values = {key: rng.choice(value_pool(key, rel)) for key in KEYS if key != "sibling"}
    values["sibling"] = rng.choice([n for n in value_pool("sibling", rel) if n != values["name"]])
    return {"values": values, "rel": rel, "pet_pron": rng.choice(("she", "he"))}


# --- Chit-chat: each topic returns (user, assistant) exchanges, at most `budget` of them --------------------------

def _weather(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    states, reactions, tips = W.WEATHER[rng.choice(tuple(W.WEATHER))]
    return [(_cap(rng.choice(states)) + rng.choice(W.WEATHER_TAIL), f"{rng.choice(reactions)} {rng.choice(tips)}")]


def _story(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    hero = _article(f"{rng.choice(W.STORY_ADJ)} {rng.choice(W.STORY_CREATURE)}")
    wish, endings = rng.choice(W.STORY_WISH)
    user = rng.choice(W.STORY_ASK).format(x=f"{hero} who {wish}")
    return [(user, f"Once upon a time there was {hero} who {wish}. {rng.choice(endings)}")]


def _joke(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    topic, adj, jokes = rng.choice(W.JOKES)
    return [(rng.choice(W.JOKE_ASK).format(topic=topic, adj=adj), rng.choice(W.JOKE_INTRO) + rng.choice(jokes))]


def _cooking(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    if rng.random() < 0.6:
        dish, steps = rng.choice(W.DISHES)
        safety = rng.choice(W.COOK_SAFETY)
        return [(rng.choice(W.COOK_ASK).format(dish=dish), f"{steps} {safety}".strip())]
    a, b = rng.sample(W.INGREDIENTS, 2)
    return [(rng.choice(W.INGREDIENT_ASK).format(a=a, b=b), rng.choice(W.INGREDIENT_REPLY).format(a=a, b=b))]


def _plants(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    problem, advice = rng.choice(W.PLANT_PROBLEMS)
    user = rng.choice(W.PLANT_ASK).format(plant=rng.choice(W.PLANTS), problem=problem)
    return [(user, rng.choice(advice))]


def _maths(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    op = rng.choice(tuple(W.MATH_ASK))
    if op == "+":
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        c = a + b
    elif op == "-":
        a = rng.randint(10, 99)
        b = rng.randint(1, a - 1)
        c = a - b
    elif op == "*":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        c = a * b
    else:  # whole-number division only: build the dividend from the answer
        b, c = rng.randint(2, 10), rng.randint(2, 12)
        a = b * c
    return [(rng.choice(W.MATH_ASK[op]).format(a=a, b=b), rng.choice(W.MATH_REPLY).format(c=c))]


def _words(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    kind = rng.choice(("spell", "meaning", "rhyme"))
    if kind == "spell":
        word = rng.choice(W.SPELL_WORDS)
        return [(rng.choice(W.SPELL_ASK).format(w=word),
                 _cap(rng.choice(W.SPELL_REPLY).format(w=word, letters="-".join(word))))]
    if kind == "meaning":
        word, meaning = rng.choice(W.MEANINGS)
        return [(rng.choice(W.MEANING_ASK).format(w=word), rng.choice(W.MEANING_REPLY).format(w=word, m=meaning))]
    word, rhymes = rng.choice(W.RHYMES)
    reply = rng.choice(W.RHYME_REPLY).format(w=word, r=rhymes, R=_cap(rhymes))
    return [(rng.choice(W.RHYME_ASK).format(w=word), reply)]


def _game(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    # Riddles and guessing games take two exchanges, so they only fit a budget of two or more.
    game = rng.choice(("riddle", "guess", "rps", "rather") if budget >= 2 else ("rps", "rather"))
    if game == "riddle":
        riddle, answer, wrong = rng.choice(W.RIDDLES)
        first = (rng.choice(W.RIDDLE_ASK), f"Here's one: {riddle}")
        if rng.random() < 0.5:
            return [first, (rng.choice(W.GUESS).format(g=answer), f"Yes, it's {answer}! Well done.")]
        return [first, (rng.choice(W.GUESS).format(g=wrong), f"Good guess, but the answer is {answer}.")]
    if game == "guess":
        top = rng.choice((5, 10, 12, 20, 30))
        secret, guess = rng.randint(1, top), rng.randint(1, top)
        first = (rng.choice(W.NUMBER_GAME).format(top=top), rng.choice(W.GUESS).format(g=guess))
        if secret == guess:
            return [first, ("Yes! You got it.", "Hooray, that was lucky! Let's play again some time.")]
        return [first, (f"No, it was {secret}.", f"Oh, {secret}! I'll get it next time.")]
    if game == "rps":
        mine, yours = rng.choice(W.RPS), rng.choice(W.RPS)
        beats = {"rock": "scissors", "paper": "rock", "scissors": "paper"}
        result = ("It's a draw!" if mine == yours else "You win this round!" if beats[yours] == mine
                  else "I win this time!")
        return [(rng.choice(W.RPS_ASK).format(x=yours), f"I pick {mine}. {result}")]
    pair = list(rng.choice(W.RATHER))
    rng.shuffle(pair)
    (a, _), (b, _) = pair
    choice, why = rng.choice(pair)
    return [(rng.choice(W.RATHER_ASK).format(a=a, b=b), rng.choice(W.RATHER_REPLY).format(x=choice, why=why))]


def _science(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    question, answer = rng.choice(W.SCIENCE)
    one_sentence = not any(answer[i] in ".!?" and answer[i + 1] == " " for i in range(len(answer) - 1))
    intro = rng.choice(W.SCIENCE_INTRO) if one_sentence else ""  # replies stay at two sentences at most
    return [(_prefixed(rng.choice(W.SCIENCE_PREFIX), question), intro + answer)]


def _day(rng: random.Random, budget: int) -> list[tuple[str, str]]:
    moods, events, replies = W.DAY_MOODS[rng.choice(tuple(W.DAY_MOODS))]
    event = rng.choice(events)
    user = rng.choice(W.DAY_ASK).format(mood=rng.choice(moods), event=event, Event=_cap(event))
    return [(user, rng.choice(replies))]


_TOPIC_WRITERS = {"weather": _weather, "story": _story, "joke": _joke, "cooking": _cooking, "plants": _plants,
                  "maths": _maths, "words": _words, "game": _game, "science": _science, "day": _day}


def _chat(rng: random.Random, budget: int = 2) -> list[tuple[str, str]]:
    """One chit-chat topic: one or two exchanges, never more than `budget`."""
    return _TOPIC_WRITERS[rng.choice(TOPICS)](rng, budget)


# --- The writer: renders events into turns and keeps the fact timeline ------------------------------------------

class _Writer:
    def __init__(self, rng: random.Random, person: dict):
        self.rng = rng
        self.person = person
        self.state: dict[str, Fact] = {}  # the current value of every fact told so far
        self.sessions: list[Session] = []
        self.questions: list[Question] = []
        self.turns: list[Turn] = []
        self.day = 0

    def open(self, day: int) -> None:
        self.turns, self.day = [], day

    def close(self) -> None:
        self.sessions.append(Session(len(self.sessions), self.day, self.turns))

    def say(self, user: str, reply: str) -> int:
        """Append one exchange; returns the index of the user's turn."""
        self.turns += [Turn("user", user), Turn("assistant", reply)]
        return len(self.turns) - 2

    def slots(self, **extra: str) -> dict:
        """What templates may refer to besides {v}: the pet as currently known, and the sibling's relation."""
        kind = self.state["pet_kind"].value if "pet_kind" in self.state else "pet"
        pron = self.person["pet_pron"]
        return {"kind": kind, "a_kind": _article(kind), "pron": pron, "Pron": _cap(pron),
                "obj": "her" if pron == "she" else "him", "rel": self.person["rel"], **extra}

    def _set(self, key: str, value: str, replaced: str | None = None) -> None:
        self.state[key] = Fact(key, value, len(self.sessions), replaced)

    def pick(self, options: tuple[str, ...], **extra: str) -> str:
        return self.rng.choice(options).format(**self.slots(**extra))

    # Events -----------------------------------------------------------------------------------------------------
    def greet(self) -> None:
        if self.sessions:
            self.say(f"{self.rng.choice(W.HELLO)} {self.rng.choice(W.OPENER)}", self.rng.choice(W.HELLO_REPLY))
        else:
            hello = self.rng.choice([h for h in W.HELLO if "again" not in h])
            self.say(f"{hello} {self.rng.choice(W.FIRST_OPENER)}", self.rng.choice(W.FIRST_REPLY))

    def bye(self) -> None:
        reason, answer = self.rng.choice(W.BYE_REASON)
        self.say(f"{reason} {self.rng.choice(W.BYE_CLOSING)}", f"{answer} {self.rng.choice(W.BYE_REPLY)}")

    def chat(self, budget: int = 2) -> int:
        exchanges = _chat(self.rng, budget)
        for user, reply in exchanges:
            self.say(user, reply)
        return len(exchanges)

    def filler(self, count: int) -> None:
        """Exactly `count` exchanges of chit-chat."""
        while count > 0:
            count -= self.chat(count)

    def tell(self, what: str) -> None:
        """Tell a unit ("pet" tells kind and name) or a single key; "pet_name" alone still names the kind."""
        values = self.person["values"]
        if what == "pet_kind":
            self._set("pet_kind", values["pet_kind"])
            self.say(self.pick(W.TELL["pet_kind"]), self.pick(W.ACK["pet_kind"]))
        elif what in ("pet", "pet_name"):
            name = values["pet_name"]
            self._set("pet_kind", values["pet_kind"])
            self._set("pet_name", name)
            if self.rng.random() < 0.5:  # all at once
                self.say(self.pick(W.TELL["pet"], v=name), self.pick(W.ACK["pet_name"], v=name))
            else:  # the assistant asks for the name
                self.say(self.pick(W.TELL["pet_kind"]), self.pick(W.ACK["pet_kind_then_name"]))
                self.say(self.pick(W.TELL["pet_name"], v=name), self.pick(W.ACK["pet_name"], v=name))
        else:
            self._set(what, values[what])
            self.say(self.pick(W.TELL[what], v=values[what]), self.pick(W.ACK[what], v=values[what]))

    def correct(self, key: str) -> None:
        """The user corrects a fact or says it changed: the new value is neither the old one nor anyone's name."""
        old = self.state[key].value
        taken = {old} | {self.state[k].value for k in ("name", "sibling") if k in self.state}
        new = self.rng.choice([v for v in value_pool(key, self.person["rel"]) if v not in taken])
        self._set(key, new, replaced=old)
        self.say(self.pick(W.CORRECT[key], v=new, old=old), self.pick(W.CORRECT_ACK[key], v=new, old=old))

    def question_text(self, key: str) -> str:
        return _prefixed(self.rng.choice(W.ASK_PREFIX), self.pick(W.ASK[key]))

    def ask(self, key: str) -> None:
        question = self.question_text(key)
        fact = self.state.get(key)
        if fact is None:
            about = W.ABOUT[key].format(**self.slots())
            turn = self.say(question, self.pick(W.UNKNOWN, about=about))
            self.questions.append(Question(len(self.sessions), turn, key, "", -1))
        else:
            turn = self.say(question, self.pick(W.ANSWER[key], v=fact.value, a_v=_article(fact.value)))
            self.questions.append(Question(len(self.sessions), turn, key, fact.value, fact.told_in, fact.replaced))


# --- Planning a conversation: which events happen in which session ----------------------------------------------

def _plan(rng: random.Random, n: int) -> list[list[tuple[str, str]]]:
    """Per session, the events in order: ("greet"|"bye"|"chat", "") or ("tell", unit) / ("correct"|"ask", key).

    The first ~35% of sessions tell the facts (a few units stay untold, so some questions must answer "don't
    know"); after that a session asks questions (70%) or just chats. A correction is always followed by a
    question about that key in the same or a later session (in about half of the later sessions), so the test of
    "the later value wins" is in the data, often.
    """
    n_tell = max(1, round(n * 0.35))
    units = list(UNITS)
    rng.shuffle(units)
    n_untold = rng.choices((0, 1, 2), weights=(3, 5, 2))[0]
    untold, told = units[:n_untold], units[n_untold:]
    if "name" in told and rng.random() < 0.7:  # people tend to introduce themselves first
        told.remove("name")
        told.insert(0, "name")
    unit_at = {unit: 0 if i < 2 else rng.randrange(n_tell) for i, unit in enumerate(told)}
    told_at = {key: unit_at[unit] for unit in told for key in UNITS[unit]}
    untold_keys = [key for unit in untold for key in UNITS[unit]]

    candidates = [key for key in told_at if key in CORRECTABLE and told_at[key] <= n - 2]
    n_fix = min(len(candidates), rng.choices((0, 1, 2, 3), weights=(1, 5, 3, 1))[0])
    fixes = {key: rng.randrange(told_at[key], n - 1) for key in rng.sample(candidates, n_fix)}

    kinds = ["tell"] * n_tell + ["ask" if rng.random() < 0.7 else "chat" for _ in range(n - n_tell)]
    if n > n_tell:
        kinds[-1] = "ask"
    forced: dict[int, list[str]] = {s: [] for s in range(n)}
    for key, at in fixes.items():
        later = [s for s, kind in enumerate(kinds) if kind == "ask" and s >= at]
        if later:
            # asked again in about half of the later sessions: "the later value wins" is what a small model
            # learns last, so the corpus shows it often
            again = [s for s in later if rng.random() < 0.5] or [rng.choice(later)]
            for s in again:
                forced[s].append(key)

    def questions(s: int, count: int) -> list[tuple[str, str]]:
        keys = list(forced[s])
        known = [key for key, at in told_at.items() if at < s]
        for _ in range(3 * count):  # a few tries: duplicates are skipped
            if len(keys) >= count:
                break
            pool = untold_keys if untold_keys and rng.random() < 0.15 else known
            key = rng.choice(pool) if pool else None
            if key and key not in keys:
                keys.append(key)
        return [("ask", key) for key in keys]

    plan = []
    for s, kind in enumerate(kinds):
        facts: list[tuple[str, str]] = []  # events whose order matters
        late_fixes = [("correct", key) for key, at in fixes.items() if at == s]
        if kind == "tell":
            for unit in (u for u in told if unit_at[u] == s):
                facts.append(("tell", unit))
                for key in UNITS[unit]:
                    if ("correct", key) in late_fixes and rng.random() < 0.6:  # "... actually, she is called Tilly"
                        late_fixes.remove(("correct", key))
                        facts.append(("correct", key))
            facts += late_fixes
            if s > 0 and rng.random() < 0.4:  # a quick recall of something told in an earlier session
                for event in questions(s, 1):
                    facts.insert(rng.randint(0, len(facts)), event)
            n_chat = rng.randint(1, 2)
        elif kind == "ask":
            facts = late_fixes + questions(s, rng.randint(1, 3))
            n_chat = rng.randint(0, 2)
        else:
            facts = late_fixes
            n_chat = rng.randint(2, 4)
        for _ in range(n_chat):  # chit-chat goes anywhere: it does not touch the facts
            facts.insert(rng.randint(0, len(facts)), ("chat", ""))
        # Most sessions open with a greeting, not all: users also start straight with a question or a fact,
        # and a model that has only seen greetings there answers a question with "Hello!".
        events = ([("greet", "")] if rng.random() < (0.8 if s > 0 else 0.6) else []) + facts
        if rng.random() < 0.25:
            events.append(("bye", ""))
        plan.append(events)
    return plan


def generate_conversation(index: int, seed: int = 1234, sessions: int = 12) -> Conversation:
    """Conversation number `index` of the corpus with this seed: `sessions` sessions of one user."""
    if sessions < 1:
        raise ValueError("a conversation needs at least one session")
    rng = random.Random(f"{GENERATOR_VERSION}:{seed}:{index}:{sessions}")
    w = _Writer(rng, _draw_person(rng))
    day = 0
    for s, events in enumerate(_plan(rng, sessions)):
        day += rng.choice(DAY_GAPS) if s else 0
        w.open(day)
        for event, arg in events:
            if event in ("tell", "correct", "ask"):
                getattr(w, event)(arg)
            else:
                getattr(w, event)()
        w.close()
    facts = {key: w.state[key] for key in KEYS if key in w.state}
    return Conversation(f"user-{index:05d}", w.sessions, facts, w.questions)


def generate_corpus(n: int, seed: int = 1234, sessions: int = 12, start: int = 0) -> list[Conversation]:
    """Conversations start .. start + n - 1; each is independent of n and start."""
    return [generate_conversation(i, seed, sessions) for i in range(start, start + n)]


def planted_fact_probe(index: int, seed: int, k: int,
                       filler_turns: int = 3) -> tuple[list[Session], str, str, list[str]]:
    """A probe for the recall benchmark: one fact told in session 0 (and never repeated), k - 1 unrelated
    chit-chat sessions (sessions 1 .. k-1, none mentioning the fact), then in session k the user's question.
    Returns (the k sessions before the question, the question text, the answer, distractors) where distractors
    are 3 other plausible values of the same key (not the answer).

    The key cycles through KEYS with `index`, so any 10 consecutive probes cover every key once. Session 0 holds
    the telling exchange among `filler_turns` chit-chat exchanges; later sessions hold `filler_turns` exchanges
    each. The fact, question and distractors are drawn before the fillers, so for a given (index, seed) a probe
    with a larger k extends the one with a smaller k: only the distance between fact and question changes.
    """
    if k < 1 or filler_turns < 1:
        raise ValueError("k and filler_turns must be at least 1")
    rng = random.Random(f"{GENERATOR_VERSION}:probe:{seed}:{index}")
    key = KEYS[index % len(KEYS)]
    person = _draw_person(rng)
    answer = person["values"][key]
    w = _Writer(rng, person)
    before = rng.randint(0, filler_turns)
    w.open(0)
    w.filler(before)
    w.tell(key)
    question = w.question_text(key)
    others = [v for v in value_pool(key, person["rel"]) if v != answer]
    distractors = rng.sample(others, 3)
    w.filler(filler_turns - before)
    w.close()
    day = 0
    for _ in range(1, k):
        day += rng.choice(DAY_GAPS)
        w.open(day)
        count = filler_turns
        if filler_turns >= 2 and rng.random() < 0.5:
            w.greet()
            count -= 1
        w.filler(count)
        w.close()
    return w.sessions, question, answer, distractors


def conversation_text(conv: Conversation) -> str:
    """A readable plain-text rendering for eyeballing: a header per session, then one `role: text` line per turn."""
    lines = [f"# {conv.user_id}"]
    for session in conv.sessions:
        lines += ["", f"# session {session.index} (day {session.day})"]
        lines += [f"{turn.role}: {turn.content}" for turn in session.turns]
    return "\n".join(lines) + "\n"
