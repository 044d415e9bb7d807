"""The real packaged MiniLM body, on a few texts (a few seconds): chunked pooling and artifact round trip."""

import numpy as np
import pytest
from claystream_trainer.adapters.st_embedder import SentenceTransformerEmbedder, default_base_model_path, windows


def test_windows_cover_head_and_tail():
    assert windows(50, 126, 2) == [(0, 50)]
    assert windows(300, 126, 1) == [(0, 126)]
    assert windows(300, 126, 2) == [(0, 126), (174, 300)]
    assert len(windows(1000, 126, 4)) == 4


@pytest.mark.slow
def test_minilm_embeds_long_and_short_texts():
    embedder = SentenceTransformerEmbedder(default_base_model_path(), key="base-L128-C2", max_seq_length=128,
                                           max_chunks=2, batch_size=8)
    long_review = "The opening is slow. " * 80 + "In the end a wonderful, moving film."
    texts = ["What is the capital of France?", long_review, "A dreadful waste of time.<br /><br />Avoid."]
    pieces, counts = embedder.chunk(texts)
    assert counts == [1, 2, 1] and "wonderful" in pieces[2] and "<br" not in pieces[-1]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    again = embedder.embed(texts[:1])
    assert np.allclose(again[0], vectors[0], atol=1e-4)
