"""The ONNX Runtime body against the real packaged MiniLM: same vectors as PyTorch (fp32), close ones
(int8), one export per body version reused by a restart, PyTorch when the export cannot be written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from claystream_trainer.adapters.bodies import LocalBodyProvider
from claystream_trainer.adapters.onnx_body import OnnxEmbedder
from claystream_trainer.adapters.st_embedder import SentenceTransformerEmbedder, default_base_model_path
from claystream_trainer.config import TrainerSettings

pytestmark = pytest.mark.slow

TEXTS = ["What is the capital of France?", "A wonderful, moving film.<br /><br />See it.",
         "The opening is slow. " * 40 + "A dreadful waste of time."]


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    body = SentenceTransformerEmbedder(default_base_model_path(), key="t", max_seq_length=128, max_chunks=2, batch_size=8)
    return body.embed(TEXTS)


def test_the_onnx_body_embeds_like_pytorch_and_is_exported_once(tmp_path: Path, torch_vectors: np.ndarray) -> None:
    fp32 = OnnxEmbedder(default_base_model_path(), key="o", cache_dir=tmp_path, max_seq_length=128, max_chunks=2,
                        batch_size=8, int8=False)
    vectors = fp32.embed(TEXTS)
    assert vectors.shape == (3, 384)
    assert np.allclose(vectors, torch_vectors, atol=1e-4)
    assert np.allclose(fp32.embed_background(TEXTS), vectors, atol=1e-5)

    int8 = OnnxEmbedder(default_base_model_path(), key="q", cache_dir=tmp_path, max_seq_length=128, max_chunks=2,
                        batch_size=8, int8=True)
    assert int8.onnx_path.name == "body.int8.onnx"
    assert float((int8.embed(TEXTS) * torch_vectors).sum(axis=1).min()) > 0.9

    exported_at = int8.onnx_path.stat().st_mtime_ns
    again = OnnxEmbedder(default_base_model_path(), key="q", cache_dir=tmp_path, max_seq_length=128, max_chunks=2,
                         batch_size=8, int8=True)
    assert again.onnx_path == int8.onnx_path and again.onnx_path.stat().st_mtime_ns == exported_at


def test_the_provider_serves_onnx_and_falls_back_to_pytorch_when_the_export_fails(tmp_path: Path) -> None:
    onnx = LocalBodyProvider(TrainerSettings(models_dir=tmp_path / "ok")).get("base")
    assert isinstance(onnx, OnnxEmbedder) and onnx.key.endswith("-onnx-int8")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "onnx").write_text("a file where the export folder should be")
    body = LocalBodyProvider(TrainerSettings(models_dir=broken)).get("base")
    assert isinstance(body, SentenceTransformerEmbedder) and not body.key.endswith("onnx-int8")
    assert body.embed(TEXTS[:1]).shape == (1, 384)
