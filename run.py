"""Run the pipeline: the stages of a profile, in order, each one line of time and counts.

With no arguments it runs the built-in offline demo profile (`profiles/demo.yaml`): write the demo corpus into
dataset/raw/demo/, then validate, filter, clean and prepare it, and print dataset statistics. Every stage is
incremental, so running it again does no work unless something changed; a stage that fails stops the run with
a one-line message and a non-zero exit code.

**Reads/Writes:** whatever the stages read and write under the dataset folder (see README.md).
**Usage:**
    python run.py                                   # the offline demo, end to end
    python run.py --config profiles/import-demo.yaml --from clean
    python run.py --only validate --only filter     # just these stages
    python run.py --skip-import --dataset-dir /data/stories
    python run.py --dry-run                         # print the plan and each stage's resolved config
"""

import sys
from pathlib import Path

import argparse
import dataclasses
import importlib
import time
import typing
from contextlib import contextmanager
from typing import Iterator

from common.cli import dataset_lock, dataset_paths, format_counts, os_error_line, setup_logging
from common.config import (READ_ONLY_STAGES, STAGES, StageFailed, UserError, build_config, config_dict, load_yaml,
                           shown, stage_section)
from common.fsio import dumps_json, read_json, write_json
from common.paths import REPO_ROOT, DatasetPaths

