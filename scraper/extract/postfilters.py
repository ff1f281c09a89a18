"""Post-filters for what readability keeps on story sites, as a flat list of named, measurable rules.

Each rule may remove elements by their class/id words (on the whole page before readability, so it scores the
story container rather than a long comment thread, and again inside the content it kept), remove elements by tag,
cut a section that starts with a telling heading ("Comments", "You may also like") and drop whole paragraphs of
boilerplate text ("Page 2 of 5", "Share this:"). `bench/extract.py` measures macro F1 on the fixture set with
each rule switched off and alone (`skip` names rules to leave out). Measured (34 story pages, v1.0): all rules
0.990, no rules 0.926; deltas when one is removed: unwrap +0.029, title +0.008, author_box +0.008, related
+0.007, chrome +0.004, vote_prompts +0.004, metadata +0.004, captions +0.003, comments +0.003, page_numbers
+0.001. share_bars added nothing (readability already drops share bars by their class names), so it is off
by default (`default_on=False`) and only the bench runs it.

Safety net for every element rule: an element holding more than half of the page's text is never removed (a
WordPress `<article class="... comments-open">` must survive its "comments" class word).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
NEVER_REMOVE = frozenset(("html", "body", "main"))
MAX_SHARE = 0.5  # an element rule never removes an element holding more than this share of the text
SHORT = 200  # paragraph rules only touch paragraphs shorter than this (chars): boilerplate is short


def _words(*words: str) -> re.Pattern:
    """A class/id token matcher: one of `words` as a whole hyphen/underscore-separated part of the token."""
    return re.compile(r"(?:^|[-_])(?:%s)(?:[-_]|$)" % "|".join(words), re.IGNORECASE)


def _para(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """One post-filter: element words, tags, section headings and paragraph patterns it removes."""

    name: str
    attr_re: re.Pattern | None = None  # class/id token matcher: matching elements are removed
    tags: tuple[str, ...] = ()  # elements removed by tag name
    heading_re: re.Pattern | None = None  # heading text (full match): heading and what follows it are cut
    para_re: re.Pattern | None = None  # paragraph text (full match, short paragraphs only): paragraph dropped
    page_only: bool = False  # tags removed from the whole page only (readability's output is left alone)
    default_on: bool = True  # False: measured by the bench but not paying on the fixture set, so left off


RULES: tuple[Rule, ...] = (
    # Site chrome around the story: menus, headers, footers, sidebars, forms, ads, cookie banners.
    Rule("chrome", _words("nav", "navbar", "navigation", "menu", "sidebar", "side", "widget", "widgets",
                          "footer", "masthead", "breadcrumbs?", "site-header", "skip", "ad", "ads", "advert",
                          "advertisement", "sponsor(?:ed)?", "promo", "newsletter", "subscribe", "signup",
                          "cookies?", "consent", "gdpr", "banner", "toolbar", "search"),
         tags=("nav", "footer", "aside", "form", "header"), page_only=True,
         para_re=_para(r"(we use cookies|this (site|website) uses cookies|advertisement|sponsored)\b.{0,160}")),
    # Image and figure captions ("A lantern on a hill.", "Photo: ...").
    Rule("captions", _words("caption", "wp-caption-text", "figcaption", "credit", "photo-credit"),
         tags=("figure", "figcaption"),
         para_re=_para(r"(photo|image|illustration|picture|art|cover)( credit| by)?\s*[:©].{0,120}")),
    # Share bars and social buttons.
    Rule("share_bars", _words("share", "shares", "sharing", "sharedaddy", "social", "addthis", "sharethis",
                              "share-buttons"),
         para_re=_para(r"(share( this( story| post)?| on)?\s*:?(\s*(twitter|facebook|pinterest|reddit|tumblr|"
                       r"email|e-mail|print|whatsapp|x|link|copy link|mastodon|bluesky)[\s,|·•]*)+|"
                       r"share this( story| post)?[:!.]?|tweet|pin it)"), default_on=False),
    # "Read more" / related stories / recommendations.
    Rule("related", _words("related", "read-more", "readmore", "more-stories", "recommended", "recommendations",
                           "also-like", "popular", "trending", "further-reading", "more-from", "read-next",
                           "you-may-like"),
         heading_re=_para(r"(related( stories| posts| tales| reads)?|you (may|might) also (like|enjoy)|"
                          r"more (stories|tales|from .{1,40}|by .{1,40})|read (more|next|this next)|"
                          r"recommended( for you| reading)?|popular( stories| posts)?|other stories.{0,40})[:.]?"),
         para_re=_para(r"((read more|continue reading|keep reading|read next|see also|read also|related)"
                       r"\b.{0,120}|more stories (like this|by .{1,40})[.!]?)")),
    # Comment sections and their prompts.
    Rule("comments", _words("comments?", "commentlist", "comment-list", "comments-area", "respond", "replies",
                            "discussion", "disqus", "responses"),
         heading_re=_para(r"(\d+\s+)?(comments?|responses?|replies|reviews)( \(\d+\))?[:.]?|"
                          r"leave a (reply|comment)|join the (discussion|conversation)|what did you think\??|"
                          r"reader comments"),
         para_re=_para(r"((\d+|no)\s+comments?|leave a (reply|comment)|(log|sign) in to (comment|reply)|"
                       r"add a comment|post comment|reply)[.!]?")),
    # Author boxes, bylines and dates.
    Rule("author_box", _words("author", "author-box", "authorbox", "about-author", "author-bio", "bio",
                              "byline", "contributor", "profile", "avatar", "post-date", "dateline"),
         heading_re=_para(r"about the (author|writer)[:.]?"),
         para_re=_para(r"((written |posted |story |a story )?by\s+(?-i:[A-Z][\w.'’-]*)(\s+(?-i:[A-Z][\w.'’-]*)){0,3}"
                       r"(\s*[|,·•–-].{0,50})?|about the (author|writer)\b.{0,180}|"
                       r"(posted|published|updated|written)( on| in)?\s.{1,60}|"
                       r"(january|february|march|april|may|june|july|august|september|october|november|"
                       r"december)\s+\d{1,2},?\s+\d{4}.{0,40})")),
    # Vote, like, kudos and rating prompts.
    Rule("vote_prompts", _words("vote", "votes", "voting", "likes?", "rating", "ratings", "kudos",
                                "reactions?", "applause", "stars", "upvote", "favou?rite"),
         para_re=_para(r"((did you )?(like|enjoy|love)d? (this|the) (story|tale|chapter|post)\b.{0,120}|"
                       r"(vote|rate this|leave kudos|give kudos|like this (story|chapter)|upvote|add to favou?rites)\b.{0,100}|"
                       r"kudos\b.{0,60}|[\d,]+\s+(likes?|votes?|kudos|hearts?|reads|views)\b.{0,60}|"
                       r"[♥❤👍★☆⭐]+.{0,60})")),
    # Page and chapter navigation ("Page 2 of 5", "« Previous 1 2 3 Next »").
    Rule("page_numbers", _words("pagination", "pager", "page-numbers", "nav-links", "chapter-nav",
                                "page-nav", "pagenav", "next", "prev", "previous"),
         para_re=_para(r"((page|part|chapter) \d+ (of|/) \d+|(go to |jump to )?page:?)[.:]?(\s*[|·•].{0,60})?")),
    # Archive-style work metadata ("Rating: General", "Words: 1,234", "Tags: ...").
    Rule("metadata", _words("meta", "metadata", "tags", "tag-list", "stats", "work-meta", "story-info",
                            "entry-meta", "post-meta", "taxonomy", "categories", "summary", "notes", "preface",
                            "entry-footer", "postmetadata"),
         para_re=_para(r"(words|word count|chapters|rating|rated|tags|fandoms?|category|categories|status|"
                       r"published|updated|completed|language|genres?|characters|warnings|summary|notes|"
                       r"author'?s? notes?|hits|bookmarks|series|filed under|posted in|reading time|"
                       r"audience|length)\s*:.{0,180}|\d+ min(ute)?s? read")),
    # The story title repeated as the first heading or line of the content.
    Rule("title"),
    # Not a filter but a repair: `<div class="para"><div class="inner"><p>...` chains, one per paragraph, make
    # readability pick a single paragraph; collapsing wrappers that hold one block and nothing else fixes it.
    Rule("unwrap"),
)
RULE_NAMES = tuple(r.name for r in RULES)
DEFAULT_RULES = frozenset(r.name for r in RULES if r.default_on)


def _attr_tokens(el) -> list[str]:
    return ((el.get("class") or "") + " " + (el.get("id") or "")).split()


def _text_len(el) -> int:
    return len("".join(el.itertext()).strip())


def _remove(el) -> None:
    """Drop an element but keep its tail text (the tail belongs to the parent)."""
    parent = el.getparent()
    if parent is None:
        return
    prev = el.getprevious()
    if el.tail and el.tail.strip():
        if prev is not None:
            prev.tail = (prev.tail or "") + " " + el.tail
        else:
            parent.text = (parent.text or "") + " " + el.tail
    parent.remove(el)


def _active(skip: frozenset) -> list[Rule]:
    return [r for r in RULES if r.name not in skip]


def prune_elements(root, rules: list[Rule], tags: bool) -> int:
    """Remove elements matched by the rules' class/id words (and tags when `tags`); returns how many."""
    total = max(_text_len(root), 1)
    attr_rules = [r.attr_re for r in rules if r.attr_re is not None]
    tag_set = {t for r in rules for t in r.tags} if tags else set()
    doomed = []
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in NEVER_REMOVE:
            continue
        if el.tag in tag_set or any(rx.search(tok) for tok in _attr_tokens(el) for rx in attr_rules):
            doomed.append(el)
    removed = 0
    for el in doomed:
        if any(a in doomed for a in el.iterancestors()):
            continue  # goes with its ancestor
        if _text_len(el) > MAX_SHARE * total:
            continue
        _remove(el)
        removed += 1
    return removed


