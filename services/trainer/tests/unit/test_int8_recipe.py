"""Which int8 weights the ONNX export writes on which CPU (adapters/onnx_body.py)."""

from __future__ import annotations

from claystream_trainer.adapters.onnx_body import EXPORT_RECIPE, int8_recipe, weights_need_reduced_range

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma", "f16c"})


def test_x86_without_vnni_takes_seven_bit_weights() -> None:
    assert weights_need_reduced_range("x86_64", AVX2)
    assert weights_need_reduced_range("AMD64", AVX2 | {"avx512f", "avx512bw"})  # AVX-512 alone still saturates
    assert weights_need_reduced_range("x86_64", frozenset())  # flags unreadable: the safe side


def test_vnni_and_other_architectures_keep_eight_bits() -> None:
    assert not weights_need_reduced_range("x86_64", AVX2 | {"avx512f", "avx512_vnni"})
    assert not weights_need_reduced_range("x86_64", AVX2 | {"avx_vnni"})
    assert not weights_need_reduced_range("x86_64", AVX2 | {"amx_int8"})
    assert not weights_need_reduced_range("aarch64", frozenset())


def test_the_recipe_names_the_choice() -> None:
    assert int8_recipe() == (f"{EXPORT_RECIPE}-r7" if weights_need_reduced_range() else EXPORT_RECIPE)
