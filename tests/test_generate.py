"""The generate stage: flags (kebab-case and nanoGPT's snake_case), byte-identical output for a seed, streaming,
--stats-json, one-line errors with exit code 2."""

import json
import subprocess
import sys

import pytest

from common.config import UserError, build_config
from common.paths import REPO_ROOT, DatasetPaths
from scripts import generate
from scripts.generate import GenerateConfig
from tests.test_inference import make_checkpoint

PY = sys.executable
SCRIPT = str(REPO_ROOT / "scripts" / "generate.py")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("gen") / "run" / "last.safetensors")


def cli(*args, env_out=None, **kw):
    env = None
    if env_out is not None:
        import os
        env = {**os.environ, "MINIATURE_MEMORY_OUT": str(env_out)}
    return subprocess.run([PY, SCRIPT, *args], capture_output=True, text=True, env=env, **kw)


def run_cfg(tmp_path, capsys, **values) -> tuple[str, dict]:
    counts = generate.run(build_config(GenerateConfig, values), DatasetPaths.at(tmp_path / "ds"))
    return capsys.readouterr().out, counts


def test_cli_snake_case_flags_stats_json_and_stdout_is_only_the_story(ckpt, tmp_path):
    stats = tmp_path / "stats.json"
    out = tmp_path / "story.txt"
    p = cli("--checkpoint", str(ckpt), "--max_new_tokens", "120", "--prompt", "the cat", "--no-stop-at-eot",
            "--temperature", "0.9", "--top-k", "20", "--top_p", "0.9", "--stats-json", str(stats),
            "--out_file", str(out), "--threads", "1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("the cat") and "tokens/s" not in p.stdout
    assert p.stdout == out.read_text(encoding="utf-8")
    assert "tokens/s" in p.stderr and "peak RSS" in p.stderr
    s = json.loads(stats.read_text())
    assert s["tokens"] == 120 and s["tokens_per_s"] > 0 and s["peak_rss_mb"] > 100
    assert set(s["per_token_ms"]) == {"100"} and s["per_token_ms"]["100"] > 0
    assert s["threads"] == 1 and s["dtype"] == "fp32"


def test_missing_checkpoint_is_a_one_line_error_with_exit_2(tmp_path):
    p = cli("--max-new-tokens", "5", env_out=tmp_path / "empty")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "no checkpoint under" in p.stderr and "train" in p.stderr
    p = cli("--checkpoint", str(tmp_path / "nope.safetensors"))
    assert p.returncode == 2 and "not found" in p.stderr and "Traceback" not in p.stderr


def test_same_seed_same_bytes_and_stream_prints_the_same_text(ckpt, tmp_path, capsys):
    common = dict(checkpoint=str(ckpt), max_new_tokens=150, stop_at_eot=False, prompt="a dog", seed=7)
    first, counts = run_cfg(tmp_path, capsys, **common)
    again, _ = run_cfg(tmp_path, capsys, **common)
    streamed, _ = run_cfg(tmp_path, capsys, **common, stream=True)
    other, _ = run_cfg(tmp_path, capsys, **{**common, "seed": 8})
    assert first == again == streamed and first != other
    assert counts["tokens"] == 150 and counts["samples"] == 1


def test_num_samples_and_dtypes(ckpt, tmp_path, capsys):
    out, counts = run_cfg(tmp_path, capsys, checkpoint=str(ckpt), max_new_tokens=40, stop_at_eot=False,
                          num_samples=3, dtype="int8")
    assert out.count(generate.SEPARATOR) == 2 and counts["tokens"] == 120


@pytest.mark.parametrize("values,msg", [
    ({"prompt": "x", "prompt_file": "p.txt"}, "not both"),
    ({"prompt_file": "/nonexistent/p.txt"}, "not found"),
    ({"top_p": 0.0}, "top_p"),
    ({"temperature": -1.0}, "temperature"),
    ({"dtype": "int4"}, "dtype"),
])
def test_bad_settings_are_user_errors(ckpt, tmp_path, values, msg):
    with pytest.raises(UserError, match=msg):
        generate.run(build_config(GenerateConfig, {"checkpoint": str(ckpt), **values}), DatasetPaths.at(tmp_path))


def test_prompt_file_and_unknown_prompt_characters(ckpt, tmp_path, capsys):
    f = tmp_path / "p.txt"
    f.write_text("the sea", encoding="utf-8")
    out, _ = run_cfg(tmp_path, capsys, checkpoint=str(ckpt), prompt_file=str(f), max_new_tokens=5,
                     stop_at_eot=False)
    assert out.startswith("the sea")
    out, counts = run_cfg(tmp_path, capsys, checkpoint=str(ckpt), prompt="the \u263a cat", max_new_tokens=5,
                          stop_at_eot=False)  # characters the model never saw are dropped from the prompt ids
    assert counts["tokens"] == 5


def test_samples_decoded_together_print_the_same_text_as_one_at_a_time(ckpt, tmp_path):
    common = ("--checkpoint", str(ckpt), "--max-new-tokens", "80", "--prompt", "the", "--num-samples", "3",
              "--threads", "1", "--kv-cache", "fp32")  # auto may round the cache to bf16 for rows together
    stats = tmp_path / "stats.json"
    together = cli(*common, "--stats-json", str(stats))
    alone = cli(*common, "--batch", "1")
    assert together.returncode == 0 and alone.returncode == 0, together.stderr + alone.stderr
    assert together.stdout == alone.stdout and together.stdout.count("the") >= 3
    s = json.loads(stats.read_text())
    assert s["decoded_together"] == 3 and s["samples"] == 3 and "3 samples at a time" in together.stderr
    streamed = cli(*common, "--stream")  # live text: one sample at a time, same samples
    assert streamed.returncode == 0 and streamed.stdout == together.stdout


def test_automatic_threads_are_reported_and_bad_counts_are_one_line_errors(ckpt, tmp_path):
    stats = tmp_path / "stats.json"
    p = cli("--checkpoint", str(ckpt), "--max-new-tokens", "10", "--stats-json", str(stats))
    assert p.returncode == 0, p.stderr
    s = json.loads(stats.read_text())
    assert s["threads"] >= 1 and s["products"] in ("numpy", "torch") and f"products in {s['products']}" in p.stderr
    assert s["kv_cache"] in ("fp32", "bf16") and f"KV cache {s['kv_cache']}" in p.stderr
    p = cli("--checkpoint", str(ckpt), "--max-new-tokens", "10", "--stats-json", str(stats), "--kv-cache", "bf16")
    assert p.returncode == 0 and json.loads(stats.read_text())["kv_cache"] == "bf16", p.stderr
    for flag, value in (("--threads", "-1"), ("--batch", "0"), ("--kv-cache", "f16")):
        p = cli("--checkpoint", str(ckpt), flag, value)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
