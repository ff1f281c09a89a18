"""Benchmark of the chat assistant's memory: does it recall what it was told sessions ago?

1. Recall of planted facts (in the manner of the DMR and LongMemEval tests): for each probe a held-out generated
   user (demo/dialogues.py: `planted_fact_probe`, users from index 100,000, never trained on) tells one fact in
   session 1, chats about other things for k - 1 sessions, and asks for it in session k + 1. The reply counts
   when it contains the fact. With memory: every session is stored and summarized as in live chat, and the
   question is answered through the orchestrator (assistant/orchestrator.py). Without memory: the same
   question in a fresh store (only the current session's recent turns, which hold nothing of the fact).
   Also printed: how often the fact was in the prompt at all (retrieval), which bounds recall.
2. The users' own questions, asked in the flow of their conversations: held-out generated users (demo/dialogues.py:
   `generate_conversation`) live their 12 sessions through the orchestrator; every question about a fact told
   in an earlier session is answered by the model (its reply is stored, as in live chat) and counts when it
   contains the current value. Printed apart: the questions asked after the fact was corrected ("we moved to
   Dewholt"), answered with the new value or with the old one, and the questions about facts never told, which
   should get "I don't know".
3. Latency of a reply of up to 40 tokens (p50, p95; 1 thread, fp32) with a store of a few sessions.
4. Retrieval time and database size with 1k, 10k and 100k stored messages (generated transcripts), with the
   checkpoint's retrieval settings (its term links) when a checkpoint is loaded.

**Usage:**
    python bench/chat.py --checkpoint training/out/chat
    python bench/chat.py --checkpoint training/out/chat --probes 40 --distances 2 5 10 20 --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from assistant.embedding import embed_pending, model_embedder
from assistant.orchestrator import Assistant, ChatSettings, close_session, settings_for
from assistant.retrieval import RetrievalConfig, retrieve
from assistant.store import MemoryStore
from bench.conditions import format_conditions, measure_conditions
from demo.dialogues import UNKNOWN_MARK, generate_conversation, planted_fact_probe
from generation.inference import find_checkpoint, load_model

HELD_OUT = 100_000  # probe users start here: the chat profile trains on users 0..demo_chat_users-1


def store_sessions(store: MemoryStore, sessions) -> None:
    """Store each session's turns as live chat would have, then close (summarize) it."""
    for s in sessions:
        sid = store.new_session()
        for t in s.turns:
            store.add_message(sid, t.role, t.content)
        close_session(store, sid)


def recall(bot: Assistant, n: int, k: int, seed: int) -> dict:
    hits = {"with_memory": 0, "without_memory": 0, "in_prompt": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            sessions, question, answer, _ = planted_fact_probe(HELD_OUT + i, seed, k)
            with MemoryStore(Path(tmp) / f"m{k}_{i}.db") as store:
                store_sessions(store, sessions)
                if bot.embedder is not None:  # every stored message, as a long-running chat would have them
                    embed_pending(store, bot.embedder, limit=1 << 30)
                sid = store.new_session()
                hits["in_prompt"] += answer.lower() in bot.prompt_for(store, sid, question).lower()
                reply = "".join(bot.respond(store, sid, question))
                hits["with_memory"] += answer.lower() in reply.lower()
            with MemoryStore(Path(tmp) / f"f{k}_{i}.db") as fresh:
                reply = "".join(bot.respond(fresh, fresh.new_session(), question))
                hits["without_memory"] += answer.lower() in reply.lower()
    return {key: round(v / n, 3) for key, v in hits.items()} | {"probes": n}


def own_questions(bot: Assistant, n_users: int, seed: int) -> dict:
    """Replay held-out users' conversations; the model answers every question about an earlier session's fact
    (or a fact never told). Other turns are stored as the generator wrote them."""
    counts = dict.fromkeys(("asked", "right", "after_correction", "corrected_right", "corrected_old",
                            "never_told", "never_told_right"), 0)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n_users):
            conv = generate_conversation(HELD_OUT + i, seed)
            ask_at = {(q.session, q.turn): q for q in conv.questions if q.told_in < q.session}
            with MemoryStore(Path(tmp) / f"u{i}.db") as store:
                for s in conv.sessions:
                    sid = store.new_session()
                    for at in range(0, len(s.turns), 2):
                        q = ask_at.get((s.index, at))
                        if q is None:
                            store.add_message(sid, "user", s.turns[at].content)
                            store.add_message(sid, "assistant", s.turns[at + 1].content)
                            continue
                        reply = "".join(bot.respond(store, sid, s.turns[at].content)).lower()
                        if not q.answer:
                            counts["never_told"] += 1
                            counts["never_told_right"] += UNKNOWN_MARK in reply
                            continue
                        right = q.answer.lower() in reply
                        counts["asked"] += 1
                        counts["right"] += right
                        if q.replaced:
                            counts["after_correction"] += 1
                            counts["corrected_right"] += right
                            counts["corrected_old"] += not right and q.replaced.lower() in reply
                    close_session(store, sid)

    def share(part: str, whole: str) -> float:
        return round(counts[part] / counts[whole], 3) if counts[whole] else 0.0
    return counts | {"users": n_users, "recall": share("right", "asked"),
                     "corrected_recall": share("corrected_right", "after_correction"),
                     "corrected_old_share": share("corrected_old", "after_correction"),
                     "never_told_recall": share("never_told_right", "never_told")}


