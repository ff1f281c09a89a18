"""Rolling story memory: the extractive summarizer, the summary format, and the rolling schedule that training,
generation and the continuity benchmark share (so all three see the same summaries at the same points)."""