WRAPPERS = frozenset(("div", "span", "section", "font", "center"))
CONTAINERS = frozenset(("div", "p", "section", "article", "blockquote", "ul", "ol", "table", "pre"))


def unwrap_wrappers(root) -> int:
    """Replace each wrapper element that holds exactly one block child and no text of its own by that child."""
    done = 0
    for el in reversed([e for e in root.iter(*WRAPPERS)]):
        parent = el.getparent()
        children = list(el)
        if parent is None or len(children) != 1 or not isinstance(children[0].tag, str):
            continue
        child = children[0]
        if child.tag not in CONTAINERS or (el.text or "").strip() or (child.tail or "").strip():
            continue
        child.tail = el.tail
        parent.replace(el, child)
        done += 1
    return done


def prune_document(doc, skip: frozenset = frozenset()) -> int:
    """Prune chrome and boilerplate elements from a whole page before readability sees it."""
    removed = prune_elements(doc, _active(skip), tags=True)
    if "unwrap" not in skip:
        unwrap_wrappers(doc)  # after pruning: the wrappers' class words have done their job
    return removed


def _cut_sections(root, rules: list[Rule], total: int) -> None:
    """Remove each heading that opens a boilerplate section, with the siblings that follow it."""
    heads = [r.heading_re for r in rules if r.heading_re is not None]
    if not heads:
        return
    for h in [e for e in root.iter(*HEADINGS)]:
        if h.getparent() is None:
            continue
        label = " ".join("".join(h.itertext()).split())
        if not any(rx.fullmatch(label) for rx in heads):
            continue
        following = list(h.itersiblings())
        if sum(_text_len(s) for s in following) > MAX_SHARE * total:
            following = []  # a story after the heading: only the heading goes
        for el in [h, *following]:
            _remove(el)


