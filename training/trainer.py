"""The Trainer of `training/train.py`: set up (fresh or resumed), one optimizer step, evaluation, checkpoint.

Bit-for-bit resume rests on four things: checkpoints are taken only between optimizer steps; they carry every
RNG state (torch, the batch sampler's generator, CUDA, numpy, Python) and the AdamW state; the batch sampler is
a seeded torch.Generator over the memory-mapped tokens (nothing depends on wall time or file order); the learning
rate is a pure function of the step. Evaluation uses its own fixed windows and never touches those generators.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path

import torch

from common.config import UserError, config_dict
from common.paths import DatasetPaths
from model.checkpoint import (BEST, LAST, checkpoint_rng, link_best, load_checkpoint, model_state_dict,
                                 restore_optimizer, save_checkpoint)
from model.checkpoint_check import (check_aliases, check_run_state, check_shapes, check_weight_count,
                                       saved_model_config)
from model.token_files import load_meta, load_tokenizer, open_tokens
from model.gpt import estimate_memory_mb
from training.config import TrainConfig, model_config, padded_vocab
from training.metrics import METRICS, PLOT, trim_metrics
from training.resume import (check_resume_shape, check_tokenizer_growth, python_numpy_rng, seed_all,
                             set_python_numpy_rng)
from training.runtime import (DTYPES, Dist, autocast_dtype, check_memory, configure_backends, current_rss_mb,
                              default_max_ram_mb, default_threads, pick_device, set_malloc_mmap_threshold)
from training.chat_rows import chat_rows, eval_picks, find_chat_examples, recall_examples, sample_chat_rows
from training.copy_rows import with_copy_rows
from training.memory_batches import load_memory_examples, mask_prefix_targets, sample_mixed
from training.recall_weights import common_tokens, recall_weights, weighted_loss
from training.summary_write_rows import with_write_rows
from training.step import EVAL_SEED_OFFSET, build_model, eval_starts, lr_at, make_optimizer, to_device

log = logging.getLogger("miniature_memory.train")


class Trainer:
    """One training run's state: everything is set up in __init__ from a config that `training.config.check_config`
    has accepted; `training.loop.run_loop` drives it."""

    def __init__(self, cfg: TrainConfig, paths: DatasetPaths, out_dir: Path, dist: Dist):
        self.cfg, self.dist, self.out_dir = cfg, dist, out_dir
        set_malloc_mmap_threshold(cfg.malloc_mmap_mb)
        self.threads = cfg.threads or default_threads()
        torch.set_num_threads(self.threads)
        self.device = pick_device(cfg.device, dist)
        configure_backends(self.device)
        self.amp_dtype = autocast_dtype(cfg.dtype, self.device)
        self.meta = load_meta(paths.processed)
        self.data = {s: open_tokens(paths.processed, s, self.meta) for s in ("train", "val")}
        if len(self.data["train"]) < cfg.block_size + 1:
            raise UserError(f"only {len(self.data['train']):,} training tokens, fewer than block_size + 1 = "
                            f"{cfg.block_size + 1}: add data or lower block_size")
        self.memory = load_memory_examples(paths.processed, self.meta, "train", cfg.block_size) \
            if cfg.memory_ratio > 0 else None
        if cfg.summary_write_ratio > 0 and self.memory is not None and self.memory.settings["focus"] != "none":
            # with focus the next summary shown also depends on the window, which a writing row does not hold
            raise UserError("summary_write_ratio > 0 learns to write the summary as kept: run the memory step "
                            "with focus: none")
        weigh = (self.memory is not None and cfg.memory_recall_weight != 1) or \
            (cfg.chat_ratio > 0 and cfg.chat_recall_weight != 1)
        self.common = common_tokens(self.data["train"]) if weigh else None
        self.chat = {s: find_chat_examples(d, cfg.block_size) for s, d in self.data.items()} \
            if cfg.chat_ratio > 0 else None
        if self.chat is not None and not len(self.chat["train"]):
            raise UserError(f"chat_ratio > 0 needs chat examples of at most block_size + 1 = {cfg.block_size + 1} "
                            f"tokens: prepare with format: chat and chat_block_size = block_size")
        if self.chat is not None:
            train_ex = self.chat["train"]
            train_ex.recalls = recall_examples(self.data["train"], train_ex,
                                               load_tokenizer(paths.processed, self.meta).decode)
            log.info(f"train: {len(train_ex):,} chat examples, {len(train_ex.recalls):,} of them answer from "
                     f"their memory block (half the chat rows are drawn among those)")
        self.last, self.best = out_dir / LAST, out_dir / BEST
        self.metrics_path = out_dir / METRICS
        if cfg.init == "scratch" and dist.is_main:
            for p in (self.last, self.best, self.metrics_path, out_dir / PLOT):
                if p.exists():
                    log.info(f"train: --init scratch: removing {p}")
                    p.unlink()
        if dist.is_main and out_dir.is_dir():
            for tmp in out_dir.glob(".*.tmp"):  # left by a run killed while writing a checkpoint or plot
                tmp.unlink(missing_ok=True)
        ckpt = load_checkpoint(self.last) if cfg.init == "resume" and self.last.is_file() else None
        self._setup_model(ckpt)
        del ckpt  # drops the memory-mapped checkpoint before training allocates activations

    # ------------------------------------------------------------------------------------------- setup
    def _setup_model(self, ckpt) -> None:
        cfg, dist = self.cfg, self.dist
        data_vocab = self.meta["vocab_size"]
        self.new_ids, self.data_changed = 0, False
        if ckpt is not None:
            # the stored state is checked against the stored tensors before any memory is spent on it
            st = ckpt.state
            check_run_state(st, ckpt.path)
            saved = saved_model_config(st, ckpt.path)
            shapes = {k[len("model/"):]: tuple(t.shape) for k, t in ckpt.tensors.items() if k.startswith("model/")}
            aliases = check_aliases(st, set(shapes), ckpt.path)
            check_weight_count(saved, shapes, ckpt.path)
            model_vocab = saved.vocab_size
            mcfg = model_config(cfg, model_vocab)
            check_resume_shape(saved.to_dict(), mcfg, ckpt.path)
            self.new_ids = check_tokenizer_growth(st["tokenizer"], self.meta["tokenizer"])
            self.data_changed = st["data"].get("fingerprint") != self.meta.get("fingerprint")
        else:
            st, model_vocab = {}, padded_vocab(data_vocab, cfg.vocab_multiple)
            mcfg = model_config(cfg, model_vocab)
        final_vocab = max(model_vocab, padded_vocab(data_vocab, cfg.vocab_multiple))
        self.estimate = estimate_memory_mb(model_config(cfg, final_vocab), cfg.batch_size)
        self.baseline_mb = current_rss_mb()
        self._memory_guard()

        model = build_model(mcfg, cfg.seed)
        if ckpt is not None:
            check_shapes({k: tuple(v.shape) for k, v in model.state_dict().items()}, shapes, aliases, ckpt.path)
            model.load_state_dict(model_state_dict(ckpt))
        if final_vocab > model_vocab:
            model.resize_vocab(final_vocab, seed=cfg.seed)
            log.info(f"train: vocabulary grew {model_vocab:,} -> {final_vocab:,} ids: new embedding rows added, "
                     f"old rows kept")
        self.model = model.to(device=self.device)
        if cfg.param_dtype != "float32":  # parameters only: the rotary tables stay float32
            for p in self.model.parameters():
                p.data = p.data.to(DTYPES[cfg.param_dtype])
        self.named_params = dict(self.model.named_parameters())
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        use_scaler = self.device.type == "cuda" and self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.gen = torch.Generator().manual_seed(cfg.seed * 1_000 + 17 + dist.rank)  # batch sampler
        seed_all(cfg.seed + dist.rank)  # dropout and anything else drawing from the global generators
        self.step = int(st.get("step", 0))
        self.tokens_seen = int(st.get("tokens_seen", 0))
        self.elapsed_s = float(st.get("elapsed_s", 0.0))
        self.best_loss = st.get("best_loss")
        self.best_step = st.get("best_step")
        self.resumed = ckpt is not None
        self.saved_step = self.step if ckpt is not None else None  # the step of the checkpoint on disk
        if ckpt is not None:
            restore_optimizer(self.optimizer, self.named_params, ckpt)
            if use_scaler and st.get("scaler"):
                self.scaler.load_state_dict(st["scaler"])
            self._restore_rng(ckpt)
            if dist.is_main:
                trim_metrics(self.metrics_path, self.step)

        self.fwd_model = torch.compile(self.model) if cfg.compile else self.model
        self.train_model = self.fwd_model
        if dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DDP(self.fwd_model, device_ids=ids)

    def _memory_guard(self) -> None:
        est, cfg = self.estimate, self.cfg
        if self.device.type == "cpu":
            limit = cfg.max_ram_mb or default_max_ram_mb()
            self.est_total = check_memory(est, self.baseline_mb, limit, explicit=bool(cfg.max_ram_mb))
            self.limit_mb = limit
        else:
            self.est_total, self.limit_mb = est["total"] + self.baseline_mb, None  # device memory: no factor
            if self.device.type == "cuda":
                free, _ = torch.cuda.mem_get_info(self.device)
                if est["total"] > free / 2**20:  # fp32 estimate: autocast and grad_checkpoint use less, so warn only
                    log.warning(f"train: the float32 estimate ({est['total']:,.0f} MB) exceeds the GPU's free "
                                f"memory ({free / 2**20:,.0f} MB); lower batch_size if it runs out")

    def _restore_rng(self, ckpt) -> None:
        try:
            self._set_rng(ckpt)
        except (RuntimeError, ValueError, TypeError, KeyError, IndexError) as e:
            raise UserError(f"{ckpt.path}: its saved random-generator state is damaged "
                            f"({type(e).__name__}: {' '.join(str(e).split())[:200]})") from None

    def _set_rng(self, ckpt) -> None:
        rank = self.dist.rank
        saved_torch, saved_batch = checkpoint_rng(ckpt, "torch", rank), checkpoint_rng(ckpt, "batch", rank)
        if saved_torch is None or saved_batch is None:
            log.warning(f"train: the checkpoint has no RNG state for rank {rank} (saved by "
                        f"{ckpt.state.get('world_size')} processes): this rank re-seeds, so the run is not "
                        f"bit-identical to an uninterrupted one")
            self.gen.manual_seed(self.cfg.seed * 1_000 + 17 + rank + 7919 * self.step)
            return
        torch.set_rng_state(saved_torch)
        self.gen.set_state(saved_batch)
        saved_cuda = checkpoint_rng(ckpt, "cuda", rank)
        if self.device.type == "cuda" and saved_cuda is not None:
            torch.cuda.set_rng_state(saved_cuda, self.device)
        set_python_numpy_rng(ckpt.state["rng"])
        if ckpt.state.get("threads") != self.threads and self.dist.is_main:
            log.warning(f"train: the checkpoint was written with {ckpt.state.get('threads')} threads, this run "
                        f"uses {self.threads}: results may differ in the last bits from an uninterrupted run")

    # ------------------------------------------------------------------------------------------- pieces
    def autocast(self):
        if self.amp_dtype == torch.float32:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    @property
    def tokens_per_step(self) -> int:
        c = self.cfg
        return c.batch_size * c.grad_accum * c.block_size * self.dist.world

    def train_step(self) -> float:
        """One optimizer step over grad_accum micro-batches; returns the mean micro-batch loss."""
        cfg, model = self.cfg, self.train_model
        model.train()
        total = 0.0
        for micro in range(cfg.grad_accum):
            rows, prefix_lens, ends = self.sample_batch()
            weights = recall_weights(rows, prefix_lens, cfg.memory_recall_weight, self.common,
                                     cfg.chat_recall_weight) if self.common is not None else None
            x, y = to_device(rows, self.device)
            y = mask_prefix_targets(y, prefix_lens, ends)
            last = micro == cfg.grad_accum - 1
            sync = nullcontext() if last or self.dist.world == 1 else model.no_sync()
            with sync:
                with self.autocast():
                    if weights is None:
                        _, loss = model(x, y)
                    else:
                        loss = weighted_loss(model(x)[0], y, weights)
                self.scaler.scale(loss / cfg.grad_accum).backward()
            total += loss.item()
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        lr = self.lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return total / cfg.grad_accum

    def sample_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One micro-batch: (rows [batch, block + 1], prefix lengths, ends) for mask_prefix_targets. Chat rows come
        first, then memory examples, then plain windows; the copy warm-up replaces the last half of the rows."""
        cfg, n, block, data = self.cfg, self.cfg.batch_size, self.cfg.block_size, self.data["train"]
        k = round(cfg.chat_ratio * n) if self.chat is not None else 0
        parts = [sample_chat_rows(data, self.chat["train"], k, block, self.gen)] if k else []
        if n - k:
            rows, prefix_lens = sample_mixed(data, self.memory, n - k, block, cfg.memory_ratio, self.gen)
            parts.append((rows, prefix_lens, torch.full((n - k,), block, dtype=torch.long)))
        rows, prefix_lens, ends = (torch.cat(t) for t in zip(*parts))
        if self.step < cfg.copy_warmup_iters:
            rows, prefix_lens = with_copy_rows(rows, prefix_lens, data, block, self.gen)
            ends = ends.clone()
            ends[n - n // 2:] = block  # the copy rows (the last half) learn every target
        if cfg.summary_write_ratio > 0 and self.memory is not None:
            rows, prefix_lens, ends = with_write_rows(rows, prefix_lens, ends, self.memory, self.memory.pairs,
                                                      data, block, cfg.summary_write_ratio, self.gen)
        return rows, prefix_lens, ends

    def lr(self) -> float:
        c = self.cfg
        return lr_at(self.step, c.lr, c.min_lr, c.warmup_iters, c.lr_decay_iters or c.max_iters)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Mean loss over the fixed evaluation windows of each split (None for a split shorter than a window);
        the windows are shared out among DDP ranks and the sums all-reduced."""
        cfg, out = self.cfg, {}
        self.fwd_model.eval()
        for split, data in self.data.items():
            if self.chat is not None:
                out[split] = self._chat_loss(split)
                continue
            if len(data) < cfg.block_size + 1:
                out[split] = None
                continue
            starts = eval_starts(len(data), cfg.eval_iters, cfg.batch_size, cfg.block_size,
                                 cfg.seed + EVAL_SEED_OFFSET)
            acc = torch.zeros(2, dtype=torch.float64)
            for i in range(self.dist.rank, cfg.eval_iters, self.dist.world):
                rows = torch.stack([torch.from_numpy(data[s: s + cfg.block_size + 1].astype("int64"))
                                    for s in starts[i].tolist()])
                x, y = to_device(rows, self.device)
                with self.autocast():
                    _, loss = self.fwd_model(x, y)
                acc += torch.tensor([loss.item(), 1.0], dtype=torch.float64)
            if self.dist.world > 1:
                acc = self._all_reduce(acc)
            out[split] = float(acc[0] / acc[1])
        return out

    def _chat_loss(self, split: str) -> float | None:
        """Mean reply loss over a fixed sample of the split's chat examples (the objective chat rows train)."""
        cfg, examples = self.cfg, self.chat[split]
        if not len(examples):
            return None
        picks = eval_picks(len(examples), cfg.eval_iters * cfg.batch_size, cfg.seed + EVAL_SEED_OFFSET)
        acc = torch.zeros(2, dtype=torch.float64)
        for i in range(self.dist.rank, cfg.eval_iters, self.dist.world):
            rows, prefix_lens, ends = chat_rows(self.data[split], examples,
                                                picks[i * cfg.batch_size: (i + 1) * cfg.batch_size], cfg.block_size)
            x, y = to_device(rows, self.device)
            with self.autocast():
                _, loss = self.fwd_model(x, mask_prefix_targets(y, prefix_lens, ends))
            acc += torch.tensor([loss.item(), 1.0], dtype=torch.float64)
        if self.dist.world > 1:
            acc = self._all_reduce(acc)
        return float(acc[0] / acc[1])

    def _all_reduce(self, t: torch.Tensor, op=None) -> torch.Tensor:
        import torch.distributed as tdist
        dev = self.device if self.device.type == "cuda" else torch.device("cpu")
        t = t.to(dev)
        tdist.all_reduce(t, op=op or tdist.ReduceOp.SUM)
        return t.cpu()

    def rng_tensors(self) -> dict[str, torch.Tensor]:
        """Every rank's generator states, stacked [world, n] (a collective: all ranks call it)."""
        local = {"torch": torch.get_rng_state(), "batch": self.gen.get_state()}
        if self.device.type == "cuda":
            local["cuda"] = torch.cuda.get_rng_state(self.device)
        if self.dist.world == 1:
            return {k: v.unsqueeze(0) for k, v in local.items()}
        import torch.distributed as tdist
        gathered: list = [None] * self.dist.world
        tdist.all_gather_object(gathered, local)
        return {k: torch.stack([g[k] for g in gathered]) for k in local}

    def diverged(self, what: str, value) -> UserError:
        """The one-line error that stops a run whose loss or weights are no longer finite: nothing more is
        saved, so the last checkpoint (all finite) stays as it was."""
        kept = f"{self.last} (step {self.saved_step:,}) is kept" if self.saved_step is not None else \
            "no checkpoint was written"
        return UserError(f"the {what} became {value} at step {self.step:,} (lr {self.lr():.3g}): training "
                         f"stopped without saving; {kept}: lower lr (or raise warmup_iters) and re-run")

    def save(self, best: bool) -> None:
        """Write the last checkpoint (and point best at it); every rank calls this, rank 0 writes. Weights that
        are not all finite are never written: the run stops with a UserError and the last checkpoint stays."""
        bad = next((n for n, p in self.named_params.items() if not bool(torch.isfinite(p).all())), None)
        if bad is not None:  # (DDP ranks hold the same weights, so every rank stops here together)
            raise self.diverged(f"weight {bad!r}", "not finite")
        rng = self.rng_tensors()
        if not self.dist.is_main:
            return
        state = {"step": self.step, "tokens_seen": self.tokens_seen, "elapsed_s": round(self.elapsed_s, 3),
                 "best_loss": self.best_loss, "best_step": self.best_step, "lr": self.lr(),
                 "config": config_dict(self.cfg), "model_config": self.model.cfg.to_dict(),
                 "tokenizer": self.meta["tokenizer"], "data_vocab_size": self.meta["vocab_size"],
                 "data": {"fingerprint": self.meta.get("fingerprint"),
                          "inputs_fingerprint": self.meta.get("inputs_fingerprint"),
                          "train_tokens": len(self.data["train"]), "val_tokens": len(self.data["val"])},
                 "memory": dict(self.memory.settings, ratio=self.cfg.memory_ratio,
                                  write_ratio=self.cfg.summary_write_ratio) if self.memory else None,
                 "chat": self.meta.get("chat"),  # the chat example settings (prepare --format chat), or None
                 "world_size": self.dist.world, "threads": self.threads, "rng": python_numpy_rng(),
                 "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
                 "torch_version": torch.__version__}
        save_checkpoint(self.last, self.model, self.optimizer, self.named_params, rng, state)
        self.saved_step = self.step
        if best:
            link_best(self.last, self.best)
