"""Pure per-document checks of the filter stage: length, boilerplate walls, not-narrative, language.

Every check returns a `Verdict` (keep, reason, evidence): `reason` is a stable snake_case code (too_short,
too_long, boilerplate, not_narrative, wrong_language) and `evidence` a small JSON-able dict saying which rule fired
and on what value. Checks read their settings from the filter config (`cfg`, a FilterConfig) and nothing else.

The not-narrative rules are line and character statistics in the spirit of the Gopher quality filters (Rae et
al. 2021, as in datatrove's gopher_quality_filter): each rule names one kind of non-story page and one measured
share; the limits are deliberately loose so that prose with dialogue, verse and plays (tinyshakespeare) passes.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

NARRATIVE_SAMPLE_CHARS = 200_000  # statistics are taken over at most this many leading characters
MIN_LINES = 6  # line-share rules only apply to texts with at least this many non-empty lines
MIN_WORDS = 40  # word-share rules only apply to texts with at least this many words

# (rule, statistic, limit, fires when the statistic is above the limit?) - the first rule that fires is reported.
NARRATIVE_RULES = (
    ("link_list", "url_lines", 0.30, True),     # share of lines holding a URL (link lists, "related posts")
    ("table", "table_lines", 0.30, True),       # share of lines with 2+ cell separators (| or tab)
    ("code", "code_lines", 0.25, True),         # share of lines that look like program code
    ("code", "symbol_chars", 0.05, True),       # share of non-space characters in {}[]<>=;|\/_$#@^~`
    ("menu", "stub_lines", 0.60, True),         # share of lines of <= 4 words without closing punctuation
    ("list", "bullet_lines", 0.70, True),       # share of lines starting with a bullet or "1." / "2)"
    ("numbers", "digit_chars", 0.15, True),     # share of non-space characters that are digits
    ("symbols", "word_tokens", 0.70, False),    # share of whitespace-separated tokens holding a letter
    ("no_sentences", "sentence_ends", 0.01, False),  # sentence-ending marks (. ! ? ...) per word
)

URL_RE = re.compile(r"https?://|www\.\w", re.IGNORECASE)
CODE_LINE_RE = re.compile(
    r"[;{}]\s*$"                                   # C-like statement ends and blocks
    r"|\)\s*:\s*$"                                 # python def/if headers
    r"|^\s*(?:def|class|import|from\s+[\w.]+\s+import|return|const|let|var|function|public|private|elif|except"
    r"|#include|#define|package|func|fn)\b"        # keywords that open a line of code (lower-case, as written)
    r"|^\s*[\w.\[\]]+\s*[-+*/]?=\s*\S"             # assignment
    r"|=>|==|!=|&&|\|\||</?\w+[^>]*>")             # operators and markup tags
SYMBOLS = tuple("{}[]<>=;|\\/_$#@^~`")
DIGIT_RE = re.compile(r"\d")
NO_LETTER_TOKEN_RE = re.compile(r"(?<!\S)(?:[^\s\w]|[\d_])+(?!\S)")  # a whitespace-separated token without letters
BULLET_RE = re.compile(r"^\s*(?:[-*\u2022\u00b7\u25aa\u25ba\u2013]\s|\d{1,3}[.)]\s)")
STUB_END = tuple(".!?:;,\"')\u201d\u2019\u2026\u2014-")  # a line ending in these reads as part of prose
SENTENCE_END_RE = re.compile(r"[.!?\u2026]+")
LETTER_RUN_RE = re.compile(r"[^\W\d_]+")


class Verdict(NamedTuple):
    keep: bool
    reason: str | None = None
    evidence: dict[str, Any] = {}


KEEP = Verdict(True)


def check_length(text: str, cfg) -> Verdict:
    """too_short / too_long on the stripped text length in characters."""
    n = len(text.strip())
    if n < cfg.min_chars:
        return Verdict(False, "too_short", {"chars": n, "min_chars": cfg.min_chars})
    if n > cfg.max_chars:
        return Verdict(False, "too_long", {"chars": n, "max_chars": cfg.max_chars})
    return KEEP


def check_boilerplate(text: str, cfg) -> Verdict:
    """boilerplate: a short text (<= boilerplate_max_chars) holding several distinct wall phrases.

    App-download, login, paywall and cookie walls are short and made of these phrases; a story that mentions
    one of them in passing does not reach boilerplate_min_phrases distinct ones.
    """
    if len(text) > cfg.boilerplate_max_chars or not cfg.boilerplate_phrases:
        return KEEP
    folded = " ".join(text.casefold().split())
    hits = sorted({p for p in cfg.boilerplate_phrases if " ".join(p.casefold().split()) in folded})
    if len(hits) >= cfg.boilerplate_min_phrases:
        return Verdict(False, "boilerplate", {"rule": "wall_phrases", "phrases": hits})
    return KEEP


def _is_scene_break(line: str) -> bool:
    return not any(ch.isalnum() for ch in line)


def narrative_stats(text: str) -> dict[str, float]:
    """The shares NARRATIVE_RULES test, over the first NARRATIVE_SAMPLE_CHARS characters (rounded, 4 places)."""
    sample = text[:NARRATIVE_SAMPLE_CHARS]
    lines = [ln.strip() for ln in sample.splitlines() if ln.strip()]
    content = [ln for ln in lines if not _is_scene_break(ln)]
    tokens = sample.split()
    chars = sum(map(len, tokens)) or 1
    n_lines, n_words = len(content) or 1, len(tokens) or 1
    stats = {
        "lines": len(content),
        "words": len(tokens),
        "url_lines": sum(1 for ln in content if URL_RE.search(ln)) / n_lines,
        "code_lines": sum(1 for ln in content if CODE_LINE_RE.search(ln)) / n_lines,
        "symbol_chars": sum(map(sample.count, SYMBOLS)) / chars,
        "table_lines": sum(1 for ln in content if ln.count("|") >= 2 or ln.count("\t") >= 2) / n_lines,
        "stub_lines": sum(1 for ln in content if len(ln.split()) <= 4 and not ln.endswith(STUB_END)) / n_lines,
        "bullet_lines": sum(1 for ln in content if BULLET_RE.match(ln)) / n_lines,
        "digit_chars": len(DIGIT_RE.findall(sample)) / chars,
        "word_tokens": 1 - len(NO_LETTER_TOKEN_RE.findall(sample)) / n_words,
        "sentence_ends": len(SENTENCE_END_RE.findall(sample)) / n_words,
    }
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()}


def check_narrative(text: str, cfg) -> Verdict:
    """not_narrative: menus, link lists, code, tables, bullet lists, number dumps, texts without sentences."""
    if not cfg.narrative_checks:
        return KEEP
    stats = narrative_stats(text)
    for rule, stat, limit, above in NARRATIVE_RULES:
        if stat.endswith("_lines") and stats["lines"] < MIN_LINES:
            continue
        if stat in ("word_tokens", "sentence_ends") and stats["words"] < MIN_WORDS:
            continue
        value = stats[stat]
        if (value > limit) if above else (value < limit):
            return Verdict(False, "not_narrative", {"rule": rule, "stat": stat, "value": value, "limit": limit})
    return KEEP


class LanguageGuesser:
    """py3langid (97 languages, normalised probabilities), loaded on first use; chosen by bench/langid_compare.py."""

    def __init__(self):
        self._ident = None

    def _load(self):
        if self._ident is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
            self._ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return self._ident

    def labels(self) -> list[str]:
        """Language codes the model knows (ISO 639-1 where one exists)."""
        return list(self._load().labels)

    def classify(self, text: str) -> tuple[str, float]:
        """(language code, probability) of the most likely language."""
        lang, prob = self._load().classify(text)
        return lang, float(prob)


def language_sample(text: str, max_chars: int) -> str:
    """The leading `max_chars` characters, cut back to a word boundary (long documents stay fast)."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > max_chars // 2 else cut


def check_language(text: str, cfg, guesser: LanguageGuesser) -> Verdict:
    """wrong_language: confidently detected as a language not in cfg.languages.

    Texts with fewer than lang_min_letters letters in the sample, and detections below lang_min_confidence, are
    kept: too little evidence to reject. An empty cfg.languages turns the check off.
    """
    if not cfg.languages:
        return KEEP
    sample = language_sample(text, cfg.lang_sample_chars)
    if sum(map(len, LETTER_RUN_RE.findall(sample))) < cfg.lang_min_letters:
        return KEEP
    lang, prob = guesser.classify(sample)
    if lang in cfg.languages or prob < cfg.lang_min_confidence:
        return KEEP
    return Verdict(False, "wrong_language", {"language": lang, "confidence": round(prob, 4),
                                             "allowed": list(cfg.languages)})