CHAPTER_HEADING = re.compile(r"(chapter|part|book|episode)\s+(\d+|[ivxlc]+|one|two|three|four|five|six|seven|"
                             r"eight|nine|ten|eleven|twelve)\b.{0,80}", re.IGNORECASE)


def _is_title_heading(h, want: str) -> bool:
    """A heading that repeats the story title or names a chapter ("Chapter 2: The River")."""
    label = " ".join("".join(h.itertext()).split())
    return (bool(want) and _norm(label) == want) or bool(CHAPTER_HEADING.fullmatch(label))


def _norm(s: str) -> str:
    return " ".join(s.lower().split()).strip(" .:!")


def prune_content(content, skip: frozenset = frozenset(), title: str | None = None) -> None:
    """Prune boilerplate inside readability's output: element rules, section headings, title headings."""
    rules = _active(skip)
    prune_elements(content, rules, tags=False)
    tag_set = {t for r in rules if not r.page_only for t in r.tags}
    for el in [e for e in content.iter() if isinstance(e.tag, str) and e.tag in tag_set]:
        if el.getparent() is not None:
            _remove(el)
    _cut_sections(content, rules, max(_text_len(content), 1))
    if "title" not in skip:
        want = _norm(title or "")
        for h in [h for h in content.iter(*HEADINGS) if h.tag == "h1" or _is_title_heading(h, want)]:
            if h.getparent() is not None:
                _remove(h)


NAV_WORDS = frozenset("first prev previous next last page pages chapter chapters part older newer back top "
                      "home index contents « ‹ < ← » › > → | · • ... … ↑ ^".split())
_NAV_TOKEN_RE = re.compile(r"[«‹<←»›>→|·•↑^]|[^\W\d_]+|\d+|\.\.\.|…", re.UNICODE)


def is_nav_line(text: str) -> bool:
    """A paragraph made only of pager words, arrows and page numbers ("« Prev 1 2 3 Next »")."""
    tokens = _NAV_TOKEN_RE.findall(text.lower())
    if not tokens or len(tokens) > 30:
        return False
    nav = [t for t in tokens if t in NAV_WORDS or t.isdigit()]
    return len(nav) == len(tokens) and any(not t.isdigit() or len(tokens) > 1 for t in tokens)


def filter_paragraphs(paras: list[str], skip: frozenset = frozenset(), title: str | None = None) -> list[str]:
    """Drop boilerplate paragraphs (short ones matching a rule's pattern; the title line near the top)."""
    rules = [r for r in _active(skip) if r.para_re is not None]
    want = _norm(title or "")
    out = []
    for i, p in enumerate(paras):
        flat = " ".join(p.split())
        if len(flat) < SHORT and any(r.para_re.fullmatch(flat) for r in rules):
            continue
        if "page_numbers" not in skip and is_nav_line(flat):
            continue
        if "title" not in skip and want and i < 3 and _norm(flat) == want:
            continue
        out.append(p)
    return out


def strip_site_name(title: str) -> str:
    """`Story Name - Site Name` -> `Story Name` (the first part before a common separator)."""
    parts = re.split(r"\s+[-|–—·:»]\s+", title)
    return parts[0].strip() if parts and len(parts[0].strip()) >= 3 else title.strip()
