"""Small torch classifier heads on frozen sentence embeddings, saved together in one file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

SENTIMENT_LABELS = ("negative", "neutral", "positive")
COMPLAINT_CATEGORIES = (
    "billing",
    "outage_technical",
    "delivery",
    "staff_service",
    "product_quality",
    "other",
)
BINARY_TASKS = ("complaint", "unmet_expectation", "upsell", "churn_risk")
# task -> class names; a single name means a binary task scored with a sigmoid
TASKS: dict[str, tuple[str, ...]] = {
    "sentiment": SENTIMENT_LABELS,
    "complaint_category": COMPLAINT_CATEGORIES,
    **{task: (task,) for task in BINARY_TASKS},
}
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "heads.pt"


class Head(nn.Module):
    """Two-layer MLP with a learned-after-training temperature for calibrated probabilities."""

    def __init__(self, dim: int, n_out: int, hidden: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_out),
        )
        self.register_buffer("temperature", torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) / self.temperature

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        self.eval()
        with torch.no_grad():
            logits = self(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        if logits.shape[1] == 1:
            return torch.sigmoid(logits[:, 0]).numpy()
        return torch.softmax(logits, dim=1).numpy()


@dataclass
class HeadBundle:
    embedder: str
    dim: int
    version: str
    heads: dict[str, Head]
    # dev-set metrics and training facts, shown in the model card and by `explain`
    meta: dict[str, object] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "embedder": self.embedder,
            "dim": self.dim,
            "version": self.version,
            "meta": self.meta,
            "heads": {
                name: {
                    "n_out": len(TASKS[name]) if len(TASKS[name]) > 1 else 1,
                    "hidden": head.net[1].out_features,
                    "state": head.state_dict(),
                }
                for name, head in self.heads.items()
            },
        }
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> HeadBundle:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        heads = {}
        for name, spec in payload["heads"].items():
            head = Head(payload["dim"], spec["n_out"], hidden=spec["hidden"])
            head.load_state_dict(spec["state"])
            head.eval()
            heads[name] = head
        return cls(
            embedder=payload["embedder"],
            dim=payload["dim"],
            version=payload["version"],
            heads=heads,
            meta=payload["meta"],
        )
