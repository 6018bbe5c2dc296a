"""preprocess equals the reference's transform on every golden case, from a PIL image, a
path or the file's bytes; tokenize equals every tokenizer golden."""
import io
import json
import os

import numpy as np
import PIL
import pytest
from PIL import Image

PIL_VERSION = tuple(int(v) for v in PIL.__version__.split(".")[:2])

import clip_cpp as clip
from helpers import as_numpy


def cases(fixtures, name):
    with open(os.path.join(fixtures, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_preprocess_equals_the_reference_on_every_golden(fixtures):
    folder = os.path.join(fixtures, "preprocess")
    checked = errors = from_pil = 0
    for case in cases(fixtures, "preprocess/manifest.jsonl"):
        path = os.path.join(folder, case["file"])
        preprocess = clip._transform(case["n_px"])
        with open(path, "rb") as f:
            data = f.read()
        if case.get("expect_error"):
            for source in (path, data):
                with pytest.raises(RuntimeError, match="image has wrong mode"):
                    preprocess(source)
            errors += 1
        else:
            golden = np.load(os.path.join(folder, case["golden_tensor_f32"]))
            for source, how in ((path, "path"), (data, "bytes")):
                got = as_numpy(preprocess(source))
                assert got.dtype == np.float32 and np.array_equal(got, golden), f"{case['id']} ({how})"
            checked += 1
        # From a PIL image: the goldens hold where the installed Pillow opens the file as the
        # reference's (9.4) does; Pillow 10 and later open 16-bit PNGs as I;16, not I.
        with Image.open(path) as image:
            if image.mode != case["mode"]:
                assert PIL_VERSION >= (10,) and case["mode"] == "I" and image.mode == "I;16", case["id"]
                continue
            if case.get("expect_error"):
                with pytest.raises(RuntimeError, match="image has wrong mode"):
                    preprocess(image)
            else:
                assert np.array_equal(as_numpy(preprocess(image)), golden), case["id"] + " (PIL image)"
            from_pil += 1
    assert checked == 30 and errors == 1 and from_pil >= (31 if PIL_VERSION < (10,) else 30)


def test_every_supported_pil_mode_and_the_others_named(fixtures):
    """Modes made by PIL's convert give what the same image saved and reopened gives."""
    source = Image.open(os.path.join(fixtures, "..", "assets", "CLIP.png")).convert("RGB").resize((90, 60))
    preprocess = clip._transform(48)
    for mode in ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "F", "LAB"]:
        image = source.convert(mode)
        direct = as_numpy(preprocess(image))
        assert direct.shape == (3, 48, 48)
        encoded = io.BytesIO()
        image.save(encoded, "TIFF" if mode in ("CMYK", "F", "LAB") else "PNG")
        # (Pillow 10 and later reopen a mode I PNG as I;16; ours opens it as 9.4 does, as I.)
        assert Image.open(io.BytesIO(encoded.getvalue())).mode == mode or (mode, PIL_VERSION >= (10,)) == ("I", True)
        assert np.array_equal(as_numpy(preprocess(encoded.getvalue())), direct), mode
    for mode in ["YCbCr", "HSV", "RGBX"]:
        with pytest.raises(ValueError, match=f"PIL mode '{mode}' is not supported"):
            preprocess(source.convert(mode))
    with pytest.raises(TypeError, match="expected a PIL image, a path or bytes"):
        preprocess(42)
    with pytest.raises(FileNotFoundError):
        preprocess("/nonexistent/photo.jpg")
    with pytest.raises(RuntimeError, match="<bytes>"):
        preprocess(b"not an image")


def test_tokenize_equals_every_golden(fixtures):
    checked = 0
    for case in cases(fixtures, "tokenizer/cases.jsonl") + cases(fixtures, "tokenizer/context_length.jsonl"):
        n = case.get("context_length", 77)
        if case["tokenize"] is None:
            with pytest.raises(RuntimeError) as error:
                clip.tokenize(case["text"], context_length=n)
            assert str(error.value) == case["error"]
        else:
            got = as_numpy(clip.tokenize(case["text"], context_length=n))
            assert got.dtype == np.int32 and got.tolist() == [case["tokenize"]], case["id"]
        if case.get("tokenize_truncate") is not None:
            got = as_numpy(clip.tokenize([case["text"]], context_length=n, truncate=True))
            assert got.tolist() == [case["tokenize_truncate"]], case["id"]
        checked += 1
    assert checked > 300
    batch = as_numpy(clip.tokenize(["a diagram", "a dog", "a cat"]))
    assert batch.shape == (3, 77) and batch[:, 0].tolist() == [49406] * 3
    with pytest.raises(ValueError, match="context_length"):
        clip.tokenize("a dog", context_length=-1)
