"""Chat training data: transcripts parsed back from their text form, examples replayed through the real store
and prompt builder (deterministic, within the block, the answer reachable from the prompt), and prepare's chat
format end to end (token files that decode to the text files, byte-identical rebuilds, one-line errors)."""

import dataclasses

import pytest

from assistant.examples import EXAMPLES_VERSION, replay_examples, transcript_examples
from assistant.prompt import PromptBudget
from assistant.retrieval import RetrievalConfig
from assistant.term_links import mine_term_links
from assistant.transcripts import parse_transcript
from common.config import UserError, build_config
from common.paths import REPO_ROOT, DatasetPaths
from common.text_format import ASSISTANT, EOT, MEMORY_OPEN, USER
from demo.dialogues import conversation_text, generate_conversation
from model.token_files import load_meta, load_tokenizer, open_tokens
from scripts import prepare_data

BUDGET = PromptBudget(block_size=512, reply_tokens=80, memory_tokens=200)


def test_a_transcript_reads_back_as_it_was_written():
    conv = generate_conversation(4)
    sessions = parse_transcript(conversation_text(conv))
    assert [s.day for s in sessions] == [s.day for s in conv.sessions]
    assert [[(t.role, t.content) for t in s.turns] for s in sessions] == \
        [[(t.role, t.content) for t in s.turns] for s in conv.sessions]
    text = ("# my chat log\nsome preamble\n# Session 1 (day 2)\nUser: hello\nthere\n\nassistant:hi!\n"
            "# session 2\nuser: bye\n# session 3 (day 9)\n")
    got = parse_transcript(text)
    assert [(s.day, [(t.role, t.content) for t in s.turns]) for s in got] == \
        [(2, [("user", "hello there"), ("assistant", "hi!")]), (2, [("user", "bye")])]


def answer_in_prompt_share(n: int, retrieval: RetrievalConfig = RetrievalConfig()) -> float:
    hit = total = 0
    for i in range(n):
        conv = generate_conversation(i)
        examples = replay_examples(conv.sessions, len, BUDGET, retrieval)
        at = {}
        for s in conv.sessions:
            for j, t in enumerate(s.turns):
                if t.role == "assistant":
                    at[(s.index, j - 1)] = len(at)
        for q in conv.questions:
            if q.answer and q.told_in < q.session:
                example = examples[at[(q.session, q.turn)]]
                hit += q.answer in example[: example.rindex(ASSISTANT)]
                total += 1
    return hit / total


def test_examples_are_deterministic_fit_the_block_and_carry_earlier_sessions():
    conv = generate_conversation(7)
    a = replay_examples(conv.sessions, len, BUDGET)
    assert a == replay_examples(conv.sessions, len, BUDGET)
    assert len(a) == sum(t.role == "assistant" for s in conv.sessions for t in s.turns)
    for e in a:
        # counted in characters here (count=len), where the end marker is one token: it takes one place
        assert len(e) + 1 <= BUDGET.block_size and EOT not in e
        assert e.count(ASSISTANT) >= 1 and e.rindex(USER) < e.rindex(ASSISTANT)
    assert a[0].startswith(USER) and any(e.startswith(MEMORY_OPEN) for e in a)
    # the fact asked for, told sessions earlier, is in the prompt (retrieval on the generated corpus: in-sample)
    plain = answer_in_prompt_share(20)
    assert plain >= 0.6
    # with term links mined from other users' transcripts (200-399), the question's other words find the fact
    links = mine_term_links(generate_conversation(i).sessions for i in range(200, 400))
    assert answer_in_prompt_share(20, RetrievalConfig(links=links)) >= max(0.8, plain + 0.05)  # 0.84 vs 0.74


def cleaned_conversations(root, n: int, sessions: int = 4) -> DatasetPaths:
    """A dataset folder whose cleaned/dialogues/ holds n generated conversations as transcripts."""
    paths = DatasetPaths.at(root)
    paths.make_dirs()
    folder = paths.cleaned / "dialogues"
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"20260101_0000{i:02d}__dialogues__c{i:03d}__{i:012x}.txt").write_text(
            conversation_text(generate_conversation(i, sessions=sessions)), encoding="utf-8")
    return paths


