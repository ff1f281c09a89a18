"""Web acquisition (issue 3): extract."""
