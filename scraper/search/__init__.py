"""Web acquisition (issue 3): search."""
