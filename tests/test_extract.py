"""Read-mode extraction: HTML to text, each post-filter, no-content reasons, multi-page joins, fixture-set F1."""

import json

import pytest

from scraper.extract import no_content, postfilters
from scraper.extract.html_text import element_text, html_to_text, paragraphs, parse_html
from scraper.extract.readable import (EXTRACTOR_NAME, EXTRACTOR_VERSION, Extracted, extract_pages, extract_story,
                                      looks_like_js_shell)
from bench.extract_scoring import load_fixtures, overlap, prf, score_extractor

STORY = [
    "Mira carried the lantern up the hill, where the wind tasted of salt and old rain, and nobody followed her.",
    "At the top she found the gate open, which it never was, and the garden behind it had grown wild and tall.",
    "Roses climbed over the benches and the fountain hummed a tune she almost knew from her grandmother's songs.",
    "She sat down on the warm stone rim and waited for the stars to come out, one by one, over the quiet sea.",
]


def story_page(extra_inside: str = "", extra_outside: str = "", title: str = "The Lantern") -> str:
    body = "".join(f"<p>{p}</p>" for p in STORY)
    return (f"<html><head><title>{title} - Tales</title></head><body><div class='content'><h1>{title}</h1>"
            f"{body}{extra_inside}</div>{extra_outside}</body></html>")


# --- HTML to text -------------------------------------------------------------------------------------------

def test_adjacent_blocks_never_glue():
    assert html_to_text("<div>end</div><div>start</div>") == "end\n\nstart"
    assert html_to_text("<p>one</p><p>two</p><h2>three</h2><blockquote>four</blockquote>") == \
        "one\n\ntwo\n\nthree\n\nfour"
    assert html_to_text("<td>cell</td><td>next</td>").split() == ["cell", "next"]


def test_inline_elements_keep_word_spacing():
    assert html_to_text("<p>a <b>bold</b> <i>move</i>, then<em>more</em></p>") == "a bold move, thenmore"
    assert html_to_text("<p>  lots \n\t of   space  </p>") == "lots of space"


def test_br_is_a_newline_and_two_make_a_paragraph():
    assert html_to_text("<p>line one<br>line two</p>") == "line one\nline two"
    assert html_to_text("first<br><br>second<br/><br />third") == "first\n\nsecond\n\nthird"


def test_lists_entities_and_non_ascii():
    assert html_to_text("<ul><li>apples</li><li>pears</li></ul>") == "apples\n\npears"
    assert html_to_text("<p>Tom &amp; Jerry &lt;3 &eacute;t&eacute; &#8220;hi&#8221;&nbsp;there</p>") == \
        "Tom & Jerry <3 été “hi” there"
    assert html_to_text("<p>Zoë — naïve café… 日本語</p>") == "Zoë — naïve café… 日本語"


def test_invisible_content_is_dropped_and_hr_is_a_scene_break():
    html = ("<p>seen</p><script>var x = 'hidden';</script><style>p{}</style><p style='display:none'>gone</p>"
            "<p hidden>gone too</p><hr><p>after</p>")
    assert html_to_text(html) == "seen\n\n* * *\n\nafter"


def test_pre_keeps_lines_and_junk_input_is_safe():
    assert html_to_text("<pre>a\nb\n\nc</pre>") == "a\nb\n\nc"  # lines kept (spaces collapse)
    assert html_to_text("") == ""
    assert html_to_text("just text") == "just text"
    assert paragraphs("a\n\n\n b \n\nc") == ["a", "b", "c"]


# --- post-filters, each on a snippet ---------------------------------------------------------------------------

def extracted_without_and_with(rule: str, html: str) -> tuple[str, str]:
    """Text with every default rule but `rule`, and with the default rules (which include `rule`)."""
    assert rule in postfilters.DEFAULT_RULES
    off = extract_story(html, rules=postfilters.DEFAULT_RULES - {rule})
    on = extract_story(html)
    assert off.ok and on.ok
    return off.text, on.text


