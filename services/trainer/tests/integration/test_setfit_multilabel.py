"""The real setfit fine-tune on multi-label answers (two steps on eight texts, a few seconds): label sets
become pairs, the body moves, and the saved body loads back as an embedder."""

import numpy as np
import pytest
from claystream_trainer.adapters.setfit_finetune import FinetuneParams, SetFitFineTuner
from claystream_trainer.adapters.st_embedder import SentenceTransformerEmbedder, default_base_model_path

TEXTS = ["a haunted house and a ghost", "a wedding and a kiss", "a chase and an explosion", "a ghost falls in love",
         "a heist with jokes", "a wacky prank", "blood and demons", "love letters"]
LABELS = [("horror",), ("romance",), ("action",), ("horror", "romance"), ("action", "comedy"), ("comedy",),
          ("horror",), ("romance",)]


@pytest.mark.slow
def test_setfit_fine_tunes_the_body_on_label_sets(tmp_path):
    steps: list[int] = []
    params = FinetuneParams(max_steps=2, batch_size=4, num_iterations=2, max_length=32, learning_rate=1e-4,
                            memory_budget_mb=2048, seed=1)
    tuner = SetFitFineTuner(default_base_model_path(), max_chunks=1, threads=2)
    result = tuner.finetune(TEXTS, LABELS, params, lambda step, total, eta: steps.append(step), str(tmp_path / "body"))
    assert steps[-1] == 2 and result.params["train_windows"] == len(TEXTS)
    tuned = SentenceTransformerEmbedder(result.body_dir, key="tuned", max_seq_length=32, max_chunks=1, batch_size=8)
    base = SentenceTransformerEmbedder(default_base_model_path(), key="base", max_seq_length=32, max_chunks=1,
                                       batch_size=8)
    moved = np.abs(tuned.embed(TEXTS) - base.embed(TEXTS)).max()
    assert 0 < moved < 1
