"""The rest of the reference's API, our extras, errors as Python exceptions, and
`python -m clip_cpp` as the clip tool."""
import os
import subprocess
import sys

import numpy as np
import pytest

import clip_cpp as clip
from helpers import as_numpy

CLI = os.environ.get("CLIP_CLI", os.path.join(os.path.dirname(__file__), "..", "..", "build", "clip"))
STAR = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "images", "red-star.png")


def test_model_names():
    assert clip.available_models() == ["RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B/32", "ViT-B/16",
                                       "ViT-L/14", "ViT-L/14@336px"]
    assert "demo-shapes" in clip.builtin_models()
    assert "ViT-B-32:openai" in clip.open_clip_models()


def test_builtin_model_bf16_and_threads():
    model, preprocess = clip.load("demo-shapes")
    fast, _ = clip.load("demo-shapes", precision="bf16")
    assert (model.precision, fast.precision) == ("fp32", "bf16")
    image = preprocess(STAR)[None]
    text = clip.tokenize(["a photo of a red star.", "a photo of a blue circle."])
    probs = as_numpy(clip.softmax(model(image, text)[0]))
    assert probs[0, 0] > 0.99
    a, b = as_numpy(model.encode_image(image))[0], as_numpy(fast.encode_image(image))[0]
    assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) > 0.999
    before = clip.get_num_threads()
    clip.set_num_threads(1)
    try:
        single, _ = clip.load("demo-shapes")
        assert single.num_threads == 1 and clip.get_num_threads() == 1
        assert np.array_equal(as_numpy(single.encode_image(image)), as_numpy(model.encode_image(image)))
    finally:
        clip.set_num_threads(before)
    assert model.eval() is model and model.to("cpu") is model and model.float() is model
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda:0")
    features = as_numpy(clip.normalize(model.encode_text(text)))
    assert np.allclose(np.linalg.norm(features, axis=1), 1, atol=1e-6)


def test_errors_are_python_exceptions(fixtures):
    model, _ = clip.load("demo-shapes")
    with pytest.raises(RuntimeError, match="Model ViT-Z/99 not found; available models ="):
        clip.load("ViT-Z/99")
    with pytest.raises(ValueError, match="precision 'fp8'"):
        clip.load("demo-shapes", precision="fp8")
    with pytest.raises(RuntimeError, match="is too long for context length 77"):
        clip.tokenize("word " * 100)
    with pytest.raises(RuntimeError, match=r"\[1, 3, 5, 5\]"):
        model.encode_image(np.zeros((1, 3, 5, 5), np.float32))
    with pytest.raises(TypeError, match="token ids must be integers"):
        model.encode_text(np.zeros((1, 77), np.float32))
    with pytest.raises(TypeError, match="expected an array of numbers"):
        model.encode_image("a picture")
    with pytest.raises(ValueError, match="'fast'"):
        clip.set_array_backend("fast")


def run_module(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "clip_cpp", *args], capture_output=True, text=True, **kwargs)


def test_python_m_clip_cpp_is_the_clip_tool():
    labels = ["--labels", "red star", "yellow star", "red circle"]
    ours = run_module("classify", "--model", "demo-shapes", STAR, *labels)
    tool = subprocess.run([CLI, "classify", "--model", "demo-shapes", STAR, *labels], capture_output=True, text=True)
    assert ours.returncode == 0 and ours.stdout == tool.stdout and "red star" in ours.stdout
    version = run_module("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"clip-cpp {clip.__version__}"
    wrong = run_module("clasify")
    assert wrong.returncode == 1 and "unknown subcommand 'clasify'" in wrong.stderr
    tokens = run_module("tokenize", "a dog")
    assert tokens.stdout.split()[:4] == ["49406", "320", "1929", "49407"]
