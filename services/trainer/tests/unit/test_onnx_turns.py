"""Predict goes before the background embedder: the turn-taking of the ONNX body (no model needed)."""

from __future__ import annotations

import threading
import time

from claystream_trainer.adapters.onnx_body import Turns


def wait_until(condition, what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_a_waiting_predict_goes_before_waiting_background_slices() -> None:
    turns = Turns()
    order: list[str] = []
    release = threading.Event()

    def background_holder() -> None:
        with turns.turn(background=True):
            order.append("background-1")
            release.wait(5)

    def take(name: str, background: bool) -> None:
        with turns.turn(background=background):
            order.append(name)

    holder = threading.Thread(target=background_holder)
    holder.start()
    wait_until(lambda: order == ["background-1"], "the first background slice")
    second_background = threading.Thread(target=take, args=("background-2", True))
    second_background.start()
    wait_until(lambda: turns.background_waiting == 1, "the second background slice to wait")
    predict = threading.Thread(target=take, args=("predict", False))
    predict.start()
    wait_until(lambda: turns.foreground_waiting == 1, "predict to wait")
    release.set()
    for thread in (holder, second_background, predict):
        thread.join(5)
    assert order == ["background-1", "predict", "background-2"]


def test_one_forward_pass_at_a_time() -> None:
    turns = Turns()
    inside = 0
    most = 0
    lock = threading.Lock()

    def work(background: bool) -> None:
        nonlocal inside, most
        for _ in range(50):
            with turns.turn(background=background):
                with lock:
                    inside += 1
                    most = max(most, inside)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == 1
