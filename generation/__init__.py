"""Decoding a trained model: the KV-cached sampler with a sliding window, sampling rules and the sampling settings
that generate and evaluate share, int8/bf16/fp16 weights, validation loss, and the story metrics that evaluation
reports."""
