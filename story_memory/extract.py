"""What a stretch of English narrative says about its characters: names, and the facts the text attaches to them.

Rules of ordinary English, not of any one corpus (nothing here reads the demo corpus's ground truth):
- a *name* is a run of capitalised words that is not a common sentence opener, title-only or a month/day;
  a sentence-initial word counts only when the summary already knows it, it is possessive ("Mia's"), it also
  appears inside a sentence of the same text, or the next word is a verb of narration ("Arlo woke", "Mia
  walked"; not "Long ago", "Thin clouds"); a function word ("Wherever") never starts one;
- a sentence is *about* its first name that is not a place or a named thing, else about the last such name seen
  (so "she", "his" in the next sentence attach to it);
- *facts* about that character: what it possesses ("Mia's red kite", "her lamp, Glim" -> "red kite", "lamp Glim"),
  what it has, owns, carries, keeps, wears or was given ("owned a pewter cup" -> "pewter cup"), things it names
  ("a toad named Pip" -> "toad Pip", "rescued a gecko and named it Pebble" -> "gecko Pebble"), what it treasures
  ("Mia's most treasured possession was a tin whistle" -> "tin whistle"), its favourites ("favourite colour was
  teal" -> "colour teal") and a colour named as a noun ("she always chose teal", "everything he owned was teal",
  from a list of English colour names) and the named places it is in, from or goes to ("from Ivywick" -> "Ivywick");
  body parts, clothing parts and feelings ("her sleeve", "their spirits", "his idea") tell no one apart: skipped;
- the story's *place* is the last "to/at/in/into/towards/reached the <noun phrase>" of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LETTER = r"A-Za-zÀ-ÖØ-öø-ÿ"
WORD_RE = re.compile(rf"[{LETTER}]+(?:['’-][{LETTER}]+)*|[,;:—–\"“”()]")
SENTENCE_RE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"”’']?|$)")

OPENERS = set("""a an the it its he she they we i you his her their our my your this that these those there then
when while if but and or so as at in on of for from to with without by after before once far nobody everyone
everybody everything someone somebody something nothing anyone anything one two three four five six seven eight
nine ten yes no not oh ah well what where who whom why how which maybe perhaps suddenly later tomorrow today
tonight yesterday even just only still soon now here some all every each almost meanwhile finally next last first
again also never always sometimes often instead though although because since until unless whatever whoever
let please thank thanks hello goodbye good dear chapter part book end mr mrs ms miss dr sir madam lady lord aunt
uncle grandma grandpa granny mum mom dad mother father king queen prince princess captain professor saint st
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december spring summer autumn winter christmas god somewhere anywhere everywhere
nowhere inside outside above below behind across together back home down up over out off around everybody
things people""".split())
# A sentence-first word with no other evidence of being a name counts only before a word shaped like a verb of
# narration: one ending in -ed, or one of these irregular past forms and modals ("Arlo woke", not "Long ago").
IRREGULAR_PAST = set("""was had did went came saw took gave made got knew thought felt kept held found told said
sat stood left ran won woke wore sang swam began drew grew threw flew ate fell rode wrote spoke broke chose froze
hid shook forgot heard brought bought caught taught fought sought meant slept swept wept crept built sent spent
lent bent lost met led fed read hung stuck struck dug spun sprang sank shone lay rose bit hit cut put set shut
let quit spread cast burst could would should might must will can""".split())
TITLES = {"mr", "mrs", "ms", "miss", "dr", "sir", "madam", "lady", "lord", "aunt", "uncle", "grandma", "grandpa",
          "granny", "king", "queen", "prince", "princess", "captain", "professor", "saint", "st"}
# Words that end a noun phrase: function words, pronouns, common verbs of narration.
STOP = set("""a an the and or but nor so yet for of to in on at by with without from into onto over under about
above below after before between through during until against among around near towards toward across behind
beside along up down out off away back it its he she they we i you him her them us me his their our my your this
that these those who whom whose which what when where why how than then there here is was were be been being am
are has had have having do did does done not no as if because while though although since once very too also
just only even still all any some every each both either neither much many more most such own same other another
said says say asked told would could should will shall can may might must named called almost always never
ever wherever whenever every really quite rather""".split())
POSSESSIVES = {"his", "her", "their"}
POSSESS_VERBS = {"had", "has", "have", "owned", "owns", "own", "carried", "carries", "carry", "kept", "keeps",
                 "wore", "wears", "held", "holds", "given", "gave", "brought", "bought", "found", "rescued",
                 "adopted"}
NAMING = {"named", "called"}
PLACE_PREPS = {"in", "from", "to", "at", "near", "towards", "toward", "into", "through", "reached", "visit",
               "visited", "leaving", "left"}
PERSON_HEADS = {"girl", "boy", "child", "kid", "man", "woman", "lady", "gentleman", "person", "friend", "baker",
                "farmer", "fisherman", "sailor", "teacher", "knight", "witch", "wizard"}
# Possessions too common to tell anyone apart.
GENERIC = frozenset("""eyes eye hands hand head face nose mouth ears ear feet foot arms arm legs leg hair shoulder
shoulders back mind heart breath voice pocket pockets bag way room house home door bed life name turn best side own
family parents mother father mum dad friend friends brother sister grandfather grandmother grandpa grandma granny
aunt uncle cousin godmother godfather birthday lips lip cheek cheeks chin fingers finger thumb knees knee neck
tongue teeth tooth forehead brow eyebrows lap skin sleeve sleeves collar hem cuff spirits courage idea ideas plan
plans opinion opinions feeling feelings question questions answer thoughts thought mood temper appetite manners
attention patience chance place seat moment fault wish hope fear fears luck""".split())
# What a possession, a treasure, is called: "her most treasured possession was ..." names the thing after "was".
TREASURE_HEADS = frozenset({"possession", "possessions", "treasure", "treasures", "belonging", "belongings",
                            "thing", "toy"})
UNTELLING = GENERIC | TREASURE_HEADS
# English colour names (basic terms, the common named shades, and modifier + basic term: "sky blue").
BASIC_COLOURS = set("""red orange yellow green blue purple pink brown black white grey gray violet indigo""".split())
COLOURS = BASIC_COLOURS | set("""scarlet crimson maroon burgundy ruby cherry vermilion coral salmon peach apricot
amber tangerine gold golden ochre mustard lemon saffron khaki beige cream ivory tan bronze copper rust chestnut
chocolate olive lime emerald jade mint teal turquoise aquamarine aqua cyan cobalt azure navy sapphire ultramarine
cerulean lavender lilac mauve magenta fuchsia plum periwinkle rose silver charcoal chartreuse primrose""".split())
COLOUR_MODIFIERS = set("""sky sea navy forest lime olive mustard lemon bottle royal pale dark light deep bright
baby powder midnight brick blood dusty hot""".split())
# Verbs whose object, a colour used as a noun, is the character's colour ("she always chose teal").
COLOUR_VERBS = {"saw", "sees", "chose", "chooses", "loved", "loves", "liked", "likes", "picked", "picks",
                "preferred", "prefers", "adored", "adores"}
PLACE_HEADS = {"town", "city", "village", "kingdom", "land", "island", "country", "valley", "forest", "county"}
MAX_NP_WORDS = 4


@dataclass
class Findings:
    """What a text says, in order of first appearance."""

    names: list[str] = field(default_factory=list)        # characters, in order of first appearance
    facts: dict[str, list[str]] = field(default_factory=dict)  # character -> facts in order
    mentions: dict[str, int] = field(default_factory=dict)     # character -> mentions in this text
    place: str = ""
    topic: str = ""  # the character the text ends on (what a leading "she" of the next text refers to)

    def add_name(self, name: str) -> None:
        if name not in self.facts:
            self.names.append(name)
            self.facts[name] = []
            self.mentions[name] = 0
        self.mentions[name] += 1

    def add_fact(self, name: str, fact: str) -> None:
        if not fact:
            return
        self.add_name(name)
        self.mentions[name] -= 1  # a fact is not a mention
        if fact.lower() not in (f.lower() for f in self.facts[name]):
            self.facts[name].append(fact)


def _is_cap(word: str) -> bool:
    return word[:1].isupper() and word[:1].isalpha()


def _base(word: str) -> tuple[str, bool]:
    """(word without a possessive 's, whether it had one)."""
    for s in ("'s", "’s"):
        if word.endswith(s):
            return word[: -len(s)], True
    if word.endswith(("s'", "s’")):
        return word[:-1], True
    return word, False


def _noun_phrase(words: list[str], i: int) -> tuple[list[str], int]:
    """The words of a noun phrase starting at i (up to a stop word, punctuation or MAX_NP_WORDS); (words, end)."""
    out = []
    while i < len(words) and len(out) < MAX_NP_WORDS:
        w = words[i]
        low = w.lower()
        ends = out and (low in IRREGULAR_PAST or low.endswith("ly"))  # "her tin whistle went too", "... case safely"
        if not w[0].isalpha() or low in STOP or _base(w)[1] or ends:
            break
        out.append(w)
        i += 1
    return out, i


def _sentences(text: str) -> list[list[str]]:
    return [WORD_RE.findall(s) for s in SENTENCE_RE.findall(text)]


def _name_at(words: list[str], i: int, known: set[str], inner: set[str]) -> tuple[str, int, bool]:
    """The name starting at words[i] ("" when none), the index after it, and whether it is possessive."""
    w = words[i]
    if not _is_cap(w):
        return "", i + 1, False
    parts, j, first = [], i, _first_alpha(words)
    while j < len(words) and _is_cap(words[j]):
        base, poss = _base(words[j])
        low = base.lower()
        if low.endswith("s") and low[:-1] in OPENERS:
            low = low[:-1]  # Saturdays, Mondays
        if (low in OPENERS or (j == first and low in STOP)) \
                and not (low in TITLES and j + 1 < len(words) and _is_cap(words[j + 1])):
            if parts:
                break
            return "", j + 1, False
        parts.append(base)
        j += 1
        if poss:
            break
    if not parts:
        return "", i + 1, False
    name = " ".join(parts)
    poss = _base(words[j - 1])[1]
    if i == first and name not in known and not poss and name not in inner:
        nxt = words[j] if j < len(words) else ""
        verb_next = nxt[:1].islower() and nxt.isalpha() and (nxt.endswith("ed") or nxt in IRREGULAR_PAST)
        if not verb_next or name.lower().endswith("ly"):
            return "", j, False  # a capitalised first word that may be any word: needs other evidence
    if name.lower() in STOP or name.lower() in TITLES:
        return "", j, False
    return name, j, poss


def _first_alpha(words: list[str]) -> int:
    return next((k for k, x in enumerate(words) if x[0].isalpha()), 0)


def inner_names(text: str | list[list[str]]) -> set[str]:
    """Capitalised words that appear inside a sentence (not first), or first in two sentences: evidence that a
    first word is a name."""
    found, openers = set(), set()
    for words in (_sentences(text) if isinstance(text, str) else text):
        first = _first_alpha(words)
        for w in words[first + 1:]:
            if _is_cap(w):
                found.add(_base(w)[0])
        if words and _is_cap(words[first]):
            w = _base(words[first])[0]
            if w in openers and not w.endswith("ly"):
                found.add(w)  # starts two sentences: "Mira had ... Mira owned ..."
            openers.add(w)
    return found


def _names_of(words: list[str], known: set[str], inner: set[str]) -> list[tuple[int, int, str, bool]]:
    """Every name of a sentence: (start, end, name, possessive)."""
    found, i = [], 0
    while i < len(words):
        name, j, poss = _name_at(words, i, known, inner)
        if name:
            found.append((i, j, name, poss))
        i = max(j, i + 1)
    return found


def _is_placeish(words: list[str], start: int) -> bool:
    """After a place preposition, or "the town of" / "a village called"."""
    prev = words[start - 1].lower() if start else ""
    if prev in PLACE_PREPS:
        return True
    return prev in ("of", "called", "named") and start >= 2 and words[start - 2].lower() in PLACE_HEADS


def _people(sentences: list[list[str]], known: set[str], inner: set[str]) -> set[str]:
    """Names that act somewhere in the text: possessive, or followed by a lowercase word that is not a function
    word (a verb: "Silas owned"), and not placed by a preposition there."""
    people = set(known)
    for words in sentences:
        for start, end, name, poss in _names_of(words, known, inner):
            if _is_placeish(words, start):
                continue
            nxt = words[end] if end < len(words) else ""
            if poss or (nxt[:1].isalpha() and nxt.islower() and nxt not in STOP):
                people.add(name)
    return people


def find(text: str, known_names: list[str], last_topic: str = "") -> Findings:
    """The names and facts of `text`; `known_names` are the characters a summary already holds (they count as
    names even sentence-first), `last_topic` the character the text before was about (for leading pronouns)."""
    known = set(known_names)
    sentences = _sentences(text)
    inner = inner_names(sentences)
    people = _people(sentences, known, inner)
    out = Findings()
    topic = last_topic
    for words in sentences:
        found = _names_of(words, known, inner)
        roles = {start: _role(words, start, end, name, people) for start, end, name, _ in found}
        actors = [name for (s, _, name, _) in found if roles[s] == "person"]
        if actors:
            topic = actors[0]
        for name in actors:
            out.add_name(name)
        if not topic:
            continue
        for start, end, name, poss in found:
            if name == topic or roles[start] == "person":
                continue
            if roles[start] == "place":
                out.add_fact(topic, name)
            else:
                out.add_fact(topic, f"{_head_of(words, start, end)} {name}".strip())
        owners = _possessive_owners(words, found, topic)
        _possessions(words, owners, topic, out)
        _treasures(words, owners, out)
        _favourites(words, topic, out)
        _colours(words, topic, out)
        place = _story_place(words)
        if place:
            out.place = place
    out.topic = topic
    return out


def _role(words: list[str], start: int, end: int, name: str, people: set[str]) -> str:
    """"place", "named" (a pet, a thing: "a toad named Pip", "Pip, a toad", "her toad, Pip") or "person"."""
    prev = words[start - 1].lower() if start else ""
    nxt = words[end] if end < len(words) else ""
    if _is_placeish(words, start) and name not in people:
        return "place"
    if _named_it(words, start):
        return "named"  # "... a gecko and named it Pebble"
    if prev in NAMING:
        head = words[start - 2].lower() if start >= 2 else ""
        acts = nxt[:1].isalpha() and nxt.islower() and nxt not in STOP
        return "person" if head in PERSON_HEADS or acts or name in people else "named"
    if name in people:
        return "person"
    if nxt == "," and end + 1 < len(words) and (words[end + 1].lower() in ("a", "an") or _base(words[end + 1])[1]):
        return "named"  # "Pip, a toad ...", "Pip, Mia's toad, ..."
    if prev == "," and start >= 2 and words[start - 2][:1].islower() and words[start - 2] not in STOP \
            and nxt in (",", ".", ""):
        return "named"
    return "person"


def _named_it(words: list[str], start: int) -> bool:
    """The name at `start` follows "named it" / "called him" / "named her"."""
    return start >= 2 and words[start - 1].lower() in ("it", "him", "her") and words[start - 2].lower() in NAMING


def _head_of(words: list[str], start: int, end: int) -> str:
    """The kind of a named thing: "a scruffy magpie named Pip" / "her magpie, Pip" -> magpie; "Pip, a scruffy
    magpie with ..." -> magpie."""
    prev = words[start - 1].lower() if start else ""
    if _named_it(words, start) and start >= 3:
        k = start - 3  # "rescued a greedy gecko and named it Pebble": the noun before "and named"
        return _head_before(words, k) if words[k].lower() == "and" else ""
    if prev in NAMING or prev == ",":
        return _head_before(words, start - 1)
    np_words, _ = _noun_phrase(words, end + 2)  # past ", a" or ", Mia's"
    return np_words[-1].lower() if np_words else ""


def _head_before(words: list[str], i: int) -> str:
    """The (up to two-word) noun right before position i ("a guinea pig named" -> guinea pig), or "" when there
    is none."""
    head = []
    k = i - 1
    while k >= 0 and len(head) < 2 and words[k][0].isalpha() and not _is_cap(words[k]) \
            and words[k].lower() not in STOP and not _base(words[k])[1]:
        head.insert(0, words[k].lower())
        k -= 1
    return " ".join(head)


def _possessive_owners(words: list[str], found: list, topic: str) -> dict[int, tuple[str, int]]:
    """Where a possessive stands ("Mia's", or his/her/their for `topic`): its index -> (owner, index after it)."""
    owners = {start: (name, end) for (start, end, name, poss) in found if poss}
    for i, w in enumerate(words):
        if i not in owners and w.lower() in POSSESSIVES and topic:
            owners[i] = (topic, i + 1)
    return owners


def _possessions(words: list[str], owners: dict[int, tuple[str, int]], topic: str, out: Findings) -> None:
    """`Name's X`, `his/her/their X` and `had/owned/carried/... a X`, with a lowercase appositive kept ("her
    favourite colour, mauve" -> "favourite colour mauve"); a named appositive is the named-thing rule's."""
    for i, w in enumerate(words):
        low = w.lower()
        owner = ""
        if i in owners:
            owner, j = owners[i]
        elif low in POSSESS_VERBS:
            j = i + 1
            if j < len(words) and words[j].lower() in ("him", "her", "them"):
                j += 1  # "given her a ..."
            if j < len(words) and words[j].lower() in ("a", "an"):
                owner, j = topic, j + 1
        if not owner:
            continue
        np_words, k = _noun_phrase(words, j)
        if not np_words or any(_is_cap(x) for x in np_words) or np_words[-1].lower() in UNTELLING:
            continue  # "her greatest treasure" says nothing; what it was is the treasure rule's
        if k + 1 < len(words) and words[k] == "," and _is_cap(words[k + 1]):
            continue  # "her toad, Pip": the named-thing rule
        fact = " ".join(x.lower() for x in np_words)
        if k + 2 < len(words) and words[k] == "," and words[k + 1][:1].islower() \
                and words[k + 1] not in STOP and not words[k + 2][0].isalpha():
            fact = f"{fact} {words[k + 1]}"
        elif np_words[0].lower() in ("favourite", "favorite"):
            continue  # "her favourite colour" with no value: the favourites rule finds "teal was her ..."
        if fact.startswith(("favourite ", "favorite ")):
            fact = fact.split(" ", 1)[1]  # "favourite colour mauve" -> "colour mauve"
        out.add_fact(owner, fact)


def _treasures(words: list[str], owners: dict[int, tuple[str, int]], out: Findings) -> None:
    """"Mia's (most) treasured possession was a tin whistle", "his only toy was a ..." -> "tin whistle": the
    thing after the copula, since the possessive's own noun ("possession") tells nothing."""
    for _, (owner, j) in sorted(owners.items()):
        k = j
        while k < len(words) and k - j < 4 and words[k][:1].islower() and words[k].lower() not in TREASURE_HEADS:
            k += 1  # "most treasured", "only", "greatest"
        if k + 2 >= len(words) or words[k].lower() not in TREASURE_HEADS or words[k + 1].lower() not in ("was", "is"):
            continue
        start = k + 2 + (words[k + 2].lower() in ("a", "an", "the", "his", "her", "their"))
        np_words, _ = _noun_phrase(words, start)
        if np_words and not any(_is_cap(x) for x in np_words):
            out.add_fact(owner, " ".join(x.lower() for x in np_words))


def _colour_at(words: list[str], i: int) -> tuple[str, int]:
    """The colour name at words[i] ("teal", "sky blue"; "" when none) and the index after it."""
    low = words[i].lower()
    if low in COLOUR_MODIFIERS and i + 1 < len(words) and words[i + 1].lower() in BASIC_COLOURS:
        return f"{low} {words[i + 1].lower()}", i + 2
    return (low, i + 1) if low in COLOURS else ("", i + 1)


def _colours(words: list[str], topic: str, out: Findings) -> None:
    """A colour used as a noun, not before one ("teal pencils" describes the pencils): as the object of a verb
    of liking or seeing ("she always chose teal"), after "was"/"is" at the end of a clause ("everything he owned
    was teal,"), or as the subject of "was the best" ("that teal was the best one") -> "colour teal"."""
    if not topic:
        return
    i = 0
    while i < len(words):
        colour, j = _colour_at(words, i)
        if not colour:
            i += 1
            continue
        prev = words[i - 1].lower() if i else ""
        nxt = words[j].lower() if j < len(words) else ""
        clause_end = nxt == "" or not nxt[0].isalpha()
        if (prev in COLOUR_VERBS and (clause_end or nxt in ("and", "or"))) \
                or (prev in ("was", "is") and clause_end) \
                or (nxt in ("was", "is") and j + 2 < len(words) and words[j + 1].lower() == "the"
                    and words[j + 2].lower() in ("best", "loveliest", "nicest", "finest", "prettiest")):
            out.add_fact(topic, f"colour {colour}")
        i = j


def _favourites(words: list[str], topic: str, out: Findings) -> None:
    """"favourite X was/is Y" and "Y was her favourite X" -> "X Y"; "the colour Y" -> "colour Y"."""
    for i, w in enumerate(words):
        if w.lower() in ("colour", "color") and i >= 1 and words[i - 1].lower() == "the" and i + 1 < len(words):
            np_words, _ = _noun_phrase(words, i + 1)
            if np_words:
                out.add_fact(topic, f"colour {' '.join(np_words[:2]).lower()}")
        if w.lower() in ("favourite", "favorite") and i + 3 < len(words) and words[i + 2].lower() in ("was", "is"):
            np_words, _ = _noun_phrase(words, i + 3)
            if np_words and words[i + 1][0].isalpha():
                out.add_fact(topic, f"{words[i + 1].lower()} {' '.join(np_words).lower()}")
        # "teal was her favourite colour"
        if w.lower() in ("favourite", "favorite") and i >= 3 and i + 1 < len(words) and words[i + 1][0].isalpha() \
                and words[i - 1].lower() in ("his", "her", "their", "my") and words[i - 2].lower() in ("was", "is"):
            k = i - 2
            value = []
            while k > 0 and len(value) < 2 and words[k - 1][:1].islower() and words[k - 1] not in STOP:
                value.insert(0, words[k - 1])
                k -= 1
            if value:
                out.add_fact(topic, f"{words[i + 1].lower()} {' '.join(value)}")


PLACE_WORDS = {"to", "at", "in", "into", "towards", "toward", "reached"}


def _story_place(words: list[str]) -> str:
    """The last "to/at/in/into/towards/reached the <noun phrase>" of a sentence ("" when none)."""
    place = ""
    for i in range(len(words) - 2):
        if words[i].lower() in PLACE_WORDS and words[i + 1].lower() == "the":
            np_words, _ = _noun_phrase(words, i + 2)
            if np_words and np_words[-1].lower() not in GENERIC:
                place = " ".join(np_words).lower()
    return place