DEFAULT_PROFILE = REPO_ROOT / "profiles" / "demo.yaml"
# Module of each stage; None marks stages that later work adds (they slot into the same order).
STAGE_MODULES = {
    "import": "scripts.import_text",
    "search": "scripts.search",
    "fetch": "scripts.fetch",
    "extract": "scripts.extract",
    "validate": "scripts.validate_raw",
    "filter": "scripts.filter_dataset",
    "clean": "scripts.clean_dataset",
    "prepare": "scripts.prepare_data",
    "memory": "scripts.prepare_memory",
    "train": "training.train",
    "generate": "scripts.generate",
    "evaluate": "scripts.evaluate",
}
# Stages that read the trained model: with no `checkpoint` of their own they use the profile's train output.
MODEL_READERS = ("generate", "evaluate")
TOKENIZER = "tokenizer"  # not a stage of its own: run before prepare for BPE profiles (with_tokenizer_step)
DATA_STAGES_END = "prepare"  # dataset statistics are printed after this stage, before the model stages
# Older spellings accepted as --skip-<alias>.
SKIP_ALIASES = {"validation": "validate", "filtering": "filter", "cleaning": "clean",
                "preparation": "prepare", "training": "train", "generation": "generate",
                "evaluation": "evaluate", "importing": "import", "scraping": "fetch"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line flags of run.py."""
    p = argparse.ArgumentParser(prog="run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="PROFILE.yaml", default=None,
                   help="pipeline profile: a section per stage (default: profiles/demo.yaml)")
    p.add_argument("--dataset-dir", metavar="DIR", default=None,
                   help="dataset folder (default: dataset/ in the repository)")
    p.add_argument("--only", action="append", metavar="STAGE", choices=STAGES, default=[],
                   help="run only this stage (repeatable)")
    p.add_argument("--from", dest="from_stage", metavar="STAGE", choices=STAGES,
                   help="start at this stage, skipping the ones before it")
    for stage in STAGES:
        p.add_argument(f"--skip-{stage}", action="append_const", const=stage, dest="skip",
                       help=f"skip the {stage} stage")
    for alias, stage in SKIP_ALIASES.items():
        p.add_argument(f"--skip-{alias}", action="append_const", const=stage, dest="skip",
                       help=argparse.SUPPRESS)
    p.add_argument("--force", action="store_true", help="redo every stage's work instead of only what is new")
    p.add_argument("--dry-run", action="store_true", help="print the plan and resolved configs; run nothing")
    p.add_argument("--no-stats", action="store_true", help="do not print dataset statistics at the end")
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    return p.parse_args(argv)


def load_profile(path: str | None) -> tuple[Path, dict]:
    """The profile file and its contents (the demo profile when none is given)."""
    profile_path = Path(path).expanduser() if path else DEFAULT_PROFILE
    data = load_yaml(profile_path)
    stage_section(data, "import", source=str(profile_path))  # validates the section names
    return profile_path, data


def plan_stages(profile: dict, args: argparse.Namespace) -> list[str]:
    """The stages to run, in pipeline order, after the profile's list and the --only/--from/--skip flags."""
    wanted = profile.get("stages") or [s for s in STAGES if STAGE_MODULES[s]]
    if not isinstance(wanted, list) or any(s not in STAGES for s in wanted):
        bad = wanted if not isinstance(wanted, list) else [s for s in wanted if s not in STAGES][0]
        raise UserError(f"profile 'stages' has an unknown stage {shown(bad)}; valid stages: {', '.join(STAGES)}")
    plan = [s for s in STAGES if s in wanted]
    if args.only:
        plan = [s for s in STAGES if s in args.only]
    if args.from_stage:
        plan = [s for s in plan if STAGES.index(s) >= STAGES.index(args.from_stage)]
    plan = [s for s in plan if s not in (args.skip or [])]
    missing = [s for s in plan if STAGE_MODULES[s] is None]
    if missing:
        raise UserError(f"stage '{missing[0]}' is not available yet in this version; "
                        f"remove it from the profile's 'stages' or pass --skip-{missing[0]}")
    return plan


def fill_placeholders(value, values: dict[str, str]):
    """Replace `{name}` in every string of a profile value (nested lists/mappings) with values[name]."""
    if isinstance(value, str):
        for name, sub in values.items():
            value = value.replace("{" + name + "}", sub)
        return value
    if isinstance(value, list):
        return [fill_placeholders(v, values) for v in value]
    if isinstance(value, dict):
        return {k: fill_placeholders(v, values) for k, v in value.items()}
    return value


@contextmanager
def demo_site_for(profile: dict, paths: DatasetPaths) -> Iterator[dict]:
    """Start the built-in demo website when the profile asks for it; yields the placeholder values.

    The port is ephemeral, but the one used last time (remembered under metadata/) is tried first: page URLs
    include the port, so keeping it lets a second run recognise every page as already fetched."""
    opts = profile.get("demo_site")
    if not opts:
        yield {}
        return
    if opts is True:
        opts = {}
    if not isinstance(opts, dict):
        raise UserError("profile 'demo_site' must be true or a mapping of DemoSite settings")
    from demo.site import DemoSite
    port_file = paths.metadata / "demo_site_port.json"
    last = (read_json(port_file) or {}).get("port") if "port" not in opts else None
    site = None
    for port in ([last] if isinstance(last, int) else []) + [opts.get("port", 0)]:
        try:
            site = DemoSite(**{**opts, "port": port}).start()
            break
        except (TypeError, ValueError) as e:
            raise UserError(f"profile 'demo_site': {e}") from None
        except OSError:
            continue  # the remembered port is taken: fall back to a fresh one
    if site is None:
        raise UserError("could not start the demo website on 127.0.0.1")
    port = site.port
    try:
        print(f"run.py: demo website at {site.base_url} (stopped at the end of the run)")
        yield {"demo_site": site.base_url}
    finally:
        site.stop()
        if paths.root.is_dir():  # created by the first stage on a fresh dataset
            try:
                write_json(port_file, {"port": port})
            except OSError:
                pass  # a read-only dataset: the next run simply gets a fresh port


def stage_config(module, stage: str, profile: dict, source: str):
    """Build a stage's config dataclass from its profile section."""
    cfg_cls = typing.get_type_hints(module.run)["cfg"]
    return build_config(cfg_cls, stage_section(profile, stage, source), source=f"{source} [{stage}]")


def train_output_dir(profile: dict, source: str) -> Path | None:
    """Where the profile's train section writes its checkpoints (None when the profile has no train section)."""
    if "train" not in profile:
        return None
    from training import train
    return train.out_dir_of(train.apply_preset(stage_config(train, "train", profile, source)))


def point_at_trained_model(configs: dict, profile: dict, source: str) -> dict:
    """generate/evaluate configs without a checkpoint get the folder the profile's train stage writes to."""
    readers = [s for s in MODEL_READERS if s in configs and not configs[s].checkpoint]
    out = train_output_dir(profile, source) if readers else None
    if out is None:
        return configs
    return {**configs, **{s: dataclasses.replace(configs[s], checkpoint=str(out)) for s in readers}}


def memory_block_from_train(configs: dict, profile: dict, source: str) -> dict:
    """A memory step without its own block_size cuts examples for the block of the profile's train section."""
    if "memory" not in configs or configs["memory"].block_size or "train" not in profile:
        return configs
    from training import train
    block = train.apply_preset(stage_config(train, "train", profile, source)).block_size
    return {**configs, "memory": dataclasses.replace(configs["memory"], block_size=block)}


def run_pipeline(argv: list[str] | None = None) -> int:
    """Run the planned stages; return the process exit code."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    try:
        profile_path, profile = load_profile(args.config)
        paths = dataset_paths(args.dataset_dir)
        plan = plan_stages(profile, args)
        modules = {s: importlib.import_module(STAGE_MODULES[s]) for s in plan}
        configs = {s: stage_config(modules[s], s, profile, str(profile_path)) for s in plan}  # checks early
        configs = point_at_trained_model(configs, profile, str(profile_path))
        configs = memory_block_from_train(configs, profile, str(profile_path))
        plan = with_tokenizer_step(plan, modules, configs, profile, str(profile_path))
    except UserError as e:
        print(f"run.py: error: {e}", file=sys.stderr)
        return 2
    print(f"run.py: profile {profile_path.name}, dataset {paths.root}, stages: {' -> '.join(plan) or '(none)'}")
    if args.dry_run:
        for s in plan:
            print(f"  {s}: {dumps_json(config_dict(configs[s]))}")
        return 0
    try:
        total = time.monotonic()
        writes = any(s not in READ_ONLY_STAGES for s in plan)  # train/generate/evaluate alone: a shared lock
        with dataset_lock(paths, write=writes), demo_site_for(profile if plan else {}, paths) as placeholders:
            if placeholders:
                filled = fill_placeholders(profile, placeholders)
                configs = {s: stage_config(modules[s], s, filled, str(profile_path)) for s in plan}
                configs = point_at_trained_model(configs, filled, str(profile_path))
                configs = memory_block_from_train(configs, filled, str(profile_path))
            # Statistics come after the data stages, so a story printed by generate is the run's last output.
            cut = next((i for i, s in enumerate(plan) if s != TOKENIZER and
                        STAGES.index(s) > STAGES.index(DATA_STAGES_END)), len(plan))
            code = run_stages(plan, modules, configs, paths, args.force, upto=cut)
            if code == 0 and not args.no_stats and paths.root.is_dir():
                code = print_stats(profile, str(profile_path), paths)
            if code == 0:
                code = run_stages(plan, modules, configs, paths, args.force, start=cut)
            if code == 0:
                print(f"run.py: done in {time.monotonic() - total:.1f} s")
    except UserError as e:  # the lock is held by another run, the folder is read-only, or demo site settings
        print(f"run.py: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the dataset folder cannot be written (disk full...) outside any one stage
        print(f"run.py: failed: {os_error_line(e)}", file=sys.stderr)
        return 1
    return code


def with_tokenizer_step(plan: list[str], modules: dict, configs: dict, profile: dict, source: str) -> list[str]:
    """The plan with the BPE tokenizer's training (scripts/train_tokenizer.py, the profile's `tokenizer` section)
    right before prepare, when prepare uses `tokenizer: bpe` and the profile has that section; modules and
    configs gain its entry (and, the plan naming it, any rebuild of the configs over the plan). It is incremental:
    an up-to-date tokenizer is not trained again."""
    if "prepare" not in plan or configs["prepare"].tokenizer != "bpe" or TOKENIZER not in profile:
        return plan
    from scripts import train_tokenizer
    modules[TOKENIZER] = train_tokenizer
    configs[TOKENIZER] = stage_config(train_tokenizer, TOKENIZER, profile, source)
    i = plan.index("prepare")
    return plan[:i] + [TOKENIZER] + plan[i:]


def print_stats(profile: dict, source: str, paths: DatasetPaths) -> int:
    """Print the dataset statistics table (and write stats.json and the chart); returns an exit code."""
    from scripts import stats
    try:
        stats.run(stage_config(stats, "stats", profile, source), paths)
    except UserError as e:
        print(f"run.py: stats: error: {e}", file=sys.stderr)
        return 2
    return 0


def run_stages(plan: list[str], modules: dict, configs: dict, paths: DatasetPaths, force: bool,
               start: int = 0, upto: int | None = None) -> int:
    """Run the planned stages plan[start:upto], one summary line each; stop at the first failure. Returns the
    exit code."""
    for i, stage in list(enumerate(plan, 1))[start:upto]:
        began = time.monotonic()
        try:
            counts = modules[stage].run(configs[stage], paths, force=force)
        except (UserError, StageFailed, OSError) as e:
            reason = os_error_line(e) if isinstance(e, OSError) else e
            print(f"[{i}/{len(plan)}] {stage:<9} FAILED: {reason}", file=sys.stderr)
            print(f"run.py: stopped at stage '{stage}'; fix the problem above and run again "
                  f"(finished stages are not redone)", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"\nrun.py: interrupted during '{stage}'; run again to continue where it stopped",
                  file=sys.stderr)
            return 130
        print(f"[{i}/{len(plan)}] {stage:<9} {time.monotonic() - began:6.1f} s  {format_counts(counts)}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_pipeline())
