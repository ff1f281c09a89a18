"""Web acquisition: fetch — URLs from the manifest in, gzipped HTML snapshots and manifest events out.

Modules, from the bottom up:
- errors: FetchRejected (reason code) / FetchFailed (retried on later runs) / StoryPaused; which are temporary.
- safety: plain http(s) URLs only (parsers must agree on the host); no private, loopback or link-local
  addresses, checked after DNS and on every hop.
- transport: the guarded requests session (every request checked, connected to the checked address) and the
  total-time Deadline.
- politeness: HostGate, one request at a time per host with a minimum delay between requests.
- robots: RFC 9309 robots.txt rules per origin (4xx allow all, 5xx/unreachable disallow all), Crawl-delay.
- charset: bytes -> text (BOM, header, <meta>, UTF-8, windows-1252), never crashing on a lying server.
- http: HttpClient.get_html, the polite, bounded GET with manual checked redirects and retries.
- browser: BrowserRenderer, a reused headless Chromium (Playwright) in its own thread.
- pages: find_next_link for multi-page stories (only links that look like the same story's next page).
- progress: StoryProgress, the pages of a story kept so far and where a later run goes on.
- story: StoryFetcher, one story by fetch_mode (static, browser, auto), every page a snapshot; a broken later
  page keeps the pages before it (incomplete story, or a resume point for a temporary error).
- runner: FetchRun, the manifest-driven run over many hosts with `concurrency` workers.
The stage script is scripts/fetch.py; snapshot paths and encoding live in scraper/snapshots.py.
"""
