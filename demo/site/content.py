"""Which story goes where on the demo site: the site plan, a pure function of the stories given to it.

Story i (its position in the list) gets a role from its position, so the same stories always give the same site:

    position 0, 5, 10, 15, ...  multi_page   split over 2 or 3 pages: /stories/<slug>/, /stories/<slug>/page/2/ ...
    1   slow        answers after `slow_seconds`          2   flaky      answers 500 once, then 200
    3, 13  js_inline   text only in an inline JSON blob    4   js_api     text fetched from /api/story/<slug>.json
    6, 11  print_dup   also at /print/<slug>/ (same text)
    7, 12  near_dup    also at /archive/<slug>/ (a few words swapped for synonyms)
    8   private     only at /private/stories/<slug>/ (robots.txt disallows /private/)
    9   app_wall    only its first paragraph, then "Get the app to continue reading"
    any other   plain       one ordinary story page
Besides the stories: a French story (/stories/la-lanterne-de-mireille/), a too-short page (/stories/the-pebble/),
the home page, the story index and an about page.

`listed` is the order in which the search endpoint and the sitemap list pages: each story's first page in
position order, the French page after position 5, the short page after position 10, and every duplicate a few
positions after its original (so a pipeline that keeps the earliest copy keeps the original).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from demo.site import texts as W

MIN_STORIES = 16  # the fixed roles use positions up to 13, and duplicates are listed up to 8 positions later
FIXED_ROLES = {1: "slow", 2: "flaky", 3: "js_inline", 4: "js_api", 6: "print_dup", 7: "near_dup", 8: "private",
               9: "app_wall", 11: "print_dup", 12: "near_dup", 13: "js_inline"}
FIRST_DATE = date(2025, 1, 6)


@dataclass(frozen=True)
class Page:
    """One HTML page of the site. `paragraphs` are the story paragraphs this page shows (scene breaks included)."""

    path: str  # root-relative, always ends with "/"
    kind: str  # story, js_inline, js_api, print, near_dup, app_wall, home, index, about
    title: str
    paragraphs: tuple[str, ...] = ()
    story: int | None = None  # position of its story in the site's list (None for the hand-written pages)
    slug: str = ""
    page_no: int = 1
    page_count: int = 1
    author: int = 0  # index into texts.AUTHORS
    published: str = ""  # YYYY-MM-DD
    lang: str = "en"

    def page_path(self, n: int) -> str:
        """Path of page n of this page's story (n = 1 is the first page)."""
        first = self.path if self.page_no == 1 else self.path.rsplit("/page/", 1)[0] + "/"
        return first if n == 1 else f"{first}page/{n}/"


@dataclass
class SitePlan:
    """Every page by path, the listing order, and ground truth (root-relative paths) for tests."""

    pages: dict[str, Page] = field(default_factory=dict)
    listed: list[str] = field(default_factory=list)  # search results and sitemap, in order
    public: list[str] = field(default_factory=list)  # story pages linked from the home page and index
    api: dict[str, str] = field(default_factory=dict)  # /api/story/<slug>.json -> page path
    print_of: dict[str, str] = field(default_factory=dict)  # original path -> its /print/ path
    slow: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)


def slugify(title: str) -> str:
    """`Juno, Noé and the Apple Mystery` -> `juno-noe-and-the-apple-mystery` (ASCII letters and digits only)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower().replace("'", "")).strip("-") or "story"


def split_paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs of a story text (blank-line separated; scene-break lines are paragraphs of their own)."""
    return tuple(p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip())


def split_pages(paragraphs: tuple[str, ...], count: int) -> list[tuple[str, ...]]:
    """Cut paragraphs into `count` non-empty runs of about equal length, at paragraph boundaries."""
    count = max(1, min(count, len(paragraphs)))
    total = sum(len(p) for p in paragraphs)
    pages: list[list[str]] = [[]]
    done = 0
    for i, para in enumerate(paragraphs):
        left = len(paragraphs) - i  # paragraphs not yet placed, this one included
        need = count - len(pages)  # pages still to open after the current one
        full = pages[-1] and done >= total * len(pages) / count
        if need > 0 and (full or left == need):
            pages.append([])
        pages[-1].append(para)
        done += len(para)
    return [tuple(p) for p in pages]


