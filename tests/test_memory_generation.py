"""Generation and evaluation with the rolling memory: the KV-cached window behind a pinned summary against a full
recomputation of [summary + window] (rope and learned positions), flat state over a long story, greedy generation
against a step-by-step reference, generate.py and evaluate.py end to end (--memory, --memory-log,
--memory-probes), and probe scoring on a hand-made story with a known answer."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from common.config import build_config
from common.text_format import NOT_IN_STORIES, SUMMARY_CLOSE, SUMMARY_CLOSE_ID, SUMMARY_OPEN, SUMMARY_OPEN_ID
from generation.inference import generate_ids, load_model
from generation.memory_eval import (_logprob_sums, _other_prefix, _window_loss, answer_sentence, bucket_of,
                                    context_ablation, in_window_recall, probe_recall, score_probe)
from generation.memory_window import RollingWindow, schedule_of
from generation.sampling_config import SampleConfig
from model.checkpoint import LAST, save_checkpoint
from model.gpt import GPT, ModelConfig
from model.tokenizer import CharTokenizer
from scripts import evaluate, generate, prepare_memory
from story_memory.probes import Probe
from story_memory.rolling import make_schedule, rolling_story
from story_memory.summary import Summary
from tests.test_memory_step import BLOCK, BUDGET, TINY, demo_dataset
from training import train

INTRO = ("Mia lived in Ashford with her cat, Pip. Mia had a red kite. Her favourite colour was teal. "
         "Leo came from Brookmere. Leo owned a brass compass. Leo looked after a dog named Rusty. "
         "Nora grew up in Fernvale. Nora carried a silver whistle. Nora kept a rabbit called Clover.\n")
FILLER = ("The friends walked along the lane and talked about the clouds. A robin sang on the fence, and the "
          "wind moved the tall grass. They ate apples by the water and counted the ducks on the pond.\n")
STORY = INTRO + FILLER * 20
RBLOCK, RBUDGET = 128, 60


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as generation uses by default (the machine's cores are shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def story_tok() -> CharTokenizer:
    return CharTokenizer(sorted(set(STORY + ":;")))


def tiny_gpt(pos: str, seed: int = 0, vocab: int | None = None) -> GPT:
    """A randomly initialised tiny GPT (residual projections not zeroed, so every layer counts), eval mode."""
    torch.manual_seed(seed)
    over = dict(block_size=RBLOCK, n_layer=2, n_head=2, n_embd=32, zero_init_proj=False)
    vocab = vocab or story_tok().vocab_size + 2
    cfg = ModelConfig.gpt2(vocab, **over) if pos == "learned" else ModelConfig(vocab_size=vocab, **over)
    return GPT(cfg).eval()


def full_last_logits(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids]))[0][0, -1]


# ------------------------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_window_behind_the_summary_equals_full_recomputation(pos):
    tok = story_tok()
    model = tiny_gpt(pos)
    sch = make_schedule(RBLOCK, RBUDGET, 9)
    ids = tok.encode(STORY).tolist()
    log: list = []
    rw = RollingWindow(model, tok, sch, log)
    ref = rolling_story(tok, sch)  # the reference reads the story's ids directly, as training's folds do
    with torch.no_grad():
        logits = rw.start(ids[:200])  # a prompt longer than the block: several folds at once
        worst, checked, prefixes = 0.0, 0, set()
        for n in range(200, 1000):
            ref.catch_up(n, lambda a, b: tok.decode(ids[a:b]))
            assert (rw.story.covered, rw.story.prefix) == (ref.covered, ref.prefix), n
            row = ref.prefix + ids[ref.covered: n]
            assert rw.window == ids[ref.covered: n] and len(row) <= RBLOCK
            if n < 400 or n % 4 == 0:
                worst = max(worst, float((logits - full_last_logits(model, row)).abs().max()))
                checked += 1
            if rw.story.prefix:
                prefixes.add(tuple(rw.story.prefix))
            logits = rw.feed(ids[n])
    assert worst < 1e-4, worst
    assert checked > 300 and len(log) > 20 and len(prefixes) >= 2  # many folds, the summary changed
    assert "".join(r["evicted"] for r in log) == tok.decode(ids[: rw.story.covered])  # each token folded once
    assert all(p[0] == SUMMARY_OPEN_ID and p[-1] == SUMMARY_CLOSE_ID for p in prefixes)
    last = Summary.parse(rw.story.memory.summary)
    assert last.names()[0] == "Mia" and "Ashford" in last.entry("Mia").facts


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_state_stays_flat_over_a_long_story(pos):
    tok = story_tok()
    model = tiny_gpt(pos)
    sch = make_schedule(RBLOCK, RBUDGET)
    ids = (tok.encode(STORY).tolist() * 3)[:2000]
    log: list = []
    rw = RollingWindow(model, tok, sch, log)
    sizes = set()
    cache = None
    with torch.no_grad():
        rw.start(ids[:10])
        for n, t in enumerate(ids[10:], 11):
            rw.feed(t)
            assert rw.n == n and len(rw.story.prefix) + len(rw.window) <= RBLOCK
            assert len(rw.window) <= RBLOCK and rw.dec.n <= RBLOCK and len(rw.story.memory.pending) < 2000
            assert len(rw.dec.history) <= RBLOCK
            sizes.add((tuple(rw.dec.k.shape), tuple(rw.dec.v.shape)))
            cache = rw.dec.k
    assert len(sizes) == 1 and cache.shape[3] == RBLOCK  # one cache of block_size slots, never grown
    assert len(rw.story.memory.summary) <= RBUDGET and rw.story.covered > 2000 - RBLOCK
    assert len(log) == rw.story.covered // sch.update_every  # one record per fold, none kept beyond the log


@pytest.mark.parametrize("pos,focus", [("rope", "window"), ("learned", "window"), ("rope", None)])
def test_greedy_generation_with_memory_equals_a_step_by_step_recomputation(tmp_path, pos, focus):
    tok = story_tok()
    model = tiny_gpt(pos, seed=3)
    # focus None: a checkpoint from before the setting existed reads the summary as kept
    state = {"step": 1, "model_config": model.cfg.to_dict(), "tokenizer": tok.to_dict(), "config": {},
             "memory": {"block_size": RBLOCK, "budget": RBUDGET, "update_every": 0,
                        **({"focus": focus} if focus else {})}}
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, model, torch.optim.AdamW(model.parameters()), dict(model.named_parameters()), {}, state)
    lm = load_model(path)
    sch = schedule_of(lm.state, RBLOCK)
    assert sch == make_schedule(RBLOCK, RBUDGET, focus=focus or "none")
    prompt = tok.encode(STORY[:300]).tolist()
    log: list = []
    got = list(generate_ids(lm, prompt, 150, SampleConfig(temperature=0, stop_at_eot=False), memory=sch,
                            memory_log=log))
    banned = list(NOT_IN_STORIES)
    ctx = list(prompt)
    story = rolling_story(tok, sch)
    for _ in range(150):
        story.catch_up(len(ctx), lambda a, b: tok.decode(ctx[a:b]))
        logits = full_last_logits(lm.model, story.prefix + ctx[story.covered:])[: tok.vocab_size].clone()
        logits[banned] = float("-inf")
        ctx.append(int(logits.argmax()))
    assert got == ctx[len(prompt):]
    assert story.memory.summary == log[-1]["summary"] and log[-1]["summary"].startswith("Mia: Ashford")
    assert "".join(r["evicted"] for r in log) == tok.decode(ctx[: story.covered])


# ------------------------------------------------------------------------------------------- generate.py
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A demo dataset with its memory step, a tiny model trained a few steps with memory and one without."""
    root = tmp_path_factory.mktemp("memgen")
    paths = demo_dataset(root / "ds", 12)
    prepare_memory.run(prepare_memory.MemoryConfig(block_size=BLOCK, budget=BUDGET), paths)
    out = {}
    for name, ratio in (("mem", 0.5), ("plain", 0.0)):
        cfg = build_config(train.TrainConfig, {**TINY, "memory_ratio": ratio, "max_iters": 3,
                                               "out_dir": str(root / name)})
        train.run(cfg, paths)
        out[name] = root / name / LAST
    return SimpleNamespace(paths=paths, root=root, **out)


