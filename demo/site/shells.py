"""The demo site's pages that are not ordinary story pages: JavaScript-only shells, print copies, the JSON
story API, the style sheet and the generated illustrations.

A JavaScript shell's static HTML holds no story text at all: an empty `<div id="app">`, a `<noscript>` notice
and an inline script that builds the page from the story JSON, either embedded in the page
(`<script type="application/json" id="story-data">`, kind js_inline) or fetched from
`/api/story/<slug>.json` on the same host (kind js_api). The embedded JSON escapes `<`, `>` and `&` as \\uXXXX,
so story text can never close the script element, and the script inserts text with textContent, never HTML.
"""

from __future__ import annotations

import hashlib
import json

from demo.site import texts as W
from demo.site.content import Page
from demo.site.pages import esc, paragraph_html, pretty_date

# Builds header, article and footer from {title, author, published, paragraphs}. Plain ES5, no libraries.
RENDER_JS = """
function renderStory(data) {
  var app = document.getElementById('app');
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  var header = el('header', '', 'site-header');
  var logo = el('a', SITE_NAME, 'logo');
  logo.href = '/';
  header.appendChild(logo);
  app.appendChild(header);
  var article = el('article', '', 'story');
  article.appendChild(el('h1', data.title, 'entry-title'));
  article.appendChild(el('p', 'By ' + data.author + ' \\u00b7 ' + data.published, 'byline'));
  var body = el('div', '', 'entry-content');
  data.paragraphs.forEach(function (text) { body.appendChild(el('p', text)); });
  article.appendChild(body);
  app.appendChild(article);
  app.appendChild(el('footer', FOOTER_NOTE, 'site-footer'));
  document.title = data.title + ' | ' + SITE_NAME;
  document.documentElement.setAttribute('data-rendered', 'true');
}
"""
BOOT_INLINE = "renderStory(JSON.parse(document.getElementById('story-data').textContent));"
BOOT_FETCH = """fetch(%s).then(function (r) { return r.json(); }).then(renderStory).catch(function () {
  document.getElementById('app').textContent = 'Sorry, this story could not be loaded.';
});"""


def script_json(obj: object) -> str:
    """JSON that is safe inside a <script> element (no `<`, `>` or `&` characters)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def story_json(page: Page) -> dict:
    """The story data a JavaScript page renders (also the body of /api/story/<slug>.json)."""
    return {"title": page.title, "author": W.AUTHORS[page.author][0], "published": pretty_date(page.published),
            "paragraphs": list(page.paragraphs)}


def js_shell_page(page: Page) -> str:
    """The static HTML of a JavaScript-only story page (no story text outside the script elements)."""
    consts = f"var SITE_NAME = {script_json(W.SITE_NAME)};\nvar FOOTER_NOTE = {script_json(W.FOOTER_NOTE)};\n"
    if page.kind == "js_inline":
        data = f'<script type="application/json" id="story-data">{script_json(story_json(page))}</script>\n'
        boot = BOOT_INLINE
    else:
        data = ""
        boot = BOOT_FETCH % script_json(f"/api/story/{page.slug}.json")
    return f"""<!DOCTYPE html>
<html lang="{esc(page.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(W.SITE_NAME)}</title>
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<div id="app"></div>
<noscript>{esc(W.NOSCRIPT)}</noscript>
{data}<script>
{consts}{RENDER_JS}
{boot}
</script>
</body>
</html>
"""


def print_page(page: Page) -> str:
    """The printer-friendly copy of a story: no chrome, the same paragraphs (an exact duplicate)."""
    author = W.AUTHORS[page.author][0]
    body = "\n".join(paragraph_html(p) for p in page.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{esc(page.lang)}">
<head>
<meta charset="utf-8">
<title>{esc(page.title)} (printer-friendly) | {esc(W.SITE_NAME)}</title>
<style>body {{ font-family: Georgia, serif; max-width: 40em; margin: 2em auto; }}</style>
</head>
<body class="print">
<article>
<h1>{esc(page.title)}</h1>
<p class="byline">By {esc(author)}, {pretty_date(page.published)}</p>
<div class="print-body">
{body}
</div>
</article>
<p class="print-footer">Printed from {esc(W.SITE_NAME)}.</p>
</body>
</html>
"""


def illustration_svg(slug: str) -> str:
    """A small generated picture (hills and a sun) whose colours depend on the slug."""
    h = hashlib.sha256(slug.encode()).digest()
    sky, hill, sun = (f"#{h[i]:02x}{h[i + 1]:02x}{h[i + 2]:02x}" for i in (0, 3, 6))
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="600" height="300" viewBox="0 0 600 300">
<rect width="600" height="300" fill="{sky}"/><circle cx="470" cy="80" r="40" fill="{sun}"/>
<path d="M0 300 Q150 150 300 240 T600 210 V300 Z" fill="{hill}"/>
</svg>
"""


SITE_CSS = """body { font-family: Georgia, serif; margin: 0; color: #222; background: #fdfbf6; }
.site-header, .site-footer { background: #2d4059; color: #fff; padding: 1em 2em; }
.site-header a, .site-footer a { color: #fff; }
.logo { font-size: 1.6em; font-weight: bold; text-decoration: none; }
.main-nav ul, .tag-list, .cards { list-style: none; padding: 0; }
.main-nav li { display: inline; margin-right: 1em; }
.layout { display: flex; gap: 2em; padding: 1em 2em; }
main { flex: 3; max-width: 42em; }
.sidebar { flex: 1; font-size: 0.9em; }
.cookie-banner { background: #ffe9a8; padding: 0.5em 2em; font-size: 0.85em; }
.byline, .comment-meta, .meta, figcaption, .page-number { color: #666; font-size: 0.9em; }
.scene-break { text-align: center; letter-spacing: 0.5em; }
.share-bar a, .app-button { margin-right: 0.6em; }
.author-box, .app-wall, .vote { background: #eef2f7; padding: 1em; margin: 1em 0; }
.pagination { margin: 1.5em 0; font-weight: bold; }
img { max-width: 100%; height: auto; }
"""
