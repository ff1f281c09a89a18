"""Term links (assistant/term_links.py): mined from transcripts without labels, they let retrieval find a fact told
in other words than the question's; prepare keeps them in meta.json and a trained checkpoint brings them to chat."""

from dataclasses import dataclass

from assistant.retrieval import RetrievalConfig, retrieve
from assistant.store import MemoryStore
from assistant.term_links import content_words, expansion, mine_term_links
from demo.dialogues import generate_conversation


@dataclass
class Turn:
    role: str
    content: str


@dataclass
class Session:
    turns: list


FILLER = ["It rained all day.", "That sounds cosy.", "I read a book about ships.", "Ships are fun to read about.",
          "We had soup for lunch.", "Soup is nice on a cold day."]


def toy_conversation(i: int, place: str) -> list:
    """Session 0 tells where the user lives ("I'm from X"); session 1 asks "which town...?" and is answered."""
    chat = [Turn("user" if j % 2 == 0 else "assistant", t) for j, t in enumerate(FILLER)]
    told = Session(chat[:2] + [Turn("user", f"I'm from {place}, near the hills."), Turn("assistant", "Lovely.")])
    asked = Session(chat[2:] + [Turn("user", "Which town is my home?"), Turn("assistant", f"It's {place}.")])
    return [told, asked]


def test_links_join_the_question_words_to_the_words_of_the_telling():
    # 40 users, each a different place: the place is rare, the telling's words are linked to the question's
    convs = [toy_conversation(i, f"Place{chr(97 + i % 26)}{chr(97 + i // 26)}ville") for i in range(40)]
    convs += [[Session([Turn("user", t), Turn("assistant", "Okay.")]) for t in FILLER]] * 200  # words at large
    links = mine_term_links(convs)
    assert "hills" in links["town"] and "hills" in links["home"]
    assert not any(w.startswith("place") for ws in links.values() for w in ws)  # one-off values are no links
    assert "rained" not in links["town"]                                       # chit-chat is not evidence
    assert mine_term_links(convs) == links and list(links) == sorted(links)    # deterministic
    assert mine_term_links([]) == {}


def test_a_common_word_in_most_of_the_evidence_is_linked_a_rare_sighting_is_not():
    # 40 users tell their name ("Before I forget, I'm called X."; 8 of them start with "Honestly,") and are asked
    # "Do you know my nickname?" later. "called" is in every telling but common elsewhere too (ships are called
    # things): lift 1.0 / (190 / 3,190 messages) = 16.8, under MIN_LIFT, but in all of the evidence. "honestly" has
    # a like lift, 0.2 / (53 / 3,190) = 12.0, but is in a fifth of the evidence only.
    convs = []
    for i in range(40):
        name = f"Name{chr(97 + i % 26)}{chr(97 + i // 26)}"
        opener = "Honestly, before" if i < 8 else "Before"
        chat = [Turn("user" if j % 2 == 0 else "assistant", t) for j, t in enumerate(FILLER)]
        convs.append([Session(chat[:2] + [Turn("user", f"{opener} I forget, I'm called {name}."),
                                          Turn("assistant", "Lovely.")]),
                      Session(chat[2:] + [Turn("user", "Do you know my nickname?"), Turn("assistant", f"{name}!")])])
    convs += [[Session([Turn("user", t), Turn("assistant", "Okay.")]) for t in FILLER]] * 200
    convs += [[Session([Turn("user", "The ship was called Star."), Turn("assistant", "Okay.")])]] * 150
    convs += [[Session([Turn("user", "Honestly, that was fun."), Turn("assistant", "Okay.")])]] * 45
    links = mine_term_links(convs)
    assert "forget" in links["nickname"]          # lift 80: linked by either rule
    assert "called" in links["nickname"]          # common, but in all the evidence
    assert "honestly" not in links["nickname"]    # as common, in a fifth of it


def test_expansion_adds_only_new_words_in_a_fixed_order():
    links = {"town": ["live", "from", "home"], "home": ["house"]}
    assert expansion(links, "Which town is my home?") == "house live from"
    assert expansion(links, "Tell me a joke") == ""
    assert content_words("What's MY town?") == {"town"}


def test_links_bring_a_fact_told_in_other_words_into_the_memories(tmp_path):
    convs = [generate_conversation(i).sessions for i in range(150)]
    links = mine_term_links(convs)
    with MemoryStore(tmp_path / "m.db") as store:
        old = store.new_session()
        fact = store.add_message(old, "user", "I'm from Dewholt, it's quite small.")
        for text in ["It's really hot today, so I'm staying in.", "The park was fun after school.",
                     "My plant has yellow leaves.", "I need a joke about the weather for my friend."] * 5:
            store.add_message(old, "user", text)
        new = store.new_session()
        question = "What's the name of my town?"
        assert not set(content_words(question)) & content_words("I'm from Dewholt, it's quite small.")
        plain = retrieve(store, question, new, RetrievalConfig(k=3))
        linked = retrieve(store, question, new, RetrievalConfig(k=3, links=links))
    assert fact not in [m.id for m in plain.memories]
    assert fact in [m.id for m in linked.memories]
