"""Small torch classifier heads on text features, saved together in one file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from core.labels import COMPLAINT_CATEGORIES, INSIGHT_KINDS, SENTIMENTS
from nlp.features import N_BUCKETS, Features

# task -> class names; a single name means a binary task scored with a sigmoid
TASKS: dict[str, tuple[str, ...]] = {
    "sentiment": SENTIMENTS,
    "complaint_category": COMPLAINT_CATEGORIES,
    **{task: (task,) for task in INSIGHT_KINDS},
}
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "heads.pt"
# a head beside the task heads: is a line said by an agent rather than a customer (binary)
AGENT_VOICE = "agent_voice"
AGENT_VOICE_WEIGHTS = DEFAULT_WEIGHTS.parent / "agent_voice.pt"


def n_outputs(task: str) -> int:
    return 1 if task not in TASKS or len(TASKS[task]) == 1 else len(TASKS[task])


class Head(nn.Module):
    """An MLP on the sentence embedding plus a linear layer on hashed n-grams, summed as logits.

    `temperature` and `bias` are fitted after training on held-out rows (Platt / temperature
    scaling), so `probabilities` returns calibrated probabilities.
    """

    # buffers, declared for type checkers
    temperature: torch.Tensor
    bias: torch.Tensor

    def __init__(self, dim: int, n_out: int, hidden: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_out),
        )
        # a sparse linear layer: bag of hashed n-gram ids weighted by tf-idf
        self.ngrams = nn.EmbeddingBag(N_BUCKETS, n_out, mode="sum")
        nn.init.zeros_(self.ngrams.weight)
        self.register_buffer("temperature", torch.ones(1))
        self.register_buffer("bias", torch.zeros(n_out))

    def forward(self, features: Features) -> torch.Tensor:
        emb = torch.from_numpy(np.ascontiguousarray(features.embeddings, dtype=np.float32))
        return self.logits(emb, features.ngrams)

    def logits(self, embeddings: torch.Tensor, ngrams: sp.csr_matrix) -> torch.Tensor:
        """Calibrated logits from sentence vectors (a tensor, so an encoder can be trained
        through the head) and the rows' n-gram matrix."""
        bag = self.ngrams(
            torch.from_numpy(ngrams.indices.astype(np.int64)),
            torch.from_numpy(ngrams.indptr[:-1].astype(np.int64)),
            per_sample_weights=torch.from_numpy(ngrams.data.astype(np.float32)),
        )
        return (self.net(embeddings) + bag) / self.temperature + self.bias

    def probabilities(self, features: Features) -> np.ndarray:
        self.eval()
        with torch.no_grad():
            logits = self(features)
        if logits.shape[1] == 1:
            return torch.sigmoid(logits[:, 0]).numpy()
        return torch.softmax(logits, dim=1).numpy()


@dataclass
class HeadBundle:
    embedder: str
    dim: int
    version: str
    heads: dict[str, Head]
    # inverse document frequency per n-gram bucket, fitted on the training texts
    idf: np.ndarray
    # dev-set metrics and training facts, shown in the model card and by `explain`
    meta: dict[str, object] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        heads = {}
        for name, head in self.heads.items():
            state = head.state_dict()
            # half precision halves the file; the n-gram table is most of it
            state["ngrams.weight"] = state["ngrams.weight"].half()
            heads[str(name)] = {"hidden": head.net[1].out_features, "state": state}
        payload = {
            "embedder": self.embedder,
            "dim": self.dim,
            "version": self.version,
            # plain JSON types: `load` reads with weights_only, which refuses other classes (the
            # label enums among them)
            "meta": json.loads(json.dumps(self.meta)),
            "idf": torch.from_numpy(self.idf).half(),
            "heads": heads,
        }
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> HeadBundle:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        heads = {}
        for name, spec in payload["heads"].items():
            head = Head(payload["dim"], n_outputs(name), hidden=spec["hidden"])
            state = spec["state"]
            state["ngrams.weight"] = state["ngrams.weight"].float()
            head.load_state_dict(state)
            head.eval()
            heads[name] = head
        return cls(
            embedder=payload["embedder"],
            dim=payload["dim"],
            version=payload["version"],
            heads=heads,
            idf=payload["idf"].float().numpy(),
            meta=payload["meta"],
        )
