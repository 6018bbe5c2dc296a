#!/usr/bin/python3
"""Writes full-size random-weight CLIP checkpoints for the benchmarks (fixed seeds):
<out>/<name>.pt as torch.save(state_dict) in float32, and <name>.inputs.pt with the
benchmark inputs. Usage: make_models.py OUT_DIR [NAME...]  (default: ViT-B-32 RN50)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_torch import CONFIGS, build  # noqa: E402


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(CONFIGS)
    os.makedirs(out, exist_ok=True)
    for name in names:
        path = os.path.join(out, f"{name}.pt")
        if os.path.exists(path):
            continue
        model = build(name)
        tmp = path + ".tmp"
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
