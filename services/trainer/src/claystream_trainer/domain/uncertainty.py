"""Active-learning priorities from class probabilities: higher means ask a human sooner."""

from __future__ import annotations

import numpy as np


def margin_priority(probabilities: np.ndarray) -> np.ndarray:
    """1 - (p_top1 - p_top2): 1.0 on a coin toss, 0.0 when the model is certain."""
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise ValueError("probabilities must be (n, classes>=2)")
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy_priority(probabilities: np.ndarray) -> np.ndarray:
    """Normalised entropy in [0, 1]."""
    clipped = np.clip(probabilities, 1e-12, 1.0)
    entropy = -(clipped * np.log(clipped)).sum(axis=1)
    return entropy / np.log(probabilities.shape[1])
