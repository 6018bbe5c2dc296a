"""The reference's README demo on our engine, and the fixture models' goldens."""
import contextlib
import io
import os
import re

import numpy as np
import pytest

import clip_cpp as clip
from helpers import as_numpy, assert_close, assert_features, assert_logits

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MODELS = ["vit-b32-tiny", "vit-p16-tiny", "vit-p14-tiny", "rn50-tiny", "rn-wide-tiny"]


def readme_demo():
    """The Python demo of README.md: the reference's, but for its import line."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "import clip_cpp as clip" in b]
    assert blocks, "README.md has no Python demo"
    return blocks[0]


@pytest.mark.torch_only
def test_the_readme_demo_verbatim(fixtures):
    """Only the model and the image file are swapped for the fixture's (real weights cannot be had)."""
    demo = readme_demo()
    for line in ["import torch", 'model, preprocess = clip.load("ViT-B/32", device=device)',
                 'image = preprocess(Image.open("CLIP.png")).unsqueeze(0).to(device)',
                 'text = clip.tokenize(["a diagram", "a dog", "a cat"]).to(device)',
                 "with torch.no_grad():", "logits_per_image, logits_per_text = model(image, text)",
                 "probs = logits_per_image.softmax(dim=-1).cpu().numpy()", 'print("Label probs:", probs)']:
        assert line in demo, f"the README demo lost the reference's line: {line}"
    folder = os.path.join(fixtures, "models", "vit-b32-tiny")
    code = demo.replace('"ViT-B/32"', repr(os.path.join(folder, "model.pt")))
    code = code.replace('"CLIP.png"', repr(os.path.join(fixtures, "..", "assets", "CLIP.png")))
    scope, out = {}, io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), scope)
    golden = lambda name: np.load(os.path.join(folder, name))  # noqa: E731
    assert np.array_equal(as_numpy(scope["image"]), golden("e2e_image.f32.npy")), "preprocess differs"
    assert_features(scope["text_features"], golden("text_features.f32.npy"), "text_features")
    assert_logits(scope["logits_per_image"], golden("e2e_logits_per_image.f32.npy"), "logits_per_image")
    assert_logits(scope["logits_per_text"], golden("e2e_logits_per_image.f32.npy").T, "logits_per_text")
    assert_close(scope["probs"], golden("e2e_probs.f32.npy"), 1e-4, 0, "probs")
    printed = out.getvalue()
    assert printed.startswith("Label probs: [[") and printed.count("\n") == 1, printed
    values = np.array([float(v) for v in printed.split("[[")[1].split("]]")[0].split()])
    assert_close(values.astype(np.float32).reshape(1, 3), golden("e2e_probs.f32.npy"), 1e-4, 0, "printed probs")


def test_the_demo_with_numpy(fixtures):
    """The same program for NumPy users: no torch needed."""
    folder = os.path.join(fixtures, "models", "vit-b32-tiny")
    backend = "numpy"
    clip.set_array_backend(backend)
    try:
        model, preprocess = clip.load(os.path.join(folder, "model.pt"))
        from PIL import Image
        image = preprocess(Image.open(os.path.join(fixtures, "..", "assets", "CLIP.png")))[np.newaxis]
        text = clip.tokenize(["a diagram", "a dog", "a cat"])
        logits_per_image, logits_per_text = model(image, text)
        probs = clip.softmax(logits_per_image, dim=-1)
    finally:
        clip.set_array_backend("auto")
    for value in (image, text, logits_per_image, logits_per_text, probs):
        assert isinstance(value, np.ndarray)
    assert text.dtype == np.int32 and image.dtype == np.float32
    assert np.array_equal(image, np.load(os.path.join(folder, "e2e_image.f32.npy")))
    assert_close(probs, np.load(os.path.join(folder, "e2e_probs.f32.npy")), 1e-4, 0, "probs")


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("name", MODELS)
def test_fixture_models_reproduce_the_goldens(fixtures, name, jit, torch_or_none):
    folder = os.path.join(fixtures, "models", name)
    golden = lambda f: np.load(os.path.join(folder, f))  # noqa: E731
    model, preprocess = clip.load(os.path.join(folder, "model.pt"), jit=jit)
    images, tokens = golden("images.f32.npy"), golden("tokens.i32.npy")
    if torch_or_none is not None:
        images, tokens = torch_or_none.from_numpy(images), torch_or_none.from_numpy(tokens)
    assert model.visual.input_resolution == images.shape[-1] == preprocess.size
    assert model.context_length == tokens.shape[1] == 77
    assert model.vocab_size == (49408 if name == "vit-b32-tiny" else 1000)
    assert_features(model.encode_image(images), golden("image_features.f32.npy"), f"{name} image_features")
    assert_features(model.encode_text(tokens), golden("text_features.f32.npy"), f"{name} text_features")
    per_image, per_text = model(images, tokens)
    assert_logits(per_image, golden("logits_per_image.f32.npy"), f"{name} logits_per_image")
    assert_logits(per_text, golden("logits_per_text.f32.npy"), f"{name} logits_per_text")


def test_inputs_in_every_layout_and_dtype(fixtures, torch_or_none):
    """Non-contiguous, float16/float64 images and int64 tokens give the float32 results."""
    folder = os.path.join(fixtures, "models", "vit-p16-tiny")
    model, _ = clip.load(os.path.join(folder, "model.pt"))
    images, tokens = np.load(os.path.join(folder, "images.f32.npy")), np.load(os.path.join(folder, "tokens.i32.npy"))
    want_image = as_numpy(model.encode_image(images))
    want_text = as_numpy(model.encode_text(tokens))
    wide = np.zeros((2,) + images.shape[1:3] + (images.shape[3] * 2,), np.float32)
    wide[..., ::2] = images
    variants = [np.repeat(images, 2, axis=0)[::2], wide[..., ::2], images.astype(np.float64)]
    for v in variants:
        assert np.array_equal(as_numpy(model.encode_image(v)), want_image)
    assert np.array_equal(as_numpy(model.encode_text(tokens.astype(np.int64))), want_text)
    assert np.array_equal(as_numpy(model.encode_text(tokens.astype(np.uint16))), want_text)
    half = images.astype(np.float16)
    want_half = as_numpy(model.encode_image(half.astype(np.float32)))
    assert np.array_equal(as_numpy(model.encode_image(half)), want_half)
    if torch_or_none is not None:
        torch = torch_or_none
        t = torch.from_numpy(images)
        assert np.array_equal(as_numpy(model.encode_image(t.transpose(2, 3).contiguous().transpose(2, 3))), want_image)
        assert np.array_equal(as_numpy(model.encode_image(t.half())), want_half)
        assert np.array_equal(as_numpy(model.encode_text(torch.from_numpy(tokens).long())), want_text)
        assert np.array_equal(as_numpy(model.encode_text(torch.from_numpy(tokens).int())), want_text)
        assert model.dtype == torch.float32 and model.logit_scale.dim() == 0
        assert abs(float(model.logit_scale.exp()) - float(np.exp(model._native.logit_scale))) < 1e-5


def test_results_share_the_engine_memory():
    """No copy on the way out: the NumPy array wraps the engine's buffer (torch.from_numpy
    shares it again)."""
    model, _ = clip.load("demo-shapes")
    features = model._native.encode_text(np.asarray(clip._native.tokenize(["a red star"], 77, False)))
    assert type(features.base).__name__ == "PyCapsule" and features.flags.writeable