def test_prepare_in_chat_format(tmp_path):
    paths = cleaned_conversations(tmp_path / "ds", 30, sessions=6)  # 6 sessions: enough answers from memory for links
    cfg = build_config(prepare_data.PrepareConfig, {"format": "chat", "val_fraction": 0.3,
                                                    "chat_block_size": 300, "chat_reply_tokens": 60,
                                                    "chat_memory_tokens": 120})
    counts = prepare_data.run(cfg, paths)
    meta = load_meta(paths.processed)
    tok = load_tokenizer(paths.processed, meta)
    text = (paths.processed / "train.txt").read_text(encoding="utf-8")
    ids = open_tokens(paths.processed, "train", meta)
    assert tok.decode(ids) == text
    links = meta["chat"].pop("term_links")
    assert meta["chat"] == {"block_size": 300, "reply_tokens": 60, "memory_tokens": 120,
                            "examples_version": EXAMPLES_VERSION}
    assert links and all(isinstance(v, list) and v for v in links.values())  # 21 training users
    docs = text.split(EOT)[:-1]
    assert len(docs) == meta["splits"]["train"]["docs"] and counts["docs"] > 12
    assert all(len(tok.encode(d)) + 1 <= 300 for d in docs)
    assert docs[0].startswith(USER) and sum(d.startswith(MEMORY_OPEN) for d in docs) > len(docs) // 3
    before = {p.name: p.read_bytes() for p in paths.processed.iterdir()}
    assert prepare_data.run(cfg, paths)["unchanged"] is True
    assert prepare_data.run(cfg, paths, force=True)["docs"] == counts["docs"]
    assert {p.name: p.read_bytes() for p in paths.processed.iterdir()} == before
    other = dataclasses.replace(cfg, chat_memory_tokens=60)
    assert prepare_data.run(other, paths)["unchanged"] is False  # chat settings are part of the fingerprint
    for bad in ({"format": "html"}, {"format": "chat", "chat_reply_tokens": 300, "chat_block_size": 300}):
        with pytest.raises(UserError):
            prepare_data.run(build_config(prepare_data.PrepareConfig, bad), paths)
    # a model trained on them keeps the settings to chat with (assistant.orchestrator.settings_for reads them)
    from model.checkpoint import LAST, read_state
    from training import train
    tcfg = build_config(train.TrainConfig, {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 300,
                                            "batch_size": 2, "max_iters": 1, "eval_iters": 1, "plot": False,
                                            "threads": 1, "out_dir": str(tmp_path / "run")})
    train.run(tcfg, paths)
    assert read_state(tmp_path / "run" / LAST)["chat"] == load_meta(paths.processed)["chat"]
    from assistant.orchestrator import settings_for
    from generation.inference import load_model
    assert settings_for(load_model(tmp_path / "run" / LAST)).retrieval.links == links  # chat retrieves with them
    off = dataclasses.replace(cfg, chat_term_links=False)
    assert prepare_data.run(off, paths)["unchanged"] is False and load_meta(paths.processed)["chat"]["term_links"] == {}
    # a transcript with a single user line makes no example: nothing to learn, nothing written
    assert transcript_examples("user: hello", len, BUDGET) == []


def test_the_chat_profile_pipeline_on_a_few_users(tmp_path, capsys):
    """import --demo-chat, validate, filter, clean and prepare in chat format, as profiles/chat.yaml runs them
    (the profile's own settings, fewer users)."""
    import yaml
    from scripts import clean_dataset, filter_dataset, import_text, validate_raw
    profile = yaml.safe_load((REPO_ROOT / "profiles" / "chat.yaml").read_text(encoding="utf-8"))
    assert profile["train"]["block_size"] == profile["prepare"]["chat_block_size"]
    paths = DatasetPaths.at(tmp_path / "ds")
    paths.make_dirs()
    counts = import_text.run(build_config(import_text.ImportConfig, {**profile["import"], "demo_chat_users": 6}),
                             paths)
    assert counts["added"] == 6
    for stage, cls in ((validate_raw, "ValidateConfig"), (filter_dataset, "FilterConfig"),
                       (clean_dataset, "CleanConfig")):
        stage.run(build_config(getattr(stage, cls), profile.get(stage.STAGE) or {}), paths)
    assert len(list((paths.cleaned / "demo-chat").glob("*.txt"))) == 6  # nothing of ours was filtered out
    from scripts import train_tokenizer  # run.py trains it before prepare (prepare: {tokenizer: bpe})
    assert profile["prepare"]["tokenizer"] == "bpe"
    train_tokenizer.run(build_config(train_tokenizer.TokenizerConfig, profile["tokenizer"]), paths)
    got = prepare_data.run(build_config(prepare_data.PrepareConfig, profile["prepare"]), paths)
    assert got["docs"] > 6 * 12  # one example per assistant turn
    again = import_text.run(build_config(import_text.ImportConfig, {**profile["import"], "demo_chat_users": 6}),
                            paths)
    assert again == {"added": 0, "unchanged": 6, "skipped": 0}
    # run.py plans the tokenizer right before prepare for this profile
    from run import run_pipeline
    assert run_pipeline(["--config", str(REPO_ROOT / "profiles" / "chat.yaml"), "--dataset-dir", str(tmp_path / "x"),
                         "--dry-run"]) == 0
    assert "clean -> tokenizer -> prepare -> train" in capsys.readouterr().out
