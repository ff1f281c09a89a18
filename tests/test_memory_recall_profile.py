"""profiles/memory-recall.yaml end to end on a few stories: its own settings (BPE tokens, 72-token summaries for a
block of 128, recall weights), only fewer stories and steps, through run.py."""

import json

import yaml

from common.paths import REPO_ROOT
from model.checkpoint import read_state
from run import run_pipeline

PROFILE = REPO_ROOT / "profiles" / "memory-recall.yaml"


def test_the_memory_recall_profile_runs_with_its_own_settings(tmp_path):
    profile = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    assert profile["memory"]["budget"] == 72 and profile["train"]["memory_recall_weight"] == 5
    out = tmp_path / "out"  # not training/out/memory-recall in the repository
    profile["import"]["demo_stories"] = 40
    profile["train"].update(max_iters=4, copy_warmup_iters=2, eval_interval=2, eval_iters=1, out_dir=str(out))
    small = tmp_path / "memory-recall.yaml"
    small.write_text(yaml.safe_dump(profile), encoding="utf-8")
    assert run_pipeline(["--config", str(small), "--dataset-dir", str(tmp_path / "ds")]) == 0
    meta = json.loads((tmp_path / "ds" / "processed" / "meta.json").read_text(encoding="utf-8"))
    assert meta["tokenizer"]["type"] == "bpe"
    memory = json.loads((tmp_path / "ds" / "processed" / "memory" / "memory.json").read_text(encoding="utf-8"))
    assert memory["block_size"] == 128 and memory["budget"] == 72
    state = read_state(out / "last.safetensors")
    assert state["step"] == 4
    assert state["config"]["memory_recall_weight"] == 5 and state["config"]["memory_ratio"] == 0.5
    assert state["model_config"]["block_size"] == 128 and state["model_config"]["vocab_size"] == meta["vocab_size"]
