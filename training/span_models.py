"""Who-is-the-source taggers: spans inside one sentence, as (start, end) offsets into it.

- `rules` (the floor): a cue lexicon (speech and cognition verbs, "according to", "selon", "a
  déclaré", ...) and the nearest noun phrase or pronoun before the cue, or after it when the
  clause is inverted ("..., said the minister", "a affirmé le général X").
- `crf`: a linear-chain CRF (python-crfsuite) over word and punctuation tokens, BIO tags, with word
  shape, affixes, neighbours, the cue lexicon and the cue prior learnt from the training spans'
  context, distance to the nearest cue, quotation state and position features.
- `e5`: a token-classification fine-tune of multilingual-e5-small (training/span_e5.py).
Each has `fit(sentences)`, `predict(texts, langs)`, `save(dir)`, and `load_span_model(dir)` reads
any of them back (`srcrel_span.json` names the kind)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from srcrel_core.errors import InputError

__all__ = ["CrfSpanTagger", "RuleSpanTagger", "SpanSentence", "SpanTagger", "load_span_model", "tokenize"]

SpanSentence = tuple[str, str, list[tuple[int, int]]]  # text, lang, source spans (sentence offsets)
TOKEN = re.compile(r"\w+|[^\w\s]")
CUES = frozenset(["said", "says", "say", "saying", "told", "tells", "tell", "added", "adds", "wrote", "writes", "asked", "asks", "noted", "notes", "reported", "reports", "announced", "announces", "suggested", "suggests", "argued", "argues", "claimed", "claims", "explained", "explains", "stated", "states", "insisted", "insists", "warned", "warns", "tweeted", "tweets", "declared", "declares", "acknowledged", "admitted", "admits", "denied", "denies", "believes", "believed", "thinks", "thought", "recalled", "recalls", "responded", "replied", "urged", "concluded", "contends", "contended", "predicted", "testified", "confirmed", "confirms", "estimated", "observed", "emphasized", "stressed", "maintained", "alleged", "complained", "according", "déclaré", "affirmé", "annoncé", "expliqué", "indiqué", "estimé", "assuré", "ajouté", "précisé", "souligné", "rappelé", "dénoncé", "reconnu", "lancé", "raconte", "martelé", "réagi", "justifié", "accuse", "affirme", "estime", "assure", "explique", "indique", "déclare", "annonce", "ajoute", "précise", "souligne", "selon", "dit", "dire", "répond", "répondu", "confié", "regrette", "regretté", "jugé", "juge", "averti", "prévenu"])
_PRONOUNS = frozenset(["he", "she", "they", "i", "we", "it", "who", "il", "elle", "ils", "elles", "on", "nous", "je"])
_STOP = frozenset(["that", "and", "but", "or", "when", "as", "because", "if", "while", "after", "before", "since", "than", "so", "although", "though", "whether", "where", "what", "que", "qui", "et", "mais", "ou", "quand", "comme", "parce", "si"])
_SKIP = frozenset(["also", "has", "have", "had", "has", "been", "would", "will", "could", "may", "might", "just", "even", "reportedly", "publicly", "later", "then", "a", "ont", "avait", "aurait", "ne", "pas", "lui", "leur", "s'", "se"])
_OPEN, _CLOSE = frozenset("“«"), frozenset("”»")


def tokenize(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in TOKEN.finditer(text)]


def _runs(tokens: list[tuple[int, int]], tags: Sequence[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    current: list[int] | None = None
    for (a, b), tag in zip(tokens, tags):
        if tag == "B" or (tag == "I" and current is None):
            if current:
                spans.append((current[0], current[1]))
            current = [a, b]
        elif tag == "I" and current is not None:
            current[1] = b
        else:
            if current:
                spans.append((current[0], current[1]))
            current = None
    if current:
        spans.append((current[0], current[1]))
    return spans


def _bio(tokens: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[str]:
    tags = ["O"] * len(tokens)
    for start, end in sorted(spans):
        first = True
        for i, (a, b) in enumerate(tokens):
            if a < end and b > start:
                tags[i] = "B" if first else "I"
                first = False
    return tags


class SpanTagger(Protocol):
    kind: str

    def fit(self, train: list[SpanSentence], validation: list[SpanSentence] | None = None) -> Any: ...

    def predict(self, texts: Sequence[str], langs: Sequence[str]) -> list[list[tuple[int, int]]]: ...

    def save(self, directory: Path) -> None: ...


class RuleSpanTagger:
    """The floor: nothing learnt; the lexicon and the nearest noun phrase or pronoun."""

    kind = "rules"

    def fit(self, train: list[SpanSentence], validation: list[SpanSentence] | None = None) -> RuleSpanTagger:
        return self

    def predict(self, texts: Sequence[str], langs: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [self._sentence(text) for text in texts]

    @staticmethod
    def _sentence(text: str) -> list[tuple[int, int]]:
        tokens = tokenize(text)
        low = [text[a:b].lower() for a, b in tokens]
        words = [text[a:b] for a, b in tokens]
        spans = []
        for i, word in enumerate(low):
            if word not in CUES:
                continue
            if word in ("according", "selon"):  # the source follows: "according to X", "selon X"
                j = i + (2 if word == "according" else 1)
                k = j
                while k < len(low) and low[k][0].isalnum() and low[k] not in _STOP and k - j < 8:
                    k += 1
                if k > j:
                    spans.append((tokens[j][0], tokens[k - 1][1]))
                continue
            j = i - 1
            while j >= 0 and (low[j] in _SKIP or low[j].endswith("ly")):
                j -= 1
            if j >= 0 and low[j][0].isalnum() and low[j] not in _STOP:  # "X said": the phrase before
                k = j
                while k > 0 and low[k - 1][0].isalnum() and low[k - 1] not in _STOP and j - k < 5 \
                        and low[j] not in _PRONOUNS:
                    k -= 1
                while k < j and not (words[k][:1].isupper() or low[k] in ("the", "le", "la", "les", "l")):
                    k += 1
                spans.append((tokens[k][0], tokens[j][1]))
                continue
            j = i + 1  # inverted: "..., said the minister", "a affirmé le général X", "a-t-il lancé"
            while j < len(low) and low[j] in ("-", "t"):
                j += 1
            k = j
            while k < len(low) and low[k][0].isalnum() and low[k] not in _STOP and k - j < 6:
                k += 1
            if k > j:
                spans.append((tokens[j][0], tokens[k - 1][1]))
        return spans

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "srcrel_span.json").write_bytes(orjson.dumps({"kind": self.kind}))


def _shape(word: str) -> str:
    shape = re.sub(r"[A-ZÀ-Ý]", "X", word)
    shape = re.sub(r"[a-zß-ÿ]", "x", shape)
    return re.sub(r"\d", "d", shape)


def _bucket(value: float | None, cuts: tuple[float, ...]) -> str:
    if value is None:
        return "none"
    return next((str(c) for c in cuts if value <= c), "big")


class CrfSpanTagger:
    """A linear-chain CRF over tokens; `prior` is each word's share of training occurrences that
    sit next to a source (a learnt cue list, multilingual by construction)."""

    kind = "crf"

    def __init__(self, *, c1: float = 0.2, c2: float = 0.005, max_iterations: int = 300, window: int = 2) -> None:
        self.c1, self.c2, self.max_iterations, self.window = c1, c2, max_iterations, window
        self.prior: dict[str, float] = {}
        self.model_path: Path | None = None
        self._tagger: Any = None

    def _features(self, text: str, tokens: list[tuple[int, int]]) -> list[dict[str, Any]]:
        words = [text[a:b] for a, b in tokens]
        low = [w.lower() for w in words]
        cue = [w in CUES or self.prior.get(w, 0.0) >= 0.3 for w in low]
        cue_at = [i for i, c in enumerate(cue) if c]
        quoted, depth, straight = [], 0, 0
        for w in words:
            depth = max(0, depth - 1) if w in _CLOSE else depth
            quoted.append(depth > 0 or straight % 2 == 1)
            depth += w in _OPEN
            straight += w == '"'
        n = len(words)
        rows = []
        for i, (w, lw) in enumerate(zip(words, low)):
            right = next((j - i for j in cue_at if j > i), None)
            left = next((i - j for j in reversed(cue_at) if j < i), None)
            f: dict[str, Any] = {
                "b": 1.0, "l": lw, "sh": re.sub(r"(.)\1+", r"\1", _shape(w)), "shl": _shape(w)[:8], "s3": lw[-3:],
                "s2": lw[-2:], "p3": lw[:3], "title": w.istitle(), "upper": w.isupper() and len(w) > 1,
                "punct": not w[0].isalnum(), "pron": lw in _PRONOUNS, "cue": cue[i], "q": quoted[i],
                "pc": _bucket(self.prior.get(lw, 0.0), (0.0, 0.05, 0.2, 0.5, 0.8)), "first": i == 0,
                "last": i == n - 1, "pos": _bucket(i / max(1, n - 1), (0.1, 0.25, 0.5, 0.75)),
                "dr": _bucket(right, (1, 2, 3, 5, 8, 12)), "dl": _bucket(left, (1, 2, 3, 5, 8, 12)),
                "acc": any(low[k] in ("according", "selon") for k in range(max(0, i - 6), i))}
            if right is not None:
                f["crw"] = low[i + right]
                f["pb_r"] = any(not low[k][0].isalnum() for k in range(i + 1, i + right))
            if left is not None:
                f["clw"] = low[i - left]
                f["pb_l"] = any(not low[k][0].isalnum() for k in range(i - left + 1, i))
            for o in range(-self.window, self.window + 1):
                if o and 0 <= i + o < n:
                    f[f"{o}:l"], f[f"{o}:t"], f[f"{o}:cue"] = low[i + o], words[i + o].istitle(), cue[i + o]
                elif o:
                    f[f"{o}:l"] = "<pad>"
            if i:
                f["bg-"] = f"{low[i - 1]}|{lw}"
            if i < n - 1:
                f["bg+"] = f"{lw}|{low[i + 1]}"
            rows.append(f)
        return rows

    def _learn_prior(self, train: list[SpanSentence]) -> None:
        """A word's share of occurrences right next to a source (the cue side of an attribution)."""
        seen, beside = Counter[str](), Counter[str]()
        for text, _, spans in train:
            tokens = tokenize(text)
            inside = _bio(tokens, spans)
            for i, (a, b) in enumerate(tokens):
                word = text[a:b].lower()
                seen[word] += 1
                near = inside[max(0, i - 2):i] + inside[i + 1:i + 3]
                beside[word] += inside[i] == "O" and any(t != "O" for t in near) and word[0].isalpha()
        self.prior = {w: beside[w] / n for w, n in seen.items() if n >= 3 and beside[w]}

    def fit(self, train: list[SpanSentence], validation: list[SpanSentence] | None = None) -> CrfSpanTagger:
        import tempfile

        import pycrfsuite

        self._learn_prior(train)
        trainer = pycrfsuite.Trainer(verbose=False)
        for text, _, spans in train:
            tokens = tokenize(text)
            if tokens:
                trainer.append(self._features(text, tokens), _bio(tokens, spans))
        trainer.set_params({"c1": self.c1, "c2": self.c2, "max_iterations": self.max_iterations,
                            "feature.possible_transitions": True})
        self.model_path = Path(tempfile.mkdtemp(prefix="srcrel-crf-")) / "span.crfsuite"
        trainer.train(str(self.model_path))
        self._tagger = None
        return self

    def predict(self, texts: Sequence[str], langs: Sequence[str]) -> list[list[tuple[int, int]]]:
        import pycrfsuite

        if self.model_path is None:
            raise InputError("the CRF span tagger is not fitted; train it first")
        if self._tagger is None:
            self._tagger = pycrfsuite.Tagger()
            self._tagger.open(str(self.model_path))
        out = []
        for text in texts:
            tokens = tokenize(text)
            out.append(_runs(tokens, self._tagger.tag(self._features(text, tokens))) if tokens else [])
        return out

    def save(self, directory: Path) -> None:
        import shutil

        directory.mkdir(parents=True, exist_ok=True)
        if self.model_path is None:
            raise InputError("the CRF span tagger is not fitted; train it first")
        shutil.copyfile(self.model_path, directory / "span.crfsuite")
        (directory / "srcrel_span.json").write_bytes(orjson.dumps(
            {"kind": self.kind, "c1": self.c1, "c2": self.c2, "max_iterations": self.max_iterations,
             "window": self.window, "prior": self.prior}))


def load_span_model(directory: str | Path) -> Any:
    """The tagger saved in DIR (a run's model/ folder) by any span model's `save`."""
    directory = Path(directory)
    meta_path = directory / "srcrel_span.json"
    if not meta_path.is_file():
        raise InputError(f"{directory}: no srcrel_span.json; pass the run_dir of `srcrel train task=source_span`")
    meta = orjson.loads(meta_path.read_bytes())
    if meta["kind"] == "rules":
        return RuleSpanTagger()
    if meta["kind"] == "crf":
        model = CrfSpanTagger(c1=meta["c1"], c2=meta["c2"], max_iterations=meta["max_iterations"],
                              window=meta["window"])
        model.prior, model.model_path = meta["prior"], directory / "span.crfsuite"
        return model
    if meta["kind"] == "e5":
        from training.span_e5 import E5SpanTagger

        return E5SpanTagger.load(directory)
    raise InputError(f"{meta_path}: unknown span model kind {meta['kind']!r}; retrain with this srcrel")