@pytest.mark.parametrize("rule, snippet, junk", [
    ("captions", "<figure><img src='a.jpg'><figcaption>A lantern glowing on a hill at dusk.</figcaption></figure>",
     "glowing"),
    ("captions", "<p>Photo: Lantern collection of the town museum.</p>", "museum"),
    ("related", "<h3>You may also like</h3><p><a href='/a'>The Clockmaker</a></p><p><a href='/b'>Owl Hours</a></p>",
     "also like"),
    ("link_blocks", "<p><a href='/a'>The Clockmaker's Daughter</a></p><p><a href='/app'>GET THE TALES APP</a></p>",
     "Clockmaker"),
    ("link_blocks", "<p><a href='/app'>GET THE TALES APP</a></p>", "TALES"),
    ("related", "<p><strong>Read more:</strong> <a href='/x'>The Robot Who Wanted a Garden</a></p>", "Robot"),
    ("comments", "<h3>Comments</h3><div><p>Pip said: wonderful, I read it twice tonight!</p></div>", "wonderful"),
    ("comments", "<div class='comment-list'><p>Bea: such a cozy story, more please.</p></div>", "cozy"),
    ("author_box", "<div class='author-bio'><p>Rowan writes small stories about big weather.</p></div>",
     "weather"),
    ("author_box", "<p>Posted on March 3, 2023 by Rowan Pell</p>", "Rowan"),
    ("vote_prompts", "<p>Did you like this story? Vote for it in the monthly contest!</p>", "contest"),
    ("vote_prompts", "<p>♥ 128 people loved this story</p>", "loved"),
    ("page_numbers", "<p>Page 2 of 5</p>", "Page"),
    ("page_numbers", "<p>« Prev 1 2 3 Next »</p>", "Prev"),
    ("metadata", "<p>Words: 1,204 · Chapters: 1/3 · Rating: General</p>", "Rating"),
    ("title", "", "Lantern"),
])
def test_each_post_filter_removes_its_boilerplate(rule, snippet, junk):
    off, on = extracted_without_and_with(rule, story_page(extra_inside=snippet))
    assert junk in off, f"{rule}: the snippet should survive without the rule (else the test proves nothing)"
    assert junk not in on
    assert paragraphs(on) == STORY


def test_unwrap_lets_readability_see_every_paragraph():
    nested = "".join(f"<div class='para'><div class='inner'><p>{p}</p></div></div>" for p in STORY)
    html = f"<html><body><div class='content'><h1>Lantern</h1>{nested}</div></body></html>"
    off = extract_story(html, rules=postfilters.DEFAULT_RULES - {"unwrap"})
    on = extract_story(html)
    assert len(paragraphs(off.text)) < len(STORY)  # readability alone keeps a single paragraph
    assert paragraphs(on.text) == STORY


def test_rules_never_remove_the_story_container():
    html = story_page().replace("class='content'", "class='post comments-open share-enabled'")
    assert paragraphs(extract_story(html).text) == STORY


def test_a_story_paragraph_with_a_link_in_it_survives():
    linked = "She read <a href='/owls'>the old book about owls</a> twice before the lamp went out for good."
    text = extract_story(story_page(extra_inside=f"<p>{linked}</p>")).text
    assert "the old book about owls" in text


def test_story_words_that_look_like_boilerplate_survive():
    risky = ["By the river, nothing moved at all.", "Next, she opened the box."]
    html = story_page(extra_inside="".join(f"<p>{p}</p>" for p in risky))
    text = extract_story(html).text
    assert risky[0] in text and risky[1] in text


# --- no real content ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("html, reason", [
    ("<html><body><noscript>Please enable JavaScript to use this site.</noscript><div id='root'></div>"
     "<script src='/app.js'></script></body></html>", "js_shell"),
    ("<html><body><div id='__next'></div><script>window.x=1</script></body></html>", "js_shell"),
    ("<html><body><h1>Log in to continue reading</h1><form><input type='password'></form></body></html>",
     "login_wall"),
    ("<html><body><h1>A Tale</h1><p>It began on a cold night by the sea.</p>"
     "<div class='overlay'>Subscribe to continue reading this story.</div></body></html>", "paywall"),
    ("<html><body><h1>A Tale</h1><p>This story is only available in our app.</p>"
     "<p>Download the app to keep reading.</p></body></html>", "app_wall"),
    ("<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1>"
     "<p>The page you are looking for does not exist.</p></body></html>", "error_page"),
    ("<html><head><title>Oops</title></head><body><h1>500 Internal Server Error</h1></body></html>", "error_page"),
    ("<html><body><h1>Before you continue</h1><p>We use cookies to show you stories and measure how they are "
     "read. Select Accept all cookies to agree or manage your privacy settings.</p></body></html>", "consent_wall"),
    ("<html><body><nav><a href='/'>Home</a></nav><main></main></body></html>", "no_content"),
    ("", "no_content"),
])
def test_no_content_reasons(html, reason):
    result = extract_story(html, "https://example.org/x")
    assert result.reason == reason, (result.reason, result.evidence, result.text)
    assert not result.ok and result.evidence


def test_stories_with_banners_are_not_walls():
    banner = ("<div class='banner'>Open in app for a better experience. We use cookies. "
              "Log in to read more stories like this.</div>")
    result = extract_story(story_page(extra_outside=banner * 1))
    assert result.ok, (result.reason, result.evidence)
    assert not looks_like_js_shell(story_page() + "<script src='a.js'></script><noscript>enable javascript"
                                   "</noscript>")
    assert looks_like_js_shell("<html><body><div id='app'></div><script src='a.js'></script></body></html>")


