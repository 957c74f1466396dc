"""SHAP explanations: a claim's risk attributed to its fields and its narrative's words.

Players are the claim's structured fields (as `core.modeling.features` groups them) and
the narrative's words (whitespace-separated, mapped to their word pieces). A missing
field takes its training-average encoding; a missing word has its word pieces replaced
by the tokenizer's mask token. The value of a coalition is the model's calibrated
probability, so attributions are on the probability scale.

SHAP values come from shap's Partition explainer over a tree of the players (fields as
one subtree, the words as a balanced tree of neighbours): it is efficient by
construction, so `base_value + sum(attributions) == model output` up to float rounding,
whatever the evaluation budget. Speed comes from evaluating a claim's coalitions in
batches and encoding each distinct word coalition once per claim (shap asks for some
coalitions again in later batches; they come from a cache): a coalition that differs only
in fields reuses the text embedding, so the encoder runs only for word coalitions.
`explain_many` explains claims on two threads, so one claim's shap bookkeeping (Python)
overlaps another's encoder pass (torch and ONNX Runtime release the GIL). The encoder is the
loaded model's, so explanations run on the runtime scoring used (`LoadedModel.runtime`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shap
import torch
from shap.maskers import Masker

from core import claim_fields, claim_store
from core.modeling.models import LoadedModel
from core.modeling.precision import inference_precision, precision_name
from core.tasks import Task

METHOD = "partition_shap"
# Evaluations per explanation. Against a 2,000-evaluation permutation reference (top-5 factors
# in common, 30 flagged claims, the quick demo model, 2 CPU cores, explain_many): 200 -> 3.6 of 5
# at 0.15 s/claim, 300 -> 4.4 at 0.21 s, 400 -> 4.6 at 0.29 s, 600 -> 4.7 at 0.49 s. 300 keeps
# the 4-of-5 target with a margin at the price make run pays for all 1,277 flagged demo claims.
DEFAULT_MAX_EVALS = 300
ENCODE_BATCH = 256
# Threads for explain_many. Measured on the 2-core CPU (60 flagged claims): 0.264 s/claim on one
# thread, 0.229 on two, 0.234 on three.
EXPLAIN_THREADS = 2
TOP_REASONS = 5
WORD_PATTERN = re.compile(r"\S+")


@dataclass
class Explanation:
    base_value: float
    output_value: float
    fields: dict[str, float]
    words: list[tuple[str, float]]
    reasons: list[str] = field(default_factory=list)
    method: str = METHOD
    parameters: dict[str, Any] = field(default_factory=dict)

    def attributions(self) -> dict[str, Any]:
        return {"fields": self.fields, "words": [[w, v] for w, v in self.words]}

    def top_factors(self, k: int = TOP_REASONS) -> list[tuple[str, float]]:
        """Largest |value| first; fields named `field:NAME`, words `word:INDEX`."""
        items = [(f"field:{n}", v) for n, v in self.fields.items()]
        items += [(f"word:{i}", v) for i, (_, v) in enumerate(self.words)]
        return sorted(items, key=lambda item: -abs(item[1]))[:k]


@dataclass
class _Words:
    words: list[str]
    spans: list[list[int]]  # token positions of each word inside input_ids
    input_ids: list[int]


def split_words(tokenizer: Any, text: str, max_length: int) -> _Words:
    """Words of `text` that fit in the model's input, with their word-piece positions."""
    encoded = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    words, spans = [], []
    for match in WORD_PATTERN.finditer(text):
        start, end = match.span()
        positions = [i for i, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end]
        if positions:  # words cut off by truncation have no tokens and no effect
            words.append(match.group())
            spans.append(positions)
    return _Words(words, spans, list(encoded["input_ids"]))


