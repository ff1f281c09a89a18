"""One sampling config for generate and evaluate: the same flags, YAML keys, help and checks, each command's own
defaults kept, and the resolved settings (--dry-run) exactly as they were before the two configs were merged."""

import dataclasses
import json

import pytest

from common.cli import build_parser
from common.config import UserError, build_config, resolve_config
from generation.sampling_config import SampleConfig, SamplingConfig
from scripts import evaluate, generate

SHARED = [f.name for f in dataclasses.fields(SamplingConfig)]
COMMANDS = {"generate": generate, "evaluate": evaluate}
CONFIGS = {"generate": generate.GenerateConfig, "evaluate": evaluate.EvaluateConfig}

# --dry-run of each command with no flags, as printed before the merge (every key, value and default), plus the
# memory keys added since by the rolling-summary work (issue 12), and generate's automatic threads (0), batch
# of samples decoded together and KV cache setting (issue 14)
DRY_RUN = {
    "generate": {"checkpoint": "", "device": "cpu", "dtype": "fp32", "max_new_tokens": 500, "num_samples": 1,
                 "memory": "auto", "memory_log": "", "batch": 8, "kv_cache": "auto",
                 "out_file": "", "pinned": 0, "prompt": "", "prompt_file": "", "repetition_penalty": 1.1,
                 "repetition_window": 256, "seed": 1337, "stats_json": "", "stop_at_eot": True, "stream": False,
                 "temperature": 0.8, "threads": 0, "top_k": 0, "top_p": 0.95},
    "evaluate": {"batch_size": 8, "checkpoint": "", "device": "cpu", "dtype": "fp32", "max_eval_tokens": 100000,
                 "max_new_tokens": 300, "num_samples": 8, "memory": "auto", "memory_probes": "",
                 "repetition_penalty": 1.1, "repetition_window": 256,
                 "report_dir": "", "seed": 1337, "temperature": 0.8, "top_k": 0, "top_p": 0.95},
}


def dry_run(name: str, capsys, *flags) -> dict:
    capsys.readouterr()
    assert COMMANDS[name].main(["--dry-run", *flags]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{name}.py: dry run") and len(out) == 2
    return json.loads(out[1])


@pytest.mark.parametrize("name", COMMANDS)
def test_dry_run_prints_the_same_settings_as_before(name, capsys):
    assert dry_run(name, capsys) == DRY_RUN[name]


def test_both_commands_take_every_sampling_flag_in_both_spellings(capsys):
    flags = ["--top-k", "7", "--top_p", "0.5", "--repetition-penalty", "1.3", "--repetition_window", "9",
             "--temperature", "0", "--seed", "5", "--max-new-tokens", "40", "--dtype", "int8", "--device", "cuda:1",
             "--checkpoint", "runA"]
    want = {"top_k": 7, "top_p": 0.5, "repetition_penalty": 1.3, "repetition_window": 9, "temperature": 0.0,
            "seed": 5, "max_new_tokens": 40, "dtype": "int8", "device": "cuda:1", "checkpoint": "runA"}
    for name in COMMANDS:
        got = dry_run(name, capsys, *flags)
        assert {k: got[k] for k in want} == want, name
        assert got == {**DRY_RUN[name], **want}, name  # nothing else moved


def test_help_describes_each_sampling_flag_once_for_both_commands():
    helps = {}
    for name, cls in CONFIGS.items():
        parser = build_parser(f"{name}.py", None, cls)
        helps[name] = {a.dest[len("cfg__"):]: a.help for a in parser._actions if a.dest.startswith("cfg__")}
    for key in SHARED:
        if key == "max_new_tokens":
            continue  # evaluate redeclares it with its own default (shorter stories) and wording
        assert helps["generate"][key] == helps["evaluate"][key], key
    assert "(default: 500)" in helps["generate"]["max_new_tokens"]
    assert "(default: 300)" in helps["evaluate"]["max_new_tokens"]


def test_a_profile_sets_each_command_its_own_sampling_values(tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text("generate:\n  top_k: 5\n  seed: 2\nevaluate:\n  top_k: 6\n", encoding="utf-8")
    gen = resolve_config(generate.GenerateConfig, "generate", str(profile), {"temperature": "0.5"})
    ev = resolve_config(evaluate.EvaluateConfig, "evaluate", str(profile), {})
    assert (gen.top_k, gen.seed, gen.temperature, gen.max_new_tokens) == (5, 2, 0.5, 500)
    assert (ev.top_k, ev.seed, ev.temperature, ev.max_new_tokens) == (6, 1337, 0.8, 300)
    with pytest.raises(UserError, match="unknown key 'top_kk'"):
        build_config(evaluate.EvaluateConfig, {"top_kk": 1})


def test_sample_config_builds_the_decoder_settings():
    cfg = build_config(generate.GenerateConfig, {"temperature": 0.7, "top_k": 40, "top_p": 0.9,
                                                 "repetition_penalty": 1.2, "repetition_window": 64})
    assert cfg.sample_config(stop_at_eot=False) == SampleConfig(0.7, 40, 0.9, 1.2, 64, False)
    assert build_config(evaluate.EvaluateConfig).sample_config() == SampleConfig(0.8, 0, 0.95, 1.1, 256, True)


@pytest.mark.parametrize("values,msg", [
    ({"temperature": -0.1}, "temperature"),
    ({"top_p": 0.0}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"repetition_penalty": 0.0}, "repetition_penalty"),
    ({"top_k": -1}, "top_k"),
    ({"repetition_window": -1}, "repetition_window"),
    ({"dtype": "int4"}, "dtype must be one of fp32, bf16, fp16, int8"),
])
def test_out_of_range_sampling_settings_are_user_errors(values, msg):
    for cls in CONFIGS.values():
        with pytest.raises(UserError, match=msg):
            build_config(cls, values).sample_config()
