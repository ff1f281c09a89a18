"""One trainer: config, loop, checkpointing, DDP, runtime helpers; presets in configs/ (imports model and common)."""