class _FeatureMasker(Masker):
    """shap masker over abstract players: it hands the boolean mask itself to the value function."""

    def __init__(self, n_fields: int, n_words: int) -> None:
        self.players = n_fields + n_words
        self.shape = (1, self.players)
        self.clustering = _linkage([list(range(n_fields)), list(range(n_fields, self.players))])

    def __call__(self, mask: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        return (np.asarray(mask, dtype=bool).reshape(1, -1),)

    def mask_shapes(self, *args: Any) -> list[tuple[int]]:
        return [(self.players,)]


def _linkage(groups: list[list[int]]) -> np.ndarray:
    """A scipy-style linkage: each group (fields; words in reading order) as a balanced
    binary tree of neighbours, then the groups joined. Partition SHAP follows this tree,
    so neighbouring words are split together, as shap's own text masker does."""
    rows: list[list[float]] = []
    sizes: dict[int, int] = {}
    next_id = sum(len(g) for g in groups)

    def merge(nodes: list[int]) -> int:
        nonlocal next_id
        while len(nodes) > 1:
            merged = []
            for a, b in zip(nodes[0::2], nodes[1::2], strict=False):
                size = sizes.get(a, 1) + sizes.get(b, 1)
                rows.append([a, b, 0.0, size])
                sizes[next_id] = size
                merged.append(next_id)
                next_id += 1
            nodes = merged + ([nodes[-1]] if len(nodes) % 2 else [])
        return nodes[0]

    merge([merge(group) for group in groups if group])
    linkage = np.array(rows, dtype=float).reshape(-1, 4)
    linkage[:, 2] = np.arange(1, len(linkage) + 1)  # merge heights must grow
    return linkage


class Explainer:
    """Explains predictions of one loaded model (claim-risk or sentiment) with shap.

    `partition` (default) is shap's Partition explainer over the fields-and-words tree
    with a fixed evaluation budget; `permutation` is shap's Permutation explainer, the
    slower reference the benchmark compares against.
    """

    def __init__(
        self, loaded: LoadedModel, method: str = "partition", max_evals: int = DEFAULT_MAX_EVALS, seed: int = 0
    ) -> None:
        if method not in ("partition", "permutation"):
            raise ValueError("method must be partition or permutation")
        self.loaded, self.method, self.max_evals, self.seed = loaded, method, max_evals, seed
        self.is_claim = loaded.meta.task == Task.CLAIM_RISK
        self.spec = loaded.field_spec if self.is_claim else None
        self.mask_id = int(loaded.tokenizer.mask_token_id if loaded.tokenizer.mask_token_id is not None else 0)
        self.device = next(loaded.model.parameters()).device

    @property
    def parameters(self) -> dict[str, Any]:
        return {"explainer": self.method, "max_evals": self.max_evals, "seed": self.seed, "word_mask": "mask_token",
                "field_mask": "training_mean", "scale": "probability", "runtime": self.loaded.runtime,
                "precision": precision_name(self.device, self.loaded.runtime)}  # fmt: skip

    def explain(self, row: pd.Series | dict[str, Any], target_class: int | None = None) -> Explanation:
        """Explain one claim (claim model) or message (sentiment model, `target_class` index)."""
        frame = pd.DataFrame([dict(row)])
        text = claim_store.text_of(dict(row)) if self.is_claim else str(frame["text"].iat[0] or "")
        with self.loaded.tokenizer_lock:
            words = split_words(self.loaded.tokenizer, text, self.loaded.meta.max_length)
        fields = list(self.spec.columns) if self.spec else []
        encoded = self.spec.encode(frame)[0] if self.spec else None
        players = len(fields) + len(words.words)
        embeddings = _EmbeddingCache(lambda masks: self._embed(masks, words))

        def value(masks: np.ndarray) -> np.ndarray:
            with inference_precision(self.device):  # the precision scoring used, so values add up to its output
                return self._values(np.asarray(masks, dtype=bool), embeddings, fields, encoded, target_class)

        if players <= 1:  # one player takes the whole difference; shap needs a tree
            ends = value(np.array([[False] * players, [True] * players]))
            values, base, evaluations = ends[1:] - ends[:1], float(ends[0]), 2
        else:
            values, base = self._shap(value, players, len(fields))
            evaluations = self._budget(players)
        explanation = Explanation(
            base_value=base, output_value=base + float(values.sum()),
            parameters={**self.parameters, "max_evals": evaluations},  # what this one was given
            method=f"{self.method}_shap",
            fields={name: float(values[i]) for i, name in enumerate(fields)},
            words=[(w, float(values[len(fields) + i])) for i, w in enumerate(words.words)],
        )  # fmt: skip
        if self.is_claim:
            explanation.reasons = reasons(explanation, frame.iloc[0])
        return explanation

    def explain_many(
        self, rows: Iterable[pd.Series | dict[str, Any]], threads: int = EXPLAIN_THREADS
    ) -> list[Explanation]:
        """Explain claims on `threads` threads; results in input order.

        Each claim's values are the same as `explain` gives it alone: claims share no state
        but the model, which only reads.
        """
        rows = list(rows)
        if threads <= 1 or len(rows) <= 1:
            return [self.explain(row) for row in rows]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="explain") as pool:
            return list(pool.map(self.explain, rows))

    def _shap(self, value: Any, players: int, n_fields: int) -> tuple[np.ndarray, float]:
        masker = _FeatureMasker(n_fields, players - n_fields)
        budget = self._budget(players)
        if self.method == "partition":
            explainer = shap.PartitionExplainer(value, masker)
        else:
            explainer = shap.PermutationExplainer(value, masker, seed=self.seed)
        result = explainer(np.arange(players)[None, :], max_evals=budget, batch_size=budget, silent=True)
        return np.asarray(result.values[0], dtype=float), float(np.asarray(result.base_values).reshape(-1)[0])

    def _budget(self, players: int) -> int:
        """Evaluations for one explanation: `max_evals`, or more where the players need it
        (shap needs at least 2·players + 2)."""
        return max(self.max_evals, 2 * players + 2)

    @torch.inference_mode()
    def _values(
        self, masks: np.ndarray, cache: _EmbeddingCache, fields: list[str], encoded_fields: np.ndarray | None,
        target_class: int | None,
    ) -> np.ndarray:  # fmt: skip
        model = self.loaded.model
        embeddings = cache.lookup(masks[:, len(fields) :])
        if self.spec is None:
            logits = model.calibrated(model(text_embedding=embeddings))
            probabilities = torch.softmax(logits, dim=-1)
            return probabilities[:, target_class if target_class is not None else 0].float().cpu().numpy()
        vectors = np.repeat(self.spec.background()[None, :], len(masks), axis=0)
        columns = self.spec.columns
        for i, name in enumerate(fields):
            present = masks[:, i]
            vectors[np.ix_(present, np.asarray(columns[name], dtype=np.intp))] = encoded_fields[columns[name]]  # type: ignore[index]
        field_tensor = torch.from_numpy(vectors).to(self.device)
        logits = model.calibrated(model(fields=field_tensor, text_embedding=embeddings))
        return torch.sigmoid(logits).float().cpu().numpy()

    def _embed(self, word_masks: np.ndarray, words: _Words) -> torch.Tensor:
        """Encode each word coalition: hidden words' pieces become the mask token.

        Every coalition keeps the claim's length, so batches need no padding.
        """
        ids = torch.tensor(words.input_ids, dtype=torch.long).repeat(len(word_masks), 1)
        for w, positions in enumerate(words.spans):
            hidden = ~word_masks[:, w]
            if hidden.any():
                ids[np.ix_(hidden, np.asarray(positions, dtype=np.intp))] = self.mask_id
        attention = torch.ones_like(ids)
        chunks = []
        for start in range(0, len(ids), ENCODE_BATCH):
            batch = ids[start : start + ENCODE_BATCH].to(self.device)
            chunks.append(self.loaded.model.encoder(batch, attention[start : start + ENCODE_BATCH].to(self.device)))
        return torch.cat(chunks)