def near_duplicate(paragraphs: tuple[str, ...]) -> tuple[str, ...]:
    """The same paragraphs with a few words swapped for synonyms (texts.NEAR_DUP_SWAPS), spread over the text."""
    text = "\n\n".join(paragraphs)
    hits = [m for m in re.finditer(r"\b[a-z]+\b", text) if m.group() in W.NEAR_DUP_SWAPS]
    step = max(1, len(hits) // W.NEAR_DUP_MAX_SWAPS)
    chosen = hits[::step][:W.NEAR_DUP_MAX_SWAPS]
    for m in reversed(chosen):  # from the end, so earlier offsets stay valid
        text = text[:m.start()] + W.NEAR_DUP_SWAPS[m.group()] + text[m.end():]
    out = list(split_paragraphs(text))
    if len(chosen) < 3:  # too few swappable words: add a closing sentence instead
        out[-1] = f"{out[-1]} {W.NEAR_DUP_FALLBACK}"
    return tuple(out)


def role_of(position: int) -> str:
    """The role of the story at `position` (see the module docstring)."""
    return FIXED_ROLES.get(position) or ("multi_page" if position % 5 == 0 else "plain")


def build_plan(stories: list[Any]) -> SitePlan:
    """The whole site for these stories (objects with .title, .text and .doc_id), in a fixed layout."""
    if len(stories) < MIN_STORIES:
        raise ValueError(f"the demo site needs at least {MIN_STORIES} stories, got {len(stories)}")
    plan = SitePlan()
    t = plan.truth = {"stories": {}, "story_pages": [], "multi_page": {}, "js_only": [], "exact_duplicates": {},
                      "near_duplicates": {}, "foreign": {}, "app_wall": [], "too_short": [], "disallowed": [],
                      "slow": [], "flaky": []}
    used: set[str] = {W.FOREIGN_SLUG, W.SHORT_SLUG}
    deferred: dict[int, list[str]] = {}
    n = len(stories)

    def add(page: Page) -> Page:
        plan.pages[page.path] = page
        return page

    for i, story in enumerate(stories):
        role = role_of(i)
        slug = base = slugify(story.title)
        k = 2
        while slug in used:
            slug, k = f"{base}-{k}", k + 1
        used.add(slug)
        paras = split_paragraphs(story.text)
        common = dict(title=story.title, story=i, slug=slug, author=i % len(W.AUTHORS),
                      published=(FIRST_DATE + timedelta(days=3 * i)).isoformat())
        path = f"/private/stories/{slug}/" if role == "private" else f"/stories/{slug}/"
        record = {"title": story.title, "doc_id": story.doc_id, "role": role, "text": "\n\n".join(paras),
                  "pages": [path]}
        if role == "multi_page":
            chunks = split_pages(paras, 3 if i % 10 == 0 else 2)
            for no, chunk in enumerate(chunks, 1):
                add(Page(path=path if no == 1 else f"{path}page/{no}/", kind="story", paragraphs=chunk,
                         page_no=no, page_count=len(chunks), **common))
            record["pages"] = [plan.pages[path].page_path(no) for no in range(1, len(chunks) + 1)]
            t["multi_page"][path] = record["pages"]
        elif role in ("js_inline", "js_api"):
            add(Page(path=path, kind=role, paragraphs=paras, **common))
            plan.api[f"/api/story/{slug}.json"] = path
            t["js_only"].append(path)
        elif role == "app_wall":
            add(Page(path=path, kind="app_wall", paragraphs=paras[:1], **common))
            t["app_wall"].append(path)
            record = None  # its text is never served in full
        else:
            add(Page(path=path, kind="story", paragraphs=paras, **common))
        if role == "print_dup":
            dup = add(Page(path=f"/print/{slug}/", kind="print", paragraphs=paras, **common)).path
            plan.print_of[path] = dup
            t["exact_duplicates"][dup] = path
            deferred.setdefault(min(i + 8, n - 1), []).append(dup)
        elif role == "near_dup":
            dup = add(Page(path=f"/archive/{slug}/", kind="near_dup", paragraphs=near_duplicate(paras),
                           **common)).path
            t["near_duplicates"][dup] = path
            deferred.setdefault(min(i + 8, n - 1), []).append(dup)
        if role == "private":
            t["disallowed"].append(path)
        else:
            plan.public.append(path)
        if role == "slow":
            plan.slow.append(path)
        if role == "flaky":
            plan.flaky.append(path)
        if record is not None:
            t["stories"][path] = record
        if role in ("plain", "multi_page", "slow", "flaky", "print_dup", "near_dup"):
            t["story_pages"].append(path)
        plan.listed.append(path)
        if i == 5:
            plan.listed.append(add(Page(path=f"/stories/{W.FOREIGN_SLUG}/", kind="story", title=W.FOREIGN_TITLE,
                                        paragraphs=W.FOREIGN_PARAGRAPHS, slug=W.FOREIGN_SLUG, lang=W.FOREIGN_LANG,
                                        author=3, published="2025-02-14")).path)
            plan.public.append(plan.listed[-1])
            t["foreign"][plan.listed[-1]] = W.FOREIGN_LANG
        if i == 10:
            plan.listed.append(add(Page(path=f"/stories/{W.SHORT_SLUG}/", kind="story", title=W.SHORT_TITLE,
                                        paragraphs=W.SHORT_PARAGRAPHS, slug=W.SHORT_SLUG, author=2,
                                        published="2025-03-03")).path)
            plan.public.append(plan.listed[-1])
            t["too_short"].append(plan.listed[-1])
        plan.listed.extend(deferred.pop(i, []))
    t["slow"], t["flaky"] = list(plan.slow), list(plan.flaky)
    for path, kind, title in (("/", "home", W.SITE_NAME), ("/stories/", "index", "All stories"),
                              ("/about/", "about", f"About {W.SITE_NAME}")):
        add(Page(path=path, kind=kind, title=title))
    return plan
