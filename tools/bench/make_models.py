#!/usr/bin/python3
"""Writes the full-size random-weight CLIP models of the benchmarks (fixed seeds) into OUT_DIR:
  <name>.pt          torch.save(state_dict), float32 (what the PyTorch peers load)
  <name>.jit.pt      the official format: a TorchScript archive with the official fp16/fp32
                     split (convert_weights), for the cold-start workload
  <name>.image.onnx  encode_image exported with torch.onnx.export (dynamic batch)
  <name>.text.onnx   encode_text, int64 tokens [N, 77] (ViT-B-32 only)
Usage: make_models.py OUT_DIR [NAME...]  (default: ViT-B-32 RN50). Existing files are kept."""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_torch import CONFIGS, build, official_dtype  # noqa: E402


class Encoder(nn.Module):
    def __init__(self, model, text):
        super().__init__()
        self.model, self.text = model, text

    def forward(self, x):
        return self.model.encode_text(x) if self.text else self.model.encode_image(x)


def write(path, save):
    if os.path.exists(path):
        return
    tmp = path + ".tmp"
    save(tmp)
    os.replace(tmp, path)
    print(f"wrote {path}")


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(CONFIGS)
    os.makedirs(out, exist_ok=True)
    for name in names:
        model = build(name)
        base = os.path.join(out, name)
        write(base + ".pt", lambda p: torch.save(model.state_dict(), p))
        image = torch.zeros(1, 3, 224, 224)
        tokens = torch.zeros(1, 77, dtype=torch.long)
        tokens[0, :3] = torch.tensor([49406, 320, 49407])

        def export(encoder, x, p, input_name):
            with torch.no_grad():
                torch.onnx.export(encoder, x, p, input_names=[input_name], output_names=["features"],
                                  dynamic_axes={input_name: {0: "batch"}, "features": {0: "batch"}}, opset_version=14)

        write(base + ".image.onnx", lambda p: export(Encoder(model, False), image, p, "image"))
        if name.startswith("ViT"):
            write(base + ".text.onnx", lambda p: export(Encoder(model, True), tokens, p, "tokens"))

        def save_jit(p):
            with torch.no_grad():
                traced = torch.jit.trace_module(model, {"encode_image": image})
            for key, param in traced.named_parameters():
                param.data = param.data.to(official_dtype(key))
            traced.save(p)

        write(base + ".jit.pt", save_jit)


if __name__ == "__main__":
    main()
