"""Everything synthetic and offline: the seeded demo story generator (stories, templates, vocabulary, rendering,
variety statistics) and the local demo story website (demo.site)."""
