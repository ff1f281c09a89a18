"""Web acquisition: extract."""
