"""HTML of the demo site's ordinary pages: the site chrome (cookie banner, header, navigation, search box,
sidebar, footer) around story articles (byline, share bar, illustration, pagination, vote prompt, author box,
related stories, comments), the near-duplicate archive copy, the app-download wall, the home page, the story
index, the about page and the 404 page.

Pages are pure functions of (page, plan, seed): every link is root-relative, so the same seed gives the same
bytes whatever port the server listens on. Every piece of text goes through `esc` (html.escape). The JavaScript
shells and the print copies live in demo/site/shells.py.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date
from html import escape

from demo.site import texts as W
from demo.site.content import Page, SitePlan

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
SCENE_BREAK_CHARS = set("*#~-=_ ")


def esc(text: str) -> str:
    """HTML-escape text for element content and quoted attribute values."""
    return escape(text, quote=True)


def page_rng(seed: int, path: str) -> random.Random:
    """The private generator of one page (comments, likes, captions): a sha256 of (seed, path), never hash()."""
    digest = hashlib.sha256(f"demo-site|{seed}|{path}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def pretty_date(iso: str) -> str:
    """`2025-01-06` -> `6 January 2025` (no locale dependence)."""
    d = date.fromisoformat(iso)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def is_scene_break(para: str) -> bool:
    """A paragraph that is only a scene-break marker (`* * *`, `***`, `###`, `~~~`...)."""
    return bool(para) and set(para) <= SCENE_BREAK_CHARS and not para.isspace()


def paragraph_html(para: str) -> str:
    """One story paragraph as <p>; line breaks inside it become <br>; scene breaks get their own class."""
    if is_scene_break(para):
        return f'<p class="scene-break">{esc(para)}</p>'
    return "<p>" + "<br>\n".join(esc(line) for line in para.split("\n")) + "</p>"


def link_list(plan: SitePlan, paths: list[str], css: str) -> str:
    """A <ul> of links to these pages, by title."""
    items = "".join(f'<li><a href="{esc(p)}">{esc(plan.pages[p].title)}</a></li>' for p in paths)
    return f'<ul class="{css}">{items}</ul>'


def chrome(plan: SitePlan, title: str, main: str, head: str = "", lang: str = "en") -> str:
    """A full HTML document: `main` inside the site's header, navigation, sidebar and footer."""
    popular = [p for p in plan.public if plan.pages[p].story is not None][:5]
    tags = "".join(f'<li><span class="tag">{esc(t)}</span></li>' for t in W.TAGS)
    return f"""<!DOCTYPE html>
<html lang="{esc(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} | {esc(W.SITE_NAME)}</title>
<link rel="stylesheet" href="/static/site.css">
{head}</head>
<body>
<div class="cookie-banner" role="dialog"><p>{esc(W.COOKIE_BANNER)}</p>
<button type="button">Accept all cookies</button> <button type="button">Cookie settings</button></div>
<header class="site-header">
<a class="logo" href="/">{esc(W.SITE_NAME)}</a>
<p class="tagline">{esc(W.TAGLINE)}</p>
<nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/stories/">Stories</a></li>\
<li><a href="/about/">About</a></li><li><a href="/about/#authors">Authors</a></li></ul></nav>
<form class="search-form" action="/searx/search" method="get"><input type="search" name="q" \
placeholder="Search stories"> <button type="submit">Search</button></form>
</header>
<div class="layout">
<main id="content">
{main}
</main>
<aside class="sidebar">
<section class="widget popular"><h3>Popular this week</h3>{link_list(plan, popular, "popular-list")}</section>
<section class="widget tags"><h3>Tags</h3><ul class="tag-list">{tags}</ul></section>
<section class="widget newsletter"><h3>Newsletter</h3><p>{esc(W.NEWSLETTER)}</p>
<form><input type="email" placeholder="you@example.com"> <button type="button">Sign up</button></form></section>
</aside>
</div>
<footer class="site-footer">
<nav><a href="/about/">About us</a> · <a href="/about/#privacy">Privacy policy</a> · \
<a href="/about/#terms">Terms of use</a> · <a href="/about/#contact">Contact</a> · \
<a href="/sitemap.xml">Sitemap</a></nav>
<p>{esc(W.FOOTER_NOTE)}</p>
</footer>
</body>
</html>
"""


def byline(page: Page) -> str:
    """`By <author> · <date> · N min read`."""
    words = sum(len(p.split()) for p in page.paragraphs) * page.page_count
    minutes = max(1, round(words / 200))
    return (f'<p class="byline">By <a href="/about/#authors" rel="author">{esc(W.AUTHORS[page.author][0])}</a> · '
            f'<time datetime="{page.published}">{pretty_date(page.published)}</time> · {minutes} min read</p>')