def test_generate_memory_rolling_writes_the_memory_log(runs, tmp_path, capsys):
    log_path, stats = tmp_path / "mem.jsonl", tmp_path / "stats.json"
    prompt = tmp_path / "prompt.txt"
    prompt.write_text(INTRO + FILLER, encoding="utf-8")
    rc = generate.main(["--checkpoint", str(runs.mem), "--memory", "rolling", "--memory-log", str(log_path),
                        "--prompt-file", str(prompt), "--max-new-tokens", "300", "--no-stop-at-eot",
                        "--stats-json", str(stats), "--dataset-dir", str(tmp_path / "ds"), "--num-samples", "2"])
    out = capsys.readouterr().out
    assert rc == 0 and out.startswith(INTRO)
    records = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    assert len(records) > 10
    for r in records:
        assert {"position", "covered", "summary", "kept", "evicted", "first_window_names_kept", "new_names",
                "sample"} <= r.keys()
        assert len(r["summary"]) <= BUDGET and r["covered"] <= r["position"]
        shown, kept = Summary.parse(r["summary"]), Summary.parse(r["kept"])  # focus: a part of the summary kept
        assert set(shown.names()) <= set(kept.names()) and len(r["kept"]) <= 4 * BUDGET
        assert isinstance(r["new_names"], list) and r["evicted"]
        assert r["first_window_names_kept"] is None or 0 <= r["first_window_names_kept"] <= 1
    assert {r["sample"] for r in records} == {0, 1}
    first = [r for r in records if r["sample"] == 0]
    assert [r["covered"] for r in first] == sorted(r["covered"] for r in first)
    named = [r for r in first if r["summary"]]  # (the first folds may hold no complete sentence yet)
    assert named[0]["summary"].startswith("Mia") and "Mia" in named[0]["new_names"]
    assert out.startswith("".join(r["evicted"] for r in first))  # every token folded once, in order
    assert json.loads(stats.read_text())["memory"] == "rolling"
    # auto = rolling for a checkpoint trained with memory: same text for the same seed
    assert generate.main(["--checkpoint", str(runs.mem), "--prompt-file", str(prompt), "--max-new-tokens", "300",
                          "--no-stop-at-eot", "--dataset-dir", str(tmp_path / "ds"), "--num-samples", "2"]) == 0
    assert capsys.readouterr().out == out