def latency(bot: Assistant, n: int, seed: int) -> dict:
    times = []
    with tempfile.TemporaryDirectory() as tmp, MemoryStore(Path(tmp) / "lat.db") as store:
        sessions, question, _, _ = planted_fact_probe(HELD_OUT, seed, 3)
        store_sessions(store, sessions)
        sid = store.new_session()
        for _ in range(n):
            t0 = time.perf_counter()
            "".join(bot.respond(store, sid, question, max_new_tokens=40))
            times.append(time.perf_counter() - t0)
    times.sort()
    return {"p50_s": round(statistics.median(times), 3), "p95_s": round(times[int(0.95 * (len(times) - 1))], 3),
            "replies": n}


def retrieval_scale(sizes: list[int], queries: int, seed: int, embedder=None, width: int = 0,
                    cfg: RetrievalConfig = RetrievalConfig()) -> dict:
    """Retrieval time per query and database size as the store grows. With `embedder`, every message also gets
    a random unit vector of `width` floats (the time of a cosine search does not depend on what the vectors
    hold; embedding 100k messages with the model would take minutes) and queries go through it, so the time
    includes embedding the query and the dense ranking."""
    out = {}
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.db"
        with MemoryStore(path) as store:
            stored, user = 0, 0
            for size in sorted(sizes):
                while stored < size:
                    conv = generate_conversation(user, seed)
                    user += 1
                    with store.transaction():  # one commit per transcript: filling 100k messages takes seconds
                        for s in conv.sessions:
                            sid = store.new_session()
                            for t in s.turns:
                                store.add_message(sid, t.role, t.content)
                                stored += 1
                if embedder is not None:
                    for batch in iter(lambda: store.unembedded(5000), []):
                        vectors = rng.standard_normal((len(batch), width)).astype(np.float32)
                        store.set_embeddings([(m.id, v.tobytes()) for m, v in zip(batch, vectors)])
                    retrieve(store, "warm up", sid, cfg, embedder)  # the first query loads the vectors
                probes = [planted_fact_probe(HELD_OUT + q, seed, 2)[1] for q in range(queries)]
                t0 = time.perf_counter()
                for q in probes:
                    retrieve(store, q, sid, cfg, embedder)
                ms = (time.perf_counter() - t0) / queries * 1000
                store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                mb = path.stat().st_size / 2**20
                out[str(size)] = {"messages": stored, "retrieve_ms": round(ms, 2),
                                  "db_mb": round(mb, 2), "db_kb_per_1k_messages": round(mb * 1024 / stored * 1000, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/chat.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="", help="the chat model (run folder or file; default: newest)")
    p.add_argument("--probes", type=int, default=30, help="probes per distance")
    p.add_argument("--distances", type=int, nargs="*", default=[2, 5, 10, 20], help="sessions between")
    p.add_argument("--sizes", type=int, nargs="*", default=[1000, 10_000, 100_000], help="stored messages")
    p.add_argument("--users", type=int, default=60, help="held-out users whose own questions are answered")
    p.add_argument("--latency-replies", type=int, default=20)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--memory-tokens", type=int, default=0, help="memory block budget (0 = the checkpoint's)")
    p.add_argument("--copy-weight", type=float, default=None, help="copy completion's logit bonus (default: chat's "
                   f"own, {ChatSettings.copy_weight}; 0 = off: the model's replies alone)")
    p.add_argument("--dense", action="store_true", help="also measure with dense vectors from the model fused into "
                   "retrieval (assistant/embedding.py): recall and retrieval time, beside BM25 alone")
    p.add_argument("--skip", nargs="*", default=[], choices=["recall", "questions", "latency", "retrieval"])
    p.add_argument("--json", default="")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    threadpool_limits(1, user_api="blas")  # the float32 decoding step multiplies in numpy's BLAS
    cond = measure_conditions(dtype="fp32", threads=1)
    print(format_conditions(cond))
    report: dict = {"conditions": cond}
    lm = None  # loaded once, for replies and for dense vectors
    replies = {"recall", "questions", "latency"}
    if not replies <= set(args.skip) or (args.dense and "retrieval" not in args.skip):
        ck = find_checkpoint(args.checkpoint)
        lm = load_model(ck)
    if not replies <= set(args.skip):
        over = {"memory_tokens": args.memory_tokens} if args.memory_tokens else {}
        if args.copy_weight is not None:
            over["copy_weight"] = args.copy_weight
        bot = Assistant(lm, settings_for(lm, max_new_tokens=40, **over))
        report["checkpoint"] = str(ck)
        report["copy_weight"] = bot.settings.copy_weight
        print(f"\nmodel: {ck} (block {bot.block_size}); copy completion weight {bot.settings.copy_weight}")
        if "recall" not in args.skip:
            bots = [("recall", "", bot)]
            if args.dense:
                bots.append(("recall_dense", " (BM25 + dense vectors)", Assistant(lm, bot.settings,
                                                                                   model_embedder(lm))))
            for key, label, b in bots:
                report[key] = {}
                for k in args.distances:
                    r = recall(b, args.probes, k, args.seed)
                    report[key][str(k)] = r
                    print(f"recall{label}, fact told {k} sessions before the question ({r['probes']} probes): with "
                          f"memory {r['with_memory']}, without {r['without_memory']}; fact in the prompt "
                          f"{r['in_prompt']}")
        if "questions" not in args.skip:
            r = report["questions"] = own_questions(bot, args.users, args.seed)
            print(f"the users' own questions about earlier sessions ({r['users']} users): {r['right']} of "
                  f"{r['asked']} answered with the fact ({r['recall']}); after a correction {r['corrected_right']} "
                  f"of {r['after_correction']} ({r['corrected_recall']}), with the old value "
                  f"{r['corrected_old']} ({r['corrected_old_share']}); facts never told: {r['never_told_right']} "
                  f"of {r['never_told']} answered \"{UNKNOWN_MARK}\" ({r['never_told_recall']})")
        if "latency" not in args.skip:
            report["latency"] = latency(bot, args.latency_replies, args.seed)
            print(f"latency of a reply of up to 40 tokens: p50 {report['latency']['p50_s']} s, "
                  f"p95 {report['latency']['p95_s']} s")
    if "retrieval" not in args.skip:
        runs = [("retrieval", "", None, 0)]
        if args.dense:
            runs.append(("retrieval_dense", " (BM25 + dense vectors)", model_embedder(lm), lm.model.cfg.n_embd))
        # the checkpoint's own retrieval settings (its term links) when one is loaded
        cfg = settings_for(lm).retrieval if lm is not None else RetrievalConfig()
        if cfg.links:
            runs = [(key, label + f" (with the checkpoint's term links for {len(cfg.links)} words)", e, w)
                    for key, label, e, w in runs]
        for key, label, embedder, width in runs:
            report[key] = retrieval_scale(args.sizes, 50, args.seed, embedder, width, cfg)
            for size, r in report[key].items():
                print(f"retrieval{label} with {r['messages']:,} messages stored: {r['retrieve_ms']} ms per message; "
                      f"database {r['db_mb']} MB ({r['db_kb_per_1k_messages']} KB per 1,000 messages)")
    print("\ntargets (issue 13): recall with memory >= 0.9 at 20 sessions, without memory near 0; retrieval "
          "< 50 ms at 100k messages; corrections win (the answer after a correction is the new value)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