def share_bar(plan: SitePlan, page: Page) -> str:
    """Share buttons (and a print link when the story has a print copy)."""
    first = page.page_path(1)
    extra = f' <a class="print" href="{esc(plan.print_of[first])}">Print</a>' if first in plan.print_of else ""
    return ('<div class="share-bar"><span>Share this story:</span> <a class="share" href="#share-facebook">Facebook'
            '</a> <a class="share" href="#share-twitter">Twitter</a> <a class="share" href="#share-pinterest">'
            f'Pinterest</a> <a class="share" href="#share-email">Email</a>{extra}</div>')


def pagination(page: Page) -> str:
    """Visible previous/next links of a multi-page story ('' for a one-page story)."""
    if page.page_count < 2:
        return ""
    parts = []
    if page.page_no > 1:
        parts.append(f'<a rel="prev" href="{esc(page.page_path(page.page_no - 1))}">« Previous page</a>')
    parts.append(f'<span class="page-number">Page {page.page_no} of {page.page_count}</span>')
    if page.page_no < page.page_count:
        parts.append(f'<a rel="next" class="next" href="{esc(page.page_path(page.page_no + 1))}">Next page »</a>')
    return '<nav class="pagination">' + " ".join(parts) + "</nav>"


def related(plan: SitePlan, page: Page) -> list[str]:
    """Four other stories, the ones after this page in the public list (wrapping round)."""
    stories = [p for p in plan.public if plan.pages[p].story is not None]
    first = page.page_path(1)
    start = stories.index(first) + 1 if first in stories else 0
    return [p for p in (stories[(start + k) % len(stories)] for k in range(5)) if p != first][:4]


def comments(rng: random.Random) -> str:
    """A comment section with 2-4 comments and a comment form."""
    k = rng.randint(2, 4)
    items = []
    for _ in range(k):
        who, what = rng.choice(W.COMMENTERS), rng.choice(W.COMMENTS)
        when = f"{rng.randint(1, 28)} {MONTHS[rng.randrange(12)]} 2025"
        items.append(f'<li class="comment"><p class="comment-meta"><strong>{esc(who)}</strong> · {when}</p>'
                     f'<p class="comment-body">{esc(what)}</p><a class="reply" href="#comments">Reply</a></li>')
    return (f'<section class="comments" id="comments"><h2>{k} comments</h2><ol class="comment-list">'
            + "".join(items) + '</ol><form class="comment-form"><textarea placeholder="Leave a comment">'
            '</textarea> <button type="button">Post comment</button></form>'
            '<p class="login-note">Log in to leave a comment.</p></section>')


def story_article(plan: SitePlan, page: Page, rng: random.Random, body: str, note: str = "") -> str:
    """The main column of a story page around `body` (the already rendered story part)."""
    author, bio = W.AUTHORS[page.author]
    figure = ""
    if page.page_no == 1 and page.story is not None:
        figure = (f'<figure class="illustration"><img src="/static/illustrations/{esc(page.slug)}.svg" alt="" '
                  f'width="600" height="300"><figcaption>{esc(rng.choice(W.ILLUSTRATION_CAPTIONS))}'
                  '</figcaption></figure>')
    tags = " ".join(f'<span class="tag">{esc(t)}</span>' for t in rng.sample(W.TAGS, 3))
    return f"""<nav class="breadcrumbs"><a href="/">Home</a> › <a href="/stories/">Stories</a> › \
<span>{esc(page.title)}</span></nav>
{note}<article class="story" lang="{esc(page.lang)}">
<header class="entry-header"><h1 class="entry-title">{esc(page.title)}</h1>
{byline(page)}</header>
{share_bar(plan, page)}
{figure}
{body}
{pagination(page)}
<div class="entry-tags">Tags: {tags}</div>
<div class="vote"><p>Did you enjoy this story?</p><button type="button">👍 Like ({rng.randint(3, 250)})</button> \
<button type="button">Save to reading list</button></div>
<section class="author-box"><h2>About the author</h2><p><strong>{esc(author)}</strong> {esc(bio)}</p></section>
</article>
<section class="related"><h2>You might also like</h2>{link_list(plan, related(plan, page), "related-list")}</section>
{comments(rng)}"""


