"""What bench/compare and bench/python_compare share: the workloads' inputs and models, the
long-running worker protocol, timing a whole process."""
import os
import subprocess
import sys
import time

import numpy as np

THREADS = 2
MODELS = {"vitb32": "ViT-B-32", "rn50": "RN50"}  # short name -> file stem (tools/bench/make_models.py)
PROMPTS_32 = [f"a photo of a {c}." for c in [
    "tench", "goldfish", "great white shark", "tiger shark", "hammerhead", "electric ray", "stingray", "cock",
    "hen", "ostrich", "brambling", "goldfinch", "house finch", "junco", "indigo bunting", "robin", "bulbul", "jay",
    "magpie", "chickadee", "water ouzel", "kite", "bald eagle", "vulture", "great grey owl", "fire salamander",
    "common newt", "eft", "spotted salamander", "axolotl", "bullfrog", "tree frog"]]


# The reference's image transform (clip/clip.py `_transform(224)`: Pillow 9.4 and torchvision
# 0.14 on Debian 12), as source for the scripts the benchmarks run in a process of their own:
# defines `t`, which maps a PIL image to the model's input tensor.
REFERENCE_TRANSFORM = """
from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor
t = Compose([Resize(224, interpolation=InterpolationMode.BICUBIC), CenterCrop(224), lambda im: im.convert("RGB"),
             ToTensor(), Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
"""


def make_models(cache):
    """The random-weight ViT-B/32 and RN50 (fixed seeds) in every peer's format, made once."""
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "make_models.py"), cache], check=True)
    return {short: os.path.join(cache, name) for short, name in MODELS.items()}


def image_inputs():
    """The image workloads' inputs, the same in every benchmark (seed 0)."""
    rng = np.random.default_rng(0)
    return {
        "vitb32_image_b1": rng.standard_normal((1, 3, 224, 224), dtype=np.float32),
        "vitb32_image_b8": rng.standard_normal((8, 3, 224, 224), dtype=np.float32),
        "rn50_image_b1": rng.standard_normal((1, 3, 224, 224), dtype=np.float32),
    }


class Worker:
    """A long-running process answering '<workload> <input.npy> [<out.npy>]' with milliseconds."""

    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"{argv[0]} did not start: {line!r}")

    def __call__(self, workload, path, out=""):
        self.proc.stdin.write(f"{workload} {path} {out}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def timed(argv, env=None):
    """Milliseconds a whole process takes (start, load, work, exit)."""
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return (time.perf_counter() - t0) * 1000


def cosine(a, b):
    return ((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)).min()
