"""Web acquisition: search (find story URLs), fetch (download them politely), extract (keep the story text).

`DEFAULT_USER_AGENT` is how every part of the scraper identifies itself; users crawling the real web should
put their own contact (a URL or e-mail) in the `user_agent` setting so site owners can reach them.
"""

DEFAULT_USER_AGENT = "miniature-memory/0.1 (story corpus builder for small language models; +contact: set user_agent)"