def story_head(page: Page) -> str:
    """<head> links of a story page: canonical and, for a multi-page story, prev/next."""
    head = f'<link rel="canonical" href="{esc(page.path)}">\n' if page.kind == "story" else ""
    if page.page_no > 1:
        head += f'<link rel="prev" href="{esc(page.page_path(page.page_no - 1))}">\n'
    if page.page_no < page.page_count:
        head += f'<link rel="next" href="{esc(page.page_path(page.page_no + 1))}">\n'
    head += f'<meta property="og:title" content="{esc(page.title)}">\n'
    return head


def story_page(plan: SitePlan, page: Page, seed: int) -> str:
    """An ordinary story page (kind story or near_dup); a later page of a multi-page story says so in its title."""
    rng = page_rng(seed, page.path)
    body = '<div class="entry-content">\n' + "\n".join(paragraph_html(p) for p in page.paragraphs) + "\n</div>"
    note = ""
    if page.kind == "near_dup":
        note = '<p class="archive-note">From our archive: this story first appeared on our old website.</p>\n'
    title = page.title if page.page_no == 1 else f"{page.title} (page {page.page_no})"
    return chrome(plan, title, story_article(plan, page, rng, body, note), story_head(page), page.lang)


def app_wall_page(plan: SitePlan, page: Page, seed: int) -> str:
    """A story's first paragraph, then the app-download wall instead of the rest."""
    rng = page_rng(seed, page.path)
    buttons = " ".join(f'<a class="app-button" href="#app">{esc(b)}</a>' for b in W.WALL_BUTTONS)
    lines = "".join(f"<p>{esc(line)}</p>" for line in W.WALL_LINES)
    body = ('<div class="entry-content teaser">\n' + "\n".join(paragraph_html(p) for p in page.paragraphs)
            + f'\n</div>\n<div class="app-wall"><h2>{esc(W.WALL_HEADING)}</h2>{lines}<p>{buttons}</p></div>')
    return chrome(plan, page.title, story_article(plan, page, rng, body), story_head(page))


def home_page(plan: SitePlan) -> str:
    """The home page: the ten latest stories as cards with an excerpt."""
    cards = []
    for path in plan.public[:10]:
        p = plan.pages[path]
        excerpt = p.paragraphs[0] if p.paragraphs else ""
        excerpt = excerpt if len(excerpt) <= 160 else excerpt[:160].rsplit(" ", 1)[0] + "…"
        cards.append(f'<li class="card"><h2><a href="{esc(path)}">{esc(p.title)}</a></h2>'
                     f'<p class="excerpt">{esc(excerpt)}</p><a class="more" href="{esc(path)}">Read more</a></li>')
    main = (f"<h1>Welcome to {esc(W.SITE_NAME)}</h1><p>{esc(W.TAGLINE)}.</p>"
            '<h2>Latest stories</h2><ul class="cards">' + "".join(cards) + "</ul>"
            '<p><a href="/stories/">See all stories</a></p>')
    return chrome(plan, "Home", main)


def index_page(plan: SitePlan) -> str:
    """The story index: every public story page with its author and date."""
    rows = "".join(f'<li><a href="{esc(p)}">{esc(plan.pages[p].title)}</a> '
                   f'<span class="meta">by {esc(W.AUTHORS[plan.pages[p].author][0])}, '
                   f'{pretty_date(plan.pages[p].published)}</span></li>' for p in plan.public)
    return chrome(plan, "All stories", f'<h1>All stories</h1><ul class="story-index">{rows}</ul>')


def about_page(plan: SitePlan) -> str:
    """About the site, its authors, privacy, terms and contact."""
    authors = "".join(f"<li><strong>{esc(name)}</strong>: {esc(bio)}</li>" for name, bio in W.AUTHORS)
    main = (f"<h1>About {esc(W.SITE_NAME)}</h1>" + "".join(f"<p>{esc(t)}</p>" for t in W.ABOUT_TEXT)
            + f'<h2 id="authors">Our authors</h2><ul>{authors}</ul>'
            '<h2 id="privacy">Privacy policy</h2><p>We keep no personal data beyond what you type into forms.</p>'
            '<h2 id="terms">Terms of use</h2><p>Stories may be read aloud anywhere, for free.</p>'
            '<h2 id="contact">Contact</h2><p>Write to the editors through the form on this page.</p>')
    return chrome(plan, "About", main)


def not_found_page(plan: SitePlan) -> str:
    """The 404 page."""
    return chrome(plan, "Page not found", '<h1>Page not found</h1><p>Sorry, there is no page at this address. '
                                          'Try the <a href="/stories/">story index</a>.</p>')