def test_generate_memory_off_and_refusal_without_memory(runs, tmp_path, capsys):
    log_path, stats = tmp_path / "off.jsonl", tmp_path / "stats.json"
    for ckpt in (runs.mem, runs.plain):
        rc = generate.main(["--checkpoint", str(ckpt), "--memory", "off", "--memory-log", str(log_path),
                            "--prompt", "Mia had a cat.", "--max-new-tokens", "100", "--no-stop-at-eot",
                            "--stats-json", str(stats), "--dataset-dir", str(tmp_path / "ds")])
        assert rc == 0 and capsys.readouterr().out.startswith("Mia had a cat.")
        assert json.loads(stats.read_text())["memory"] == "off" and not log_path.exists()
    rc = generate.main(["--checkpoint", str(runs.plain), "--memory", "rolling", "--max-new-tokens", "10",
                        "--dataset-dir", str(tmp_path / "ds")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "not trained with memory" in err and "Traceback" not in err
    rc = generate.main(["--checkpoint", str(runs.mem), "--memory", "sometimes", "--dataset-dir",
                        str(tmp_path / "ds")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "rolling, off or auto" in err


# ------------------------------------------------------------------------------------------- probe scoring
class CopyModel(torch.nn.Module):
    """A causal 'model' with a known answer: the next token after token x is drawn from what followed earlier
    copies of x in the same row (add-0.01 smoothing). It can only name a pet it has seen in its input."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        same = (idx[:, :, None] == idx[:, None, :]).float()  # [B, query t, key s]
        earlier = torch.tril(torch.ones(T, T), diagonal=-1)  # s < t
        nxt = F.one_hot(idx[:, 1:], self.vocab).float()  # what followed key s
        counts = (same * earlier)[:, :, : T - 1] @ nxt
        return torch.log(counts + 0.01), None


PET_STORY = (INTRO + FILLER * 6 + "At last Mia went home, a robin sang, and she stroked her cat, whose name was ")


def direct_scores(model, head: list[int], cands: list[list[int]]) -> list[float]:
    """Summed log-probabilities of each candidate after `head`, one unpadded forward per candidate."""
    out = []
    for c in cands:
        with torch.no_grad():
            logits, _ = model(torch.tensor([head + c]))
        logp = torch.log_softmax(logits[0].float(), dim=-1)
        out.append(sum(float(logp[len(head) + k - 1, t]) for k, t in enumerate(c)))
    return out


def pet_probe(story: str = PET_STORY) -> Probe:
    return Probe(story, "Pip", ["Bob", "Rusty"], len(INTRO))


@pytest.mark.parametrize("kind", ["copy", "gpt"])
def test_score_probe_picks_the_highest_summed_log_probability(kind):
    tok = story_tok()
    model = CopyModel(tok.vocab_size) if kind == "copy" else tiny_gpt("rope", seed=5)
    sch = make_schedule(RBLOCK, RBUDGET)
    probe = pet_probe()
    ctx = tok.encode(probe.context.rstrip(" ")).tolist()
    cands = [tok.encode(" " + c).tolist() for c in [probe.answer, *probe.distractors]]
    longest = max(map(len, cands))
    story = rolling_story(tok, sch)
    story.catch_up(len(ctx) + longest, lambda a, b: tok.decode(ctx[a:b]))
    heads = {"with": story.prefix + ctx[story.covered:], "without": ctx[len(ctx) + longest - RBLOCK:]}
    for key, schedule in (("with", sch), ("without", None)):
        got = score_probe(model, tok, RBLOCK, schedule, probe)
        want = direct_scores(model, heads[key], cands)
        assert len(heads[key]) + longest <= RBLOCK
        assert got["scores"] == pytest.approx(want, abs=1e-4), key
        assert got["correct"] == (want[0] > max(want[1:]))
        assert got["distance"] == len(tok.encode(probe.context[probe.last_mention:]))
    if kind == "copy":  # the known answer: only the summary can tell the model the cat's name
        assert "cat Pip" in story.memory.summary and "Pip" not in tok.decode(ctx[story.covered:])
        assert score_probe(model, tok, RBLOCK, sch, probe)["correct"]
        assert not score_probe(model, tok, RBLOCK, None, probe)["correct"]


def test_with_memory_the_context_beyond_the_window_arrives_only_through_the_summary():
    tok = story_tok()
    model = tiny_gpt("learned", seed=2)
    sch = make_schedule(RBLOCK, RBUDGET)
    base = score_probe(model, tok, RBLOCK, sch, pet_probe())
    base_plain = score_probe(model, tok, RBLOCK, None, pet_probe())
    # text the summarizer keeps nothing of, changed early in the story (same length, so the same folds)
    cut = len(INTRO) + len(FILLER) * 2
    early, late = PET_STORY[:cut], PET_STORY[cut:]
    quiet = early.replace("apples", "grapes").replace("clouds", "stones")
    assert quiet != early and len(quiet) == len(early)
    same = score_probe(model, tok, RBLOCK, sch, pet_probe(quiet + late))
    assert same["scores"] == base["scores"]
    assert score_probe(model, tok, RBLOCK, None, pet_probe(quiet + late))["scores"] == base_plain["scores"]
    # a fact the summary keeps, changed as early: only the reading with memory sees it
    told = early.replace("cat, Pip", "cat, Pod")
    other = score_probe(model, tok, RBLOCK, sch, pet_probe(told + late))
    assert other["scores"] != base["scores"]
    assert score_probe(model, tok, RBLOCK, None, pet_probe(told + late))["scores"] == base_plain["scores"]


def test_probe_recall_report_and_chance():
    tok = story_tok()
    model = CopyModel(tok.vocab_size)
    sch = make_schedule(RBLOCK, RBUDGET)
    probes = [pet_probe(), Probe(PET_STORY, "Pip", ["Bob"], len(INTRO))]
    rep = probe_recall(model, tok, RBLOCK, sch, probes)
    assert rep["probes"] == 2 and rep["chance"] == pytest.approx((1 / 3 + 1 / 2) / 2, abs=1e-4)
    assert rep["with_memory"]["recall"] == 1.0 and rep["without_memory"]["recall"] == 0.0
    bucket = bucket_of(score_probe(model, tok, RBLOCK, sch, probes[0])["distance"], RBLOCK)
    assert int(bucket.rstrip("+")) >= 4  # the fact is many windows back
    assert rep["with_memory"]["by_distance"] == {bucket: {"recall": 1.0, "probes": 2}}
    assert rep["without_memory"]["by_distance"] == {bucket: {"recall": 0.0, "probes": 2}}
    assert rep["with_memory"]["answer_in_summary"] == 1.0 and rep["with_memory"]["recall_if_in_summary"] == 1.0
    assert rep["with_memory"]["recall_if_not_in_summary"] is None


def test_context_ablation_scores_the_same_tokens_given_nothing_or_a_prefix():
    """Each reading scores the stretch's tokens after its first (nothing precedes the first in reading (a)); an
    earlier version took the first token's score from the row's last position, which inflated the no-context
    loss and let any prefix, even another story's summary, look useful."""
    tok = story_tok()
    model = tiny_gpt("rope", seed=3)
    target = tok.encode(FILLER).tolist()[:40]
    prefix = tok.encode("Mia: cat Pip.").tolist()

    def direct(head: list[int]) -> float:
        with torch.no_grad():
            logits, _ = model(torch.tensor([head + target]))
        return float(F.cross_entropy(logits[0, len(head):-1].float(), torch.tensor(target[1:])))

    assert _window_loss(model, [target], len(target)) == pytest.approx(direct([]), abs=1e-5)
    assert _window_loss(model, [prefix + target], len(target)) == pytest.approx(direct(prefix), abs=1e-5)
    with pytest.raises(ValueError):
        _logprob_sums(model, [target], [(0, 5)])
    docs = [tok.encode(STORY), tok.encode(INTRO.replace("Mia", "Ada") + FILLER * 12)]
    rep = context_ablation(model, tok, make_schedule(RBLOCK, RBUDGET), docs, max_points=4)
    assert rep["points"] > 0 and rep["window"] == RBLOCK - (RBUDGET + 2)
    for key in ("loss_none", "loss_summary", "loss_other_summary", "loss_full_previous"):
        assert 0 < rep[key] < 20


def test_the_other_document_of_the_ablation_is_half_the_list_away():
    """Parts cut from one book sit side by side; the control's "other document" is taken from half the list
    away, the next one with a summary after that, never the document itself."""
    folds = [[(10, [d, 0], None), (20, [d, 1], None)] for d in range(6)]
    assert _other_prefix(folds, 0, 1) == [3, 1] and _other_prefix(folds, 4, 0) == [1, 0]
    assert _other_prefix(folds, 1, 9) == [4, 1]  # past its last fold: the last summary it has
    folds[3] = [(10, [], None)]  # no summary yet: the search goes on
    assert _other_prefix(folds, 0, 0) == [4, 0]
    assert _other_prefix([folds[0]], 0, 0) is None


def test_probe_recall_says_how_often_the_summary_holds_the_answer():
    tok = story_tok()
    model = CopyModel(tok.vocab_size)
    sch = make_schedule(RBLOCK, RBUDGET)
    # "Zed" was never told: the summary cannot hold it, and the copying model picks the cat it read about
    probes = [pet_probe(), Probe(PET_STORY, "Zed", ["Pip"], len(INTRO))]
    assert score_probe(model, tok, RBLOCK, sch, probes[1])["held"] is False
    assert score_probe(model, tok, RBLOCK, None, probes[1])["held"] is None
    wm = probe_recall(model, tok, RBLOCK, sch, probes)["with_memory"]
    assert wm["answer_in_summary"] == 0.5
    assert wm["recall_if_in_summary"] == 1.0 and wm["recall_if_not_in_summary"] == 0.0


class BlindModel(CopyModel):
    """Reads nothing: the same log-probability for every token everywhere."""

    def forward(self, idx, targets=None):
        return torch.zeros((*idx.shape, self.vocab)), None


def test_in_window_recall_tells_a_model_that_copies_from_one_that_cannot():
    tok = story_tok()
    assert answer_sentence(PET_STORY, "Pip") == "Mia lived in Ashford with her cat, Pip."
    assert answer_sentence(PET_STORY, "Rusty") == "Leo looked after a dog named Rusty."
    assert answer_sentence(PET_STORY, "Zed") is None
    probes = [pet_probe(), Probe(PET_STORY[:-len("whose name was ")] + "named ", "Pip", ["Rusty", "Clover"], 0),
              Probe("no answer here", "Zed", ["Bob"], 0)]  # skipped: the answer is never given
    copy = in_window_recall(CopyModel(tok.vocab_size), tok, RBLOCK, probes)
    assert copy == {"recall": 1.0, "chance": pytest.approx(1 / 3, abs=1e-4), "probes": 2}
    # Pip and Bob score the same for a model that reads nothing, so the answer does not win
    assert in_window_recall(BlindModel(tok.vocab_size), tok, RBLOCK, probes[:1])["recall"] == 0.0


# ------------------------------------------------------------------------------------------- evaluate.py
def test_evaluate_memory_probes_end_to_end(runs, tmp_path, capsys):
    probes = tmp_path / "probes.jsonl"
    recs = [pet_probe().record(), {"context": "Leo came from Brookmere. Later Leo went back to ", "answer": "Brookmere",
                                   "distractors": ["Ashford", "Fernvale"], "last_mention": 24}]
    probes.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    report_dir = tmp_path / "report"
    rc = evaluate.main(["--dataset-dir", str(runs.paths.root), "--checkpoint", str(runs.mem), "--memory-probes",
                        str(probes), "--num-samples", "0", "--report-dir", str(report_dir)])
    assert rc == 0, capsys.readouterr().err
    assert "memory probes (2" in capsys.readouterr().out
    mp = json.loads((report_dir / "report.json").read_text())["memory_probes"]
    assert mp["probes"] == 2 and mp["chance"] == pytest.approx(1 / 3, abs=1e-4)
    assert mp["trained_with_memory"] is True and mp["budget"] == BUDGET
    for key in ("with_memory", "without_memory"):
        assert 0 <= mp[key]["recall"] <= 1
        assert sum(v["probes"] for v in mp[key]["by_distance"].values()) == 2
        assert all(0 <= v["recall"] <= 1 for v in mp[key]["by_distance"].values())
    # a malformed probes file: one line, exit code 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(recs[0]) + "\n" + json.dumps({**recs[1], "distractors": []}) + "\n", encoding="utf-8")
    rc = evaluate.main(["--dataset-dir", str(runs.paths.root), "--checkpoint", str(runs.mem), "--memory-probes",
                        str(bad), "--num-samples", "0", "--report-dir", str(tmp_path / "r2")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "'distractors'" in err and "bad.jsonl:2:" in err
    rc = evaluate.main(["--dataset-dir", str(runs.paths.root), "--checkpoint", str(runs.mem), "--memory-probes",
                        str(tmp_path / "none.jsonl"), "--num-samples", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "not found" in err


# ------------------------------------------------------------------------------------------- bench/memory.py
def test_bench_memory_measures_every_figure_and_prints_the_targets(runs, tmp_path, capsys):
    from bench import memory as bench_memory
    out = tmp_path / "bench.json"
    rc = bench_memory.main(["--checkpoint", f"mem={runs.mem}", "--checkpoint", f"plain={runs.plain}",
                            "--dataset-dir", str(runs.paths.root), "--demo-stories", "2", "--max-probes", "6",
                            "--ablation-docs", "3", "--ablation-points", "6", "--long-tokens", "1200",
                            "--stories", "1", "--story-tokens", "200", "--threads", "1", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["conditions"]["dtype"] == "fp32"
    summ = report["summarizer"]
    assert summ["ms_per_1000_chars"] > 0 and summ["ms_per_1000_chars_focus"] > 0
    for key in ("coverage_by_budget_chars_block256", "coverage_by_budget_chars_block256_no_focus"):
        assert set(summ[key]) == {"40", "80", "120", "160", "200"} and all(0 <= v <= 1 for v in summ[key].values())
    assert "plain" not in report["models"] and "was not trained with memory; skipped" in text
    row = report["models"]["mem"]
    assert row["probes"]["probes"] == 6 and 0 <= row["probes"]["with_memory"]["recall"] <= 1
    assert 0 <= row["in_window"]["recall"] <= 1 and row["in_window"]["probes"] == 6
    assert row["ablation"]["points"] > 0 and row["ablation"]["loss_none"] > 0
    assert set(row["stories"]) == {"with_memory", "without_memory"}
    for mode in ("rolling", "off"):
        assert row["resources"][mode]["1000"]["rss_mb"] > 0 and row["resources"][mode]["overall_tokens_per_s"] > 0
    assert "targets (issue 12):" in text and "(target >= 0.8)" in text and "(target > 0.1)" in text
    docs = bench_memory.val_documents(runs.paths.root, 1000)
    cut = sorted(len(d) for d in docs)[len(docs) // 2]
    long_docs = bench_memory.val_documents(runs.paths.root, 1000, cut)
    assert 0 < len(long_docs) < len(docs) and all(len(d) >= cut for d in long_docs)
    assert [d.tolist() for d in long_docs] == [d.tolist() for d in docs if len(d) >= cut]
