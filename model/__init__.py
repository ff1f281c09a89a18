"""What training and inference share: the GPT network, the tokenizers, the checkpoint format (safetensors, no
pickle) and the prepared token files."""
