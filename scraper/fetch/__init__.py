"""Web acquisition (issue 3): fetch."""
