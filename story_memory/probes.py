"""Memory probes: the file format the continuity benchmark reads, and a probe maker for any corpus.

A probes file is JSON lines, one probe per line (DATA_FORMAT.md, "Memory probes"):

    {"context": str, "answer": str, "distractors": [str, ...], "last_mention": int, ...metadata}

`context` is the story up to the point where `answer` comes next; `distractors` are other plausible candidates
(non-empty, distinct, none equal to the answer); `last_mention` is the character offset in `context` where the
fact's last earlier mention ends, so the scorer can measure how far back the model must remember. Any other key
is metadata kept in `Probe.meta` (the makers write "source", "doc", "kind" and "character").

`corpus_probes` makes name probes from plain text, with no ground truth: a personal name mentioned again long
after its previous mention, the other names of the same document as distractors. How a name is recognised and
which re-mentions become probes is described on the functions below.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from common.config import UserError
from common.fsio import atomic_write_via, dumps_json, parse_json, printable

MAX_PROBES_BYTES = 1 << 30  # a probes file larger than this is refused (contexts are long, but not that long)
MAX_PROBES_LINES = 1_000_000
CORE_KEYS = ("context", "answer", "distractors", "last_mention")


@dataclass
class Probe:
    """One probe; `meta` holds the optional keys ("source", "doc", "kind", "character"...)."""
    context: str
    answer: str
    distractors: list[str]
    last_mention: int
    meta: dict = field(default_factory=dict)

    def record(self) -> dict:
        """The probe as one JSON object: metadata first, so a metadata key can never replace a core field."""
        return {**self.meta, "context": self.context, "answer": self.answer,
                "distractors": list(self.distractors), "last_mention": self.last_mention}


def problem(rec: object) -> str | None:
    """Why `rec` is not a valid probe record, or None when it is."""
    if not isinstance(rec, dict):
        return f"not a JSON object but {type(rec).__name__}"
    for key in ("context", "answer"):
        if not isinstance(rec.get(key), str) or not rec[key]:
            return f"'{key}' must be a non-empty string"
    ds = rec.get("distractors")
    if not isinstance(ds, list) or not ds or not all(isinstance(d, str) and d for d in ds):
        return "'distractors' must be a non-empty list of non-empty strings"
    if rec["answer"] in ds:
        return f"a distractor equals the answer {rec['answer'][:40]!r}"
    if len(set(ds)) != len(ds):
        return "'distractors' holds the same string twice"
    lm = rec.get("last_mention")
    if not isinstance(lm, int) or isinstance(lm, bool) or not 0 <= lm <= len(rec["context"]):
        return f"'last_mention' must be an integer from 0 to the context's length ({len(rec['context']):,})"
    return None


def probe_from_record(rec: dict) -> Probe:
    """A Probe from a record `problem` accepted."""
    meta = {k: v for k, v in rec.items() if k not in CORE_KEYS}
    return Probe(rec["context"], rec["answer"], list(rec["distractors"]), rec["last_mention"], meta)


def write_probes(path: str | Path, probes: Iterable[Probe]) -> int:
    """Atomically write a probes file (temp file, fsync, rename); returns how many were written. An invalid probe
    is a bug in its maker: ValueError, and the old file stays."""
    lines = []
    for i, p in enumerate(probes, 1):
        rec = p.record()
        why = problem(rec)
        if why:
            raise ValueError(f"probe {i}: {why}")
        lines.append(dumps_json(rec) + "\n")

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)

    atomic_write_via(Path(path), write)
    return len(lines)


def read_probes(path: str | Path) -> list[Probe]:
    """Every probe of a probes file, validated; UserError naming the file and line for the first bad one.

    Blank lines are skipped. A last line without its "\\n" is a write that never finished (DATA_FORMAT.md rule) and
    is ignored when it is not valid JSON; when it parses, it is a complete probe and is read like any other."""
    path = Path(path)
    name = printable(str(path))
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise UserError(f"probes file {name} is not a file")
        if size > MAX_PROBES_BYTES:
            raise UserError(f"probes file {name} is {size:,} bytes, over the limit of {MAX_PROBES_BYTES:,}")
        f = open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"probes file not found: {name}") from None
    except PermissionError:
        raise UserError(f"cannot read probes file {name}: permission denied") from None
    probes = []
    with f:
        for lineno, raw in enumerate(f, 1):
            if lineno > MAX_PROBES_LINES:
                raise UserError(f"{name}: more than {MAX_PROBES_LINES:,} lines")
            if not raw.strip():
                continue
            try:
                rec = parse_json(raw)
            except ValueError as e:  # UnicodeDecodeError is a ValueError too
                if not raw.endswith(b"\n"):
                    break  # torn last line
                raise UserError(f"{name}:{lineno}: not valid JSON ({str(e)[:80]})") from None
            why = problem(rec)
            if why:
                raise UserError(f"{name}:{lineno}: {why}")
            probes.append(probe_from_record(rec))
    return probes


# --- the generic maker: names in any story ---------------------------------------------------------------------

# Capitalised words that are not personal names although they recur in the middle of sentences: titles (kept
# apart from the name they go with; the royal ones too, capitalised in fairy tales), the pronoun "I", days,
# months, and words a dialogue line often starts with.
NOT_NAMES = frozenset("""
i mr mrs ms miss dr sir madam lady lord mister master captain professor aunt uncle saint st chapter
king queen prince princess
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december god oh ok yes no the and but or a an he she it they we you his her
""".split())
TITLES = frozenset("mr mrs ms dr st".split())  # "Mr. Darcy": the full stop of a title does not end a sentence
WORD = re.compile(r"[^\W\d_]+")  # letters only: "Ada's" gives "Ada", "Jean-Luc" gives "Jean" and "Luc"
TRAILING_WORD = re.compile(r"[^\W\d_]+$")
OPENERS = "\"'“‘(["  # right before a word: a quotation or aside starts there, with a capital
CLOSERS = "\"'”’)]"  # between a sentence's end and the next word
ENDS = ".!?…:"
# The word before a mention, joined by a space or hyphen, or by "of" / "of the" ("the Fairy of the Desert")
WORD_BEFORE = re.compile(r"([^\W\d_]+)(\s+of(?:\s+the)?\s+|[ \t\r\n\-])$")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    initial: bool  # the word starts a sentence, a paragraph or a quotation
    continues: bool = False  # the word continues a longer proper name (continues_a_name)


def sentence_initial(text: str, start: int) -> bool:
    """Whether the word at `start` would be capitalised anyway: it starts the text, a paragraph (after a blank
    line), a quotation or bracket, or follows the end of a sentence (not the full stop of a title like "Mr.")."""
    if start > 0 and text[start - 1] in OPENERS:
        return True
    i = start
    while i > 0 and (text[i - 1].isspace() or text[i - 1] in CLOSERS):
        i -= 1
    if i == 0 or text.count("\n", i, start) >= 2:  # a blank line (LF or CRLF) between: a new paragraph
        return True
    if text[i - 1] not in ENDS:
        return False
    title = TRAILING_WORD.search(text, max(0, i - 20), i - 1) if text[i - 1] == "." else None
    return not (title and title.group().lower() in TITLES)


def continues_a_name(text: str, start: int) -> bool:
    """Whether the word at `start` continues a longer proper name: it follows a capitalised word that does not
    start a sentence ("the Yellow Dwarf", "Fairy Paribanou", "Humpy-Dumpy"; a title such as "Prince Ahmed" is
    not a name of its own, so "Ahmed" counts alone), or follows "X of" / "X of the" with X capitalised ("the Fairy
    of the Desert", "the King of the Gold Mines"). Such a word is given away by the one before it. A capitalised word
    that starts a sentence is left alone ("Then Dummling"), so "Old Tom" at a sentence's start is not caught; a
    hyphen joins whatever the first word ("Humpy-Dumpy")."""
    m = WORD_BEFORE.search(text, max(0, start - 60), start)
    if not m or (m.start(1) > 0 and text[m.start(1) - 1].isalpha()):  # no word, or one cut by the 60 characters
        return False
    if not m.group(1)[0].isupper() or (m.group(2) != "-" and sentence_initial(text, m.start(1))):
        return False
    return "of" in m.group(2) or m.group(1).lower() not in NOT_NAMES


def find_names(text: str, min_count: int = 3) -> dict[str, list[Mention]]:
    """Personal names of a document and all their mentions, in text order.

    A name is a capitalised word (not all capitals, two letters or more) that occurs at least `min_count` times,
    at least once where nothing else explains the capital (not sentence-initial), is not in NOT_NAMES, and occurs
    in lower case less often than capitalised mid-sentence (so "Then"/"then" is not a name, "Rose" the girl
    mentioned often still is), and is not only ever the second word of a longer name ("Dwarf" of "the Yellow
    Dwarf", which continues_a_name explains)."""
    mentions: dict[str, list[Mention]] = {}
    lower = Counter()
    for m in WORD.finditer(text):
        word = m.group()
        if word[0].isupper() and len(word) >= 2 and not word.isupper():
            mentions.setdefault(word, []).append(Mention(m.start(), m.end(), sentence_initial(text, m.start()),
                                                         continues_a_name(text, m.start())))
        elif word.islower():
            lower[word] += 1
    names = {}
    for word, found in mentions.items():
        inside = sum(not x.initial for x in found)
        alone = sum(not x.continues for x in found)
        if (len(found) >= min_count and inside and alone and word.lower() not in NOT_NAMES
                and lower[word.lower()] < inside):
            names[word] = found
    return names


def related(a: str, b: str) -> bool:
    """Names one of which starts with the other ("Ann"/"Anna"): as candidates they would share their first
    tokens, so one would be a poor distractor for the other."""
    return a.startswith(b) or b.startswith(a)


def pick_remention(names: dict[str, list[Mention]], min_distance: int, limit: int) -> list[tuple[int, int, str]]:
    """(start, name, end of the previous mention) of up to `limit` mid-sentence re-mentions at least `min_distance`
    characters after the previous mention of the same name, none continuing a longer name (continues_a_name).
    Spread over names, the story's main characters first: names by mention count (ties: first mentioned first), one
    re-mention per name per round, each name's farthest first; so one name cannot fill a document's quota, and a
    name the story keeps using outranks a passing one."""
    queues = []
    for name, found in sorted(names.items(), key=lambda kv: (-len(kv[1]), kv[1][0].start)):
        far = [(cur.start - prev.end, cur.start, name, prev.end) for prev, cur in zip(found, found[1:])
               if not cur.initial and not cur.continues and cur.start - prev.end >= min_distance]
        if far:
            queues.append(sorted(far, key=lambda c: (-c[0], c[1])))
    picked: list[tuple[int, int, str]] = []
    for round_ in range(max((len(q) for q in queues), default=0)):
        for q in queues:
            if round_ < len(q) and len(picked) < limit:
                picked.append(q[round_][1:])
    return picked


def corpus_probes(documents: Iterable[tuple[str, str]], min_distance_chars: int, max_per_doc: int,
                  n_distractors: int) -> list[Probe]:
    """Name probes for any corpus of (doc_id, text): deterministic, no randomness.

    A probe is a mention of a name whose previous mention of that name ended at least `min_distance_chars`
    earlier; context = the text before it, answer = the name, last_mention = the end of that previous mention.
    Only mid-sentence mentions become probes: there the capital proves the word is used as the name (a
    sentence-initial "Rose" may be a verb). Distractors are the document's other names already mentioned in the
    context (so the model has seen every candidate), most mentioned there first (ties: first mentioned first),
    leaving out names related to the answer by a prefix; up to `n_distractors` of them, and a probe with none is
    skipped (so a two-name story gives two-way probes; the benchmark's chance level is the mean over probes).
    At most `max_per_doc` probes per document, chosen by `pick_remention`, returned in text order, documents in
    the order given."""
    if min_distance_chars < 0 or max_per_doc < 1 or n_distractors < 1:
        raise ValueError("min_distance_chars must be >= 0, max_per_doc and n_distractors >= 1")
    out = []
    for doc_id, text in documents:
        names = find_names(text)
        for start, name, prev_end in sorted(pick_remention(names, min_distance_chars, max_per_doc)):
            seen = {other: [x for x in found if x.end <= start] for other, found in names.items()}
            ranked = sorted((other for other, before in seen.items() if before and not related(other, name)),
                            key=lambda other: (-len(seen[other]), seen[other][0].start))
            if ranked:
                out.append(Probe(text[:start], name, ranked[:n_distractors], prev_end,
                                 {"source": "corpus", "doc": doc_id, "kind": "name", "character": name}))
    return out
