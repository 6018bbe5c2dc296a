#!/usr/bin/env python3
"""Checks `clip preprocess` against open_clip's own eval transform (image_transform in
open_clip/transform.py) on a folder of images: every size x resize mode (shortest, squash,
longest) x interpolation (bicubic, bilinear), the uint8 RGB image before ToTensor, byte for
byte. Needs Debian's python3-torchvision (0.14.1 on Debian 12, with Pillow 9.4) and an
open_clip source tree (not installed: its transform.py, constants.py and utils.py are loaded
from it). Not part of the test suite, which cannot have open_clip; run by hand:

  tools/verify_open_clip_transforms.py OPEN_CLIP/src/open_clip ../shared/fixtures/preprocess/images build/clip
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
from PIL import Image


def load_transform(src):
    package = types.ModuleType("open_clip")
    package.__path__ = [src]
    sys.modules["open_clip"] = package
    for name in ("constants", "utils", "transform"):
        spec = importlib.util.spec_from_file_location(f"open_clip.{name}", os.path.join(src, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"open_clip.{name}"] = module
        spec.loader.exec_module(module)
    return sys.modules["open_clip.transform"]


def main(src, images, clip):
    transform = load_transform(src)
    total = bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "u8.npy")
        for size in (224, 61):
            for mode in ("shortest", "squash", "longest"):
                for interpolation in ("bicubic", "bilinear"):
                    steps = transform.image_transform(size, is_train=False, resize_mode=mode,
                                                      interpolation=interpolation).transforms[:-2]
                    for name in sorted(os.listdir(images)):
                        try:
                            want = Image.open(os.path.join(images, name))
                            for step in steps:
                                want = step(want)
                            want = np.asarray(want.convert("RGB"))
                        except Exception:
                            continue  # open_clip fails on it too (a broken file, a 16-bit TIFF)
                        total += 1
                        r = subprocess.run([clip, "preprocess", os.path.join(images, name), "--size", str(size),
                                            "--resize-mode", mode, "--interpolation", interpolation,
                                            "--out", os.path.join(tmp, "f.npy"), "--uint8-out", out],
                                           capture_output=True, text=True)
                        got = np.load(out) if r.returncode == 0 else None
                        if got is None or got.shape != want.shape or (got != want).any():
                            bad += 1
                            print("DIFFERS", size, mode, interpolation, name, r.stderr.strip())
    print(f"{total - bad} of {total} images exact")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
