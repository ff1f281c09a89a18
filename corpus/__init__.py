"""The data library behind validate/filter/clean/prepare/stats: near-duplicate signing, text heuristics, the
content policy, text cleaning and site-artifact rules, prepare's file mechanics, the statistics chart."""
