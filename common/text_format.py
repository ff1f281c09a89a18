"""The special strings of the project's text format, defined once.

Cleaned text marks a scene break with the line SCENE_BREAK (extract writes it, clean normalises every other
break to it); prepared data separates documents with EOT; the tokenizers reserve ids 0..NUM_SPECIAL-1 for
SPECIAL_TOKENS in this order, so a string's id never changes (EOT is id 0, SCENE_BREAK id 1). The summary tags are
reserved for the rolling story memory, the next four for the chat format (a memory block, then role-tagged turns);
ids 11..15 are placeholders held back for later formats. Tokenizers made before the chat tags existed hold
`<|reserved_N|>` at ids 7..10; they stay valid (LEGACY_PLACEHOLDER) and simply cannot write a chat.
"""

EOT = "<|endoftext|>"
SCENE_BREAK = "* * *"
SUMMARY_OPEN = "<|summary|>"
SUMMARY_CLOSE = "<|/summary|>"
MEMORY_OPEN = "<|memory|>"
MEMORY_CLOSE = "<|/memory|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"

NUM_SPECIAL = 16  # ids reserved for special strings; a tokenizer's ordinary symbols start here
SPECIAL_TOKENS: tuple[str, ...] = (
    EOT, SCENE_BREAK, SUMMARY_OPEN, SUMMARY_CLOSE, "<SCENE>", "<POV>", "<TONE>",
    MEMORY_OPEN, MEMORY_CLOSE, USER, ASSISTANT,
    *(f"<|reserved_{i}|>" for i in range(11, NUM_SPECIAL)),
)
CHAT_TAGS = (MEMORY_OPEN, MEMORY_CLOSE, USER, ASSISTANT)

EOT_ID = SPECIAL_TOKENS.index(EOT)
SCENE_BREAK_ID = SPECIAL_TOKENS.index(SCENE_BREAK)
SUMMARY_OPEN_ID = SPECIAL_TOKENS.index(SUMMARY_OPEN)
SUMMARY_CLOSE_ID = SPECIAL_TOKENS.index(SUMMARY_CLOSE)
MEMORY_OPEN_ID = SPECIAL_TOKENS.index(MEMORY_OPEN)
MEMORY_CLOSE_ID = SPECIAL_TOKENS.index(MEMORY_CLOSE)
USER_ID = SPECIAL_TOKENS.index(USER)
ASSISTANT_ID = SPECIAL_TOKENS.index(ASSISTANT)
# Ids a story never contains: the summary tags (only the pinned prefix holds them), the chat tags and the
# placeholders. Story generation never emits them; chat generation allows the tags it needs.
NOT_IN_STORIES = (SUMMARY_OPEN_ID, SUMMARY_CLOSE_ID, *range(MEMORY_OPEN_ID, NUM_SPECIAL))


def legacy_placeholder(i: int) -> str:
    """The name id i had before it was given a meaning (what older tokenizers and checkpoints hold)."""
    return f"<|reserved_{i}|>"


def is_known_special(i: int, s: str) -> bool:
    """True when s is the special string of id i, today's or the placeholder an older tokenizer holds there."""
    return s == SPECIAL_TOKENS[i] or (i >= MEMORY_OPEN_ID and s == legacy_placeholder(i))
