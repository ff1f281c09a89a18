"""Web acquisition: search -- discover story URLs and record them in the URL manifest.

Modules: `base` (provider interface, errors, domain rules, the recorder that writes `metadata/urls.jsonl`),
`apis` (searxng, brave, google JSON APIs), `sitemap`, `crawl`, `net` (safe size-limited HTTP, robots.txt),
`providers` (choosing a provider from the config, the `urls` provider, one whole run). The stage CLI is
scripts/search.py.
"""
