"""The special strings of the project's text format, defined once.

Cleaned text marks a scene break with the line SCENE_BREAK (extract writes it, clean normalises every other
break to it); prepared data separates documents with EOT; the tokenizers reserve ids 0..NUM_SPECIAL-1 for
SPECIAL_TOKENS in this order, so a string's id never changes (EOT is id 0, SCENE_BREAK id 1). The summary tags are
reserved for the rolling story memory; the rest are held back for later formats (chat roles).
"""

EOT = "<|endoftext|>"
SCENE_BREAK = "* * *"
SUMMARY_OPEN = "<|summary|>"
SUMMARY_CLOSE = "<|/summary|>"

NUM_SPECIAL = 16  # ids reserved for special strings; a tokenizer's ordinary symbols start here
SPECIAL_TOKENS: tuple[str, ...] = (
    EOT, SCENE_BREAK, SUMMARY_OPEN, SUMMARY_CLOSE, "<SCENE>", "<POV>", "<TONE>",
    *(f"<|reserved_{i}|>" for i in range(7, NUM_SPECIAL)),
)
EOT_ID = SPECIAL_TOKENS.index(EOT)
SCENE_BREAK_ID = SPECIAL_TOKENS.index(SCENE_BREAK)
SUMMARY_OPEN_ID = SPECIAL_TOKENS.index(SUMMARY_OPEN)
SUMMARY_CLOSE_ID = SPECIAL_TOKENS.index(SUMMARY_CLOSE)
