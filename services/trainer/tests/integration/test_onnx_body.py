"""The ONNX Runtime body against the real packaged MiniLM: same vectors as PyTorch (fp32), close ones
(int8), the same vectors whichever lane, session or graph (padded or not) embeds a text, one export per body version
reused by a restart, PyTorch when the export cannot be written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from claystream_trainer.adapters.bodies import LocalBodyProvider
from claystream_trainer.adapters.onnx_body import OnnxEmbedder, int8_recipe, weights_need_reduced_range
from claystream_trainer.adapters.st_embedder import SentenceTransformerEmbedder, default_base_model_path
from claystream_trainer.config import TrainerSettings
from claystream_trainer.domain.ports import DatasetKey

pytestmark = pytest.mark.slow

ANY_DATASET = DatasetKey("w", "d")  # the base body is the same for every dataset

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
    assert (int8.onnx_path.name, int8.unpadded_path.name) == ("body.int8.onnx", "body-unpadded.int8.onnx")
    # int8 weights per output channel stay near fp32 (per tensor, as before, gave ~0.95 on IMDb reviews)
    assert float((int8.embed(TEXTS) * torch_vectors).sum(axis=1).min()) > 0.98

    # 7-bit weights where this CPU has no VNNI (u8 x s8 pair sums would saturate), the full 8 bits elsewhere
    widest = max(int(np.abs(onnx.numpy_helper.to_array(t).astype(np.int16)).max())
                 for t in onnx.load(str(int8.onnx_path)).graph.initializer if t.data_type == onnx.TensorProto.INT8)
    assert widest <= 64 if weights_need_reduced_range() else widest > 64

    exported_at = int8.onnx_path.stat().st_mtime_ns
    again = OnnxEmbedder(default_base_model_path(), key="q", cache_dir=tmp_path, max_seq_length=128, max_chunks=2,
                         batch_size=8, int8=True)
    assert again.onnx_path == int8.onnx_path and again.onnx_path.stat().st_mtime_ns == exported_at


def test_the_provider_serves_onnx_and_falls_back_to_pytorch_when_the_export_fails(tmp_path: Path) -> None:
    served = LocalBodyProvider(TrainerSettings(models_dir=tmp_path / "ok")).get(ANY_DATASET, "base")
    assert isinstance(served, OnnxEmbedder) and served.key.endswith(f"-onnx-int8-{int8_recipe()}")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "onnx").write_text("a file where the export folder should be")
    body = LocalBodyProvider(TrainerSettings(models_dir=broken)).get(ANY_DATASET, "base")
    assert isinstance(body, SentenceTransformerEmbedder) and not body.key.endswith("onnx-int8")
    assert body.embed(TEXTS[:1]).shape == (1, 384)


def test_lanes_and_the_unpadded_graph_give_the_vectors_one_text_alone_gets(tmp_path: Path) -> None:
    body = OnnxEmbedder(default_base_model_path(), key="o", cache_dir=tmp_path, max_seq_length=128, max_chunks=1,
                        batch_size=32, int8=False, threads=2)
    long_reviews = [f"Review {i}: " + "the plot is thin but the acting holds it together. " * 20 for i in range(5)]
    texts = [*long_reviews, "Short.", "A question?", "Fine film.<br />Really."]
    assert body._wide is not None  # one text alone runs on the session whose operators use both cores
    alone = np.vstack([body.embed([text]) for text in texts])  # no padding: the unpadded graph, wide session
    assert np.allclose(body.embed(texts), alone, atol=1e-5)  # two lanes of four, padded where a share is
    assert np.allclose(body.embed([long_reviews[0], "Short."])[0], alone[0], atol=1e-5)  # padded graph, long text

    graph = onnx.load(str(body.onnx_path))
    # eager attention: the SDPA export masked every attention score with IsNaN/Where (a fifth of the pass)
    assert "IsNaN" not in {node.op_type for node in graph.graph.node}
    assert [i.name for i in onnx.load(str(body.unpadded_path)).graph.input] == ["input_ids", "token_type_ids"]
