"""Web acquisition (issue 3): scraper."""
