"""Term links: words of a question linked to the words of the messages that answer it, learned from chat
transcripts, so retrieval finds "I'm from Dewholt" for "what's the name of my town?".

Why: BM25 only matches words the question shares with a memory, and people rarely ask in the words they told:
"what animal is my pet?" / "I have a donkey", "what do I do in my free time?" / "I spend most weekends rowing".
Dense vectors from our small models did not bridge that (ROADMAP, issue 13); this is the older IR answer, a
translation table between query words and document words (Berger and Lafferty, 1999), mined from the training
transcripts themselves with no labels:

1. In each transcript, an assistant reply that uses a rare word (in fewer than RARE_SHARE of all messages) which
   the user's message does not hold but a message of an EARLIER session does, is an answer from memory; those
   earlier messages are its evidence.
2. Each word of the user's message is linked to each word of the evidence; a link is kept when it was seen at
   least MIN_COUNT times and its word is at least MIN_LIFT times more frequent in the evidence of that question
   word than in messages at large - or at least COMMON_LIFT times and in at least COMMON_SHARE of that evidence:
   "called" is in half of what answered "what's my name?", but pets and sisters are called things too (lift 13),
   and without it "Before I forget, I'm called Fatima." was never found.
3. Each question word keeps its TOP best links (count x log lift): 40, so a question word with a closed set of
   answers ("pet": cat, dog, ... 38 kinds) can keep most of them beside its other links.

At retrieval the linked words of the question form a second BM25 query, fused with the first by reciprocal rank
(assistant/retrieval.py). Deterministic: the same transcripts give the same links, sorted.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Iterable

from assistant.store import STOPWORDS

RARE_SHARE = 0.003  # an answer's anchor word is in fewer than this share of all messages (names, places, values)
MIN_COUNT = 3       # a link seen fewer times is noise
MIN_LIFT = 20.0     # a linked word must be this many times likelier in the evidence than in any message
COMMON_LIFT = 10.0  # ... or this many times, when it is in at least COMMON_SHARE of the question word's evidence
COMMON_SHARE = 0.25
TOP = 40            # links kept per question word

TermLinks = dict[str, list[str]]


def content_words(text: str) -> set[str]:
    """Lower-case words of two letters or more, less retrieval's stopwords."""
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 1 and w not in STOPWORDS}


def mine_term_links(conversations: Iterable[list]) -> TermLinks:
    """Links from conversations, each a list of sessions (objects with `.turns`, each turn with `.role` and
    `.content`): {question word: [linked words, best first]}, keys sorted."""
    convs = [[[(t.role, content_words(t.content)) for t in s.turns] for s in sessions] for sessions in conversations]
    df: Counter = Counter()
    n_messages = 0
    for sessions in convs:
        for turns in sessions:
            for _, words in turns:
                df.update(words)
                n_messages += 1
    if not n_messages:
        return {}
    co: dict[str, Counter] = defaultdict(Counter)
    asked: Counter = Counter()
    for sessions in convs:
        earlier: list[set[str]] = []  # the words of each message of the sessions before this one
        for turns in sessions:
            for (role_a, q), (role_b, r) in zip(turns, turns[1:]):
                if role_a != "user" or role_b != "assistant":
                    continue
                anchors = {w for w in r - q if df[w] < RARE_SHARE * n_messages}
                evidence = set().union(*(m for m in earlier if anchors & m)) if anchors else set()
                if not evidence:
                    continue
                for word in q:
                    asked[word] += 1
                    co[word].update(evidence - q)
            earlier += [words for _, words in turns]
    links: TermLinks = {}
    for word in sorted(co):
        scored = []
        for linked, count in co[word].items():
            share = count / asked[word]
            lift = share / (df[linked] / n_messages)
            if count >= MIN_COUNT and (lift >= MIN_LIFT or (lift >= COMMON_LIFT and share >= COMMON_SHARE)):
                scored.append((-count * math.log(lift), linked))
        if scored:
            links[word] = [w for _, w in sorted(scored)[:TOP]]
    return links


def expansion(links: TermLinks, query: str) -> str:
    """The words linked to the query's words that the query does not hold, space-separated ('' when none), in a
    fixed order: the query's words sorted, each word's links best first."""
    words = content_words(query)
    out: dict[str, None] = {}
    for word in sorted(words):
        for linked in links.get(word, ()):
            if linked not in words:
                out[linked] = None
    return " ".join(out)
