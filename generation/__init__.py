"""Decoding a trained model: the KV-cached sampler with a sliding window, sampling rules, int8/bf16/fp16
weights, and the story metrics that evaluation reports."""