class _EmbeddingCache:
    """Text embeddings of one claim's word coalitions, each encoded once across shap's batches."""

    def __init__(self, encode: Callable[[np.ndarray], torch.Tensor]) -> None:
        self.encode = encode
        self.rows: dict[bytes, int] = {}  # coalition -> its row in `table`
        self.table: torch.Tensor | None = None

    def lookup(self, word_masks: np.ndarray) -> torch.Tensor:
        """The embedding of each row of `word_masks`, in order, encoding only coalitions not seen before."""
        unique, inverse = np.unique(word_masks, axis=0, return_inverse=True)
        keys = [row.tobytes() for row in unique]
        new = [i for i, key in enumerate(keys) if key not in self.rows]
        if new:
            for i in new:
                self.rows[keys[i]] = len(self.rows)
            encoded = self.encode(unique[new])
            self.table = encoded if self.table is None else torch.cat([self.table, encoded])
        if self.table is None:  # nothing asked for yet
            raise ValueError("no coalitions to look up")
        positions = [self.rows[keys[i]] for i in inverse.reshape(-1)]
        return self.table[torch.as_tensor(positions, dtype=torch.long, device=self.table.device)]


def reasons(explanation: Explanation, claim: pd.Series, k: int = TOP_REASONS) -> list[str]:
    """The top factors as short sentences an adjuster can read. Neighbouring words that
    make the same phrase are one reason, with their contributions added."""
    found: dict[str, float] = {}
    for key, value in explanation.top_factors(len(explanation.fields) + len(explanation.words)):
        kind, name = key.split(":", 1)
        if kind == "field":
            said = describe_field(name, claim)
        else:
            phrase = _phrase_around(explanation.words, int(name))
            said = f"{claim_fields.text_label().capitalize()} mentions “{phrase}”"
        if said not in found and len(found) == k:
            break
        found[said] = found.get(said, 0.0) + value
    return [f"{said} ({value:+.2f})" for said, value in found.items()]


def _phrase_around(words: list[tuple[str, float]], index: int) -> str:
    """The word with its neighbours that push the same way, for readable phrases."""
    sign = np.sign(words[index][1])
    threshold = abs(words[index][1]) * 0.25
    start = end = index
    while start > 0 and np.sign(words[start - 1][1]) == sign and abs(words[start - 1][1]) >= threshold:
        start -= 1
    while end + 1 < len(words) and np.sign(words[end + 1][1]) == sign and abs(words[end + 1][1]) >= threshold:
        end += 1
    phrase = " ".join(w for w, _ in words[max(start, index - 2) : min(end, index + 2) + 1])
    return phrase.strip(".,;:!?\"'()")


def describe_field(name: str, claim: pd.Series) -> str:
    """A field and its value as the review page shows them ("Days to report: 3 days")."""
    return claim_fields.describe(name, claim.to_dict())
