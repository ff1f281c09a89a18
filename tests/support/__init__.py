"""Helpers shared by tests (and the robots benchmark): local fake servers, synthetic texts."""
