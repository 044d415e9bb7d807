"""Cap a fine-tune's batch size so its estimated peak memory stays within a budget.

The estimate follows the usual transformer activation count (Korthikanti et al. 2022,
fp32: ``seq * batch * hidden * (68 + 10 * heads * seq / hidden)`` bytes per layer) plus
weights, gradients and Adam state (16 bytes a parameter) and the process baseline.
Calibrated against one measurement on this machine: all-mpnet-base-v2, 384 tokens,
batch 16 (32 sentences a step, SetFit pairs) peaked at ~20 GB; the formula gives ~18 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

BASELINE_BYTES = 1.5e9  # interpreter, torch, tokenizer, data


@dataclass(frozen=True)
class BodyShape:
    parameters: int
    hidden: int
    layers: int
    heads: int


MINILM_L6 = BodyShape(parameters=22_700_000, hidden=384, layers=6, heads=12)
MPNET_BASE = BodyShape(parameters=109_500_000, hidden=768, layers=12, heads=12)


def estimated_peak_bytes(shape: BodyShape, *, batch_size: int, seq_len: int) -> float:
    sentences = 2 * batch_size  # a contrastive pair per example
    per_layer = seq_len * sentences * shape.hidden * (68 + 10 * shape.heads * seq_len / shape.hidden)
    return BASELINE_BYTES + 16 * shape.parameters + shape.layers * per_layer


def capped_batch_size(shape: BodyShape, *, wanted: int, seq_len: int, budget_mb: int) -> int:
    """The largest batch ≤ ``wanted`` (halving) that fits the budget; at least 2."""
    batch = wanted
    while batch > 2 and estimated_peak_bytes(shape, batch_size=batch, seq_len=seq_len) > budget_mb * 1e6:
        batch //= 2
    return max(2, batch)


def shape_of(config: dict[str, object]) -> BodyShape:
    """From a transformers config.json (BERT / MPNet style keys)."""
    hidden = int(config.get("hidden_size", 384))  # type: ignore[arg-type]
    layers = int(config.get("num_hidden_layers", 6))  # type: ignore[arg-type]
    heads = int(config.get("num_attention_heads", 12))  # type: ignore[arg-type]
    vocab = int(config.get("vocab_size", 30522))  # type: ignore[arg-type]
    parameters = vocab * hidden + layers * 12 * hidden * hidden
    return BodyShape(parameters=parameters, hidden=hidden, layers=layers, heads=heads)