def test_extracted_api_shape():
    result = extract_story(story_page(), "https://example.org/story")
    assert isinstance(result, Extracted) and result.ok and result.reason is None
    assert result.title == "The Lantern"
    assert "\n\n" in result.text and EXTRACTOR_NAME == "readability+mm" and EXTRACTOR_VERSION


# --- multi-page ---------------------------------------------------------------------------------------------

def chapter_page(n: int, paras: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (f"<html><head><title>The Long Road</title></head><body><div class='story'><h1>The Long Road</h1>"
            f"<p>A serial story told by Ada Finch in five parts.</p>{body}<p>Page {n} of 3</p></div></body></html>")


def test_pages_are_joined_in_order_and_repeated_headers_dropped():
    parts = [[f"Part {n} sentence {k}: the travellers walked on past the hills and rivers of the north."
              for k in range(3)] for n in (1, 2, 3)]
    result = extract_pages([chapter_page(i + 1, p) for i, p in enumerate(parts)], "https://example.org/s")
    assert result.ok
    got = paragraphs(result.text)
    assert got.count("A serial story told by Ada Finch in five parts.") == 1
    assert [p for p in got if p.startswith("Part")] == parts[0] + parts[1] + parts[2]
    assert result.evidence["pages_joined"] == 3


def test_multi_page_first_page_decides_and_bad_later_pages_are_skipped():
    good = chapter_page(1, ["The travellers walked on past the hills and rivers of the north, singing."] * 2)
    shell = "<html><body><div id='root'></div><script src='a.js'></script></body></html>"
    assert extract_pages([shell, good]).reason == "js_shell"
    result = extract_pages([good, shell])
    assert result.ok and result.evidence["pages_skipped"] == [{"page": 2, "reason": "js_shell"}]
    assert extract_pages([]).reason == "no_content"


# --- the fixture set ----------------------------------------------------------------------------------------

FIXTURES = load_fixtures()


def test_fixture_set_is_big_and_varied_enough():
    assert len([f for f in FIXTURES if f.truth is not None]) >= 30
    assert {f.expect for f in FIXTURES if f.expect} >= {"js_shell", "login_wall", "paywall", "app_wall",
                                                        "error_page", "consent_wall", "no_content"}


def test_fixture_set_f1_stays_high():
    # measured 0.991 macro / 0.991 micro (bench/extract.py, v1.1); trafilatura 2.3.1 scores 0.965 on the same set.
    # In-sample: these pages and the rules were written together (held-out figures: test_extract_real_pages.py)
    def story_text(html: str) -> str:
        result = extract_story(html)
        return result.text if result.ok else ""
    score = score_extractor(story_text, FIXTURES)
    assert score.macro[2] >= 0.97 and score.micro[2] >= 0.97, score.per_page
    assert min(score.per_page.values()) >= 0.85, score.per_page


@pytest.mark.parametrize("fixture", [f for f in FIXTURES if f.expect], ids=lambda f: f.name)
def test_fixture_no_story_pages_get_their_reason(fixture):
    assert extract_story(fixture.html).reason == fixture.expect


def test_token_scoring():
    assert overlap("the cat the", "the cat sat") == (2, 3, 3)
    assert prf(0, 0, 5) == (0.0, 0.0, 0.0)
    assert prf(2, 4, 2)[2] == pytest.approx(2 / 3)


# --- failure modes found on the real-pages set: each test fails on extractor 1.0 ------------------------------

NEWS = [
    "The harbour council voted on Tuesday to rebuild the old stone pier, which has been closed since the winter "
    "storms tore away a third of its length and left the fishing boats mooring in the open bay.",
    "Work will start in the spring and take about eighteen months, the council said, with the cost shared between "
    "the town, the regional fund and a grant from the national coastal programme.",
    "Fishermen welcomed the decision but warned that another season without a safe landing would cost them dearly; "
    "several crews have already moved their boats to the next harbour along the coast.",
    "The pier was first built in 1862 and has been repaired many times, most recently after a ship struck its end "
    "in a gale and the lamp at its tip had to be carried ashore in pieces.",
    "Engineers will keep the old stones where they can, numbering each one before it is lifted, so that the pier "
    "looks much as it did when the first steamers called at the town.",
]
BIG_SCRIPT = "<script>window.__STATE__ = " + json.dumps({"items": ["x" * 60] * 150}) + ";</script>"


def news_page(container_class: str, head_extra: str = "", after: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in NEWS)
    return (f"<html><head><title>Pier to be rebuilt - Harbour News</title>{head_extra}</head><body>"
            f"<div class='top'><a href='/'>Harbour News</a></div>"
            f"<div class='{container_class}'><h1>Pier to be rebuilt</h1>{body}</div>{after}</body></html>")


LINK_FOOTER = "<div class='site-links'>" + "".join(
    f"<p><a href='/s/{i}'>Another headline about the town and its people, number {i} of many</a></p>"
    for i in range(40)) + "</div>"


@pytest.mark.parametrize("html", [
    # a chrome class word ("ad") on the story container, and a script bigger than the story: the old share
    # check counted script text, so the container held "less than half" of the page and was pruned
    news_page("article-ad-wrapper", head_extra=BIG_SCRIPT),
    # a chrome class word ("widget"), and a footer of links longer than the story (readability picks the story)
    news_page("main-widget", after=LINK_FOOTER),
], ids=["script-heavy", "link-heavy"])
def test_pruning_never_removes_the_container_readability_chooses(html):
    result = extract_story(html, "https://example.org/pier")
    assert result.ok, (result.reason, result.evidence)
    assert paragraphs(result.text) == NEWS


def test_script_text_does_not_count_as_page_text():
    doc = parse_html("<html><head><script>" + "x" * 5000 + "</script></head><body><p>seen words</p>"
                     "<style>p { color: red }</style></body></html>")
    assert postfilters.visible_lengths(doc)[doc] == len("seenwords")


def test_an_article_about_cookies_is_not_a_consent_wall():
    cookie_news = [p.replace("the old stone pier", "how websites ask visitors to accept cookies") for p in NEWS[:2]]
    banner = ("<div class='cookie-banner'><p>We use cookies to improve your experience. Accept all cookies or "
              "manage your privacy settings.</p></div>")
    html = news_page("article", after=banner).replace("".join(f"<p>{p}</p>" for p in NEWS[:2]),
                                                      "".join(f"<p>{p}</p>" for p in cookie_news))
    result = extract_story(html)
    assert result.ok, (result.reason, result.evidence)
    assert "accept cookies" in result.text


def test_a_short_article_with_subscribe_and_app_prompts_is_not_a_wall():
    prompts = ("<div class='promo'><p>Already a subscriber? Sign in.</p><p>Become a subscriber for unlimited "
               "access.</p><p>Get the app for the latest news.</p></div>")
    html = news_page("article", after=prompts).replace("".join(f"<p>{p}</p>" for p in NEWS[2:]), "")
    result = extract_story(html)  # about 70 story words: short, but the prompts are a small part of the page
    assert result.ok, (result.reason, result.evidence)
    assert paragraphs(result.text)[:2] == NEWS[:2]


def test_a_wall_needs_strong_evidence_even_when_extraction_finds_nothing():
    # extraction failed (no text), the page holds a whole article and a cookie banner: no_content, never a wall
    html = news_page("article", after="<div class='consent'><p>We use cookies. Accept cookies to continue."
                                      "</p></div>")
    doc = parse_html(html)
    verdict = no_content.classify(doc, "", "Pier to be rebuilt", element_text(no_content._body(doc)))
    assert verdict is not None and verdict[0] == "no_content", verdict
    # ... while a page that is only the banner is a consent wall
    wall = parse_html("<html><body><div class='consent'><p>We use cookies. Accept cookies to continue.</p></div>"
                      "</body></html>")
    assert no_content.classify(wall, "", None, element_text(no_content._body(wall)))[0] == "consent_wall"


def test_quotes_readability_drops_inside_the_story_are_kept():
    tweet = ("<div class='embed'><blockquote class='twitter-tweet'><p>The pier was my grandfather's whole world, "
             "so glad it is coming back to the town.</p>&mdash; A Fisher (@afisher) May 2, 2024</blockquote></div>")
    body = "".join(f"<p>{p}</p>" for p in NEWS)
    html = news_page("article").replace(body, body.replace(f"<p>{NEWS[2]}</p>", f"<p>{NEWS[2]}</p>{tweet}"))
    text = extract_story(html).text
    assert "grandfather's whole world" in text and "@afisher" in text
    assert text.index(NEWS[2]) < text.index("grandfather") < text.index(NEWS[3])


@pytest.mark.parametrize("html", ["<html>", "\x00\x01garbage<<>>", "<html><body></body></html>"])
def test_junk_pages_get_a_reason_not_an_exception(html):
    result = extract_story(html)
    assert result.reason == "no_content" and result.text == ""


def test_when_readability_changes_its_pick_after_pruning_the_first_pick_stays():
    from scraper.extract.readable import _main_content, readability_choice
    html = news_page("article", after="<div class='dialog'><p>Your message was sent to the editors of the "
                                      "Harbour News, thank you for writing to us today.</p></div>")
    doc = parse_html(html)
    keep, first = readability_choice(doc)
    assert keep and "stone pier" in element_text(first)
    story = doc.xpath("//div[@class='article']")[0]
    story.getparent().remove(story)  # stands in for a pruned page on which readability scores another box best
    content = _main_content(doc, first, removed=[])
    assert paragraphs(element_text(content))[-len(NEWS):] == NEWS
