"""Model, tokenizer and training loop (imports only `common`, never the scraper)."""
