"""Long books: cut into parts at paragraph breaks without losing a byte, Project Gutenberg's header and licence
split off and cleaned to nothing, and through import -> prepare a book gives validation documents. The book is
our own demo stories wrapped in Project Gutenberg's marker lines (the format, not their text)."""

import json
import subprocess
import sys

import pytest

from common.fsio import read_jsonl
from common.paths import REPO_ROOT, DatasetPaths
from corpus.book_parts import split_parts, strip_gutenberg
from corpus.text_cleaning import clean_text
from demo.stories import generate_corpus

HEADER = ("The Example eBook of Little Tales, by Nobody in Particular\r\n\r\n"
          "This eBook is for the use of anyone anywhere at no cost and with almost no restrictions\r\n"
          "whatsoever. You may copy it, give it away or re-use it under the terms of the licence\r\n"
          "included with this eBook.\r\n\r\nTitle: Little Tales\r\n\r\nAuthor: Nobody in Particular\r\n\r\n"
          "Release Date: January 1, 2001\r\n\r\nLanguage: English\r\n\r\nCharacter set encoding: UTF-8\r\n\r\n"
          "*** START OF THE PROJECT GUTENBERG EBOOK LITTLE TALES ***\r\n")
CLOSING = "End of the Project Gutenberg EBook of Little Tales, by Nobody in Particular\r\n\r\n"
FOOTER = ("*** END OF THE PROJECT GUTENBERG EBOOK LITTLE TALES ***\r\n\r\n"
          "Updated editions will replace the previous one.\r\n\r\n"
          "*** START: FULL LICENSE ***\r\n\r\n"
          + "".join(f"Section {i}. A licence paragraph about copying and sharing this eBook, written\r\n"
                    f"out here at some length so that it reads like the real thing.\r\n\r\n" for i in range(8)))


def book(stories: int = 12) -> tuple[str, list[str]]:
    """A CRLF book of demo stories between the markers, and the stories' texts."""
    tales = [s.text.strip() for s in generate_corpus(stories, 5)]
    body = "\r\n\r\n\r\n".join(t.replace("\n", "\r\n") for t in tales)
    return HEADER + "\r\nProduced by volunteers\r\n\r\n\r\n" + body + "\r\n\r\n\r\n" + CLOSING + FOOTER, tales


def test_parts_join_back_to_the_text_and_cut_at_paragraph_breaks():
    text, _ = book()
    for size in (1, 500, 3000, 10 ** 9):
        parts = split_parts(text, size)
        assert "".join(parts) == text and all(parts)
    parts = split_parts(text, 3000)
    assert parts[0] == HEADER and parts[-1] == CLOSING + FOOTER  # header and licence are parts of their own
    middle = parts[1:-1]
    assert len(middle) > 3
    for p in middle[:-1]:  # each ends at a paragraph break once it reached the size, so no longer than needed
        assert p.endswith("\r\n\r\n") and len(p) >= 3000
        assert len(p.rstrip("\r\n").rsplit("\r\n\r\n", 1)[0]) < 3000  # without its last paragraph: too short
    plain = "one.\n\ntwo.\n\nthree.\n\n"
    assert split_parts(plain, 0) == [plain] and split_parts(plain, 100) == [plain]
    assert split_parts(plain, 3) == ["one.\n\n", "two.\n\n", "three.\n\n"]  # trailing blanks stay with "three."
    assert split_parts("a paragraph longer than the size, never cut inside", 5) == [
        "a paragraph longer than the size, never cut inside"]


def test_only_the_book_between_the_markers_is_cleaned_text():
    text, tales = book(3)
    assert strip_gutenberg("no markers here\n") == "no markers here\n"
    inner = strip_gutenberg(text)
    assert "PROJECT GUTENBERG" not in inner.upper() and "licence" not in inner and inner.count("Produced by") == 1
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned and "Gutenberg" not in cleaned and "Title:" not in cleaned
    for tale in tales:
        assert clean_text(tale) in cleaned  # every story whole
    parts = split_parts(text, 2000)
    assert clean_text(parts[0]) == "" and clean_text(parts[-1]) == ""  # header, licence: nothing left
    assert all(clean_text(p) for p in parts[1:-1])
    older = text.replace("THE PROJECT", "THIS PROJECT").replace("EBOOK", "eBook")  # older files, any case
    assert clean_text(older) == cleaned


@pytest.mark.slow
def test_a_book_imported_in_parts_gives_validation_documents(tmp_path):
    text, tales = book(40)
    src = tmp_path / "books" / "little-tales.txt"
    src.parent.mkdir()
    src.write_bytes(("\ufeff" + text).encode("utf-8"))
    profile = tmp_path / "books.yaml"
    profile.write_text("stages: [import, validate, filter, clean, prepare]\n"
                       f"import: {{inputs: [{json.dumps(str(src.parent))}], source: books, split_chars: 3000}}\n"
                       "prepare: {val_fraction: 0.3}\n")
    data = tmp_path / "data"
    res = subprocess.run([sys.executable, str(REPO_ROOT / "run.py"), "--no-stats", "--config", str(profile),
                          "--dataset-dir", str(data)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    paths = DatasetPaths(data)
    index = list(read_jsonl(paths.raw_index))
    assert len(index) > 10 and all(r["path"].startswith("books/") for r in index)
    raw = "".join((paths.raw / r["path"]).read_text(encoding="utf-8") for r in index)
    assert raw.replace("\r\n", "\n").lstrip("\ufeff") == text.replace("\r\n", "\n")  # every character kept
    items = [r["path"].removesuffix(".txt") for r in index]
    rejected = {r["item"] for f in paths.rejected.rglob("*.jsonl") for r in read_jsonl(f)}
    empty = [r["item"] for r in read_jsonl(paths.rejected / "empty_after_clean" / "clean.jsonl")]
    assert rejected == set(empty) == {items[0], items[-1]}  # the header and the licence: cleaned to nothing
    cleaned = "".join(p.read_text(encoding="utf-8") for p in sorted(paths.cleaned.rglob("*.txt")))
    assert "Gutenberg" not in cleaned and "licence" not in cleaned
    splits = json.loads((paths.processed / "meta.json").read_text())["splits"]
    assert splits["val"]["docs"] > 0 and splits["train"]["docs"] + splits["val"]["docs"] == len(index) - 2
