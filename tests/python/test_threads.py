"""One model from several Python threads at once gives the single-thread results, and the
GIL is released while the engine computes."""
import os
import threading
import time

import numpy as np

import clip_cpp as clip
from helpers import as_numpy


def test_threads_on_one_model_give_the_single_thread_results(fixtures):
    folder = os.path.join(fixtures, "models", "rn50-tiny")
    model, _ = clip.load(os.path.join(folder, "model.pt"))
    images, tokens = np.load(os.path.join(folder, "images.f32.npy")), np.load(os.path.join(folder, "tokens.i32.npy"))
    want_image, want_text = as_numpy(model.encode_image(images)), as_numpy(model.encode_text(tokens))
    results, failures = [], []

    def work(i):
        try:
            for _ in range(5):
                if i % 2:
                    results.append(("image", as_numpy(model.encode_image(images))))
                else:
                    results.append(("text", as_numpy(model.encode_text(tokens))))
        except Exception as e:  # noqa: BLE001 (reported below)
            failures.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert len(results) == 30
    for kind, got in results:
        assert np.array_equal(got, want_image if kind == "image" else want_text), kind


def test_the_gil_is_released_while_computing():
    """A Python loop keeps running beside a long encode_image: its longest pause is a small
    part of the call (with the GIL held throughout, it would be the whole call)."""
    model, _ = clip.load("demo-shapes")
    model.set_num_threads(1)  # the other core runs the loop
    n = model.visual.input_resolution
    images = np.random.default_rng(0).standard_normal((128, 3, n, n)).astype(np.float32)
    model.encode_image(images[:1])  # warm: weights bound
    done, ticks = threading.Event(), []

    def encode():
        model.encode_image(images)
        done.set()

    worker = threading.Thread(target=encode)
    start = time.perf_counter()
    worker.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
    worker.join()
    elapsed = time.perf_counter() - start
    longest = max(np.diff([start] + ticks + [time.perf_counter()]))
    assert elapsed > 0.05 and longest < elapsed / 3, (elapsed, longest)
