#!/usr/bin/python3
"""Seeds for the structure-aware fuzz targets (scripts/fuzz.sh): pickles written opcode by
opcode as torch.save and torch.jit.save lay them out, over the storages fuzz_torch_pickle
provides ("1": 16 bytes, "2": 64, "3": 4096), the zip_layout records that hold them, and a
Hugging Face safetensors file.  Usage: make_seeds.py TARGET DIR"""
import json
import struct
import sys


def s(x):
    return b"X" + struct.pack("<I", len(x)) + x.encode()


def long(v):
    return b"\x8a\x08" + struct.pack("<q", v)


ORDERED_DICT = b"ccollections\nOrderedDict\n)R"


def tensor(key, numel, shape, stride):
    storage = b"(" + s("storage") + b"ctorch\nFloatStorage\n" + s(key) + s("cpu") + long(numel) + b"tQ"
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + long(0) + b"(" + b"".join(map(long, shape)) + b"t(" +
            b"".join(map(long, stride)) + b"t\x89" + ORDERED_DICT + b"tR")


def state_dict():
    return (b"\x80\x02" + ORDERED_DICT + b"(" + s("a") + tensor("1", 4, [4], [1]) + s("b") + tensor("2", 16, [4, 4], [4, 1]) +
            s("c") + tensor("3", 1024, [32, 32], [32, 1]) + b"u.")


def module_tree():
    # root M {"w": tensor, "sub": M {"w": tensor}}, the submodule memoized and fetched back.
    sub = b"c__torch__.M\nM\n)\x81}(" + s("w") + tensor("2", 16, [16], [1]) + b"ub" + b"r\x00\x00\x00\x00"
    return (b"\x80\x02" + sub + b"0" + b"c__torch__.M\nM\n)\x81}(" + s("w") + tensor("1", 4, [2, 2], [2, 1]) + s("sub") +
            b"j\x00\x00\x00\x00ub.")


def record(name, flags, payload):
    return bytes([name, flags]) + struct.pack("<H", len(payload)) + payload


def hugging_face():
    shapes = {"text_model.embeddings.position_embedding.weight": [4, 8], "text_projection.weight": [4, 8],
              "logit_scale": [], "vision_model.embeddings.class_embedding": [8],
              "vision_model.embeddings.position_embedding.weight": [5, 8], "visual_projection.weight": [4, 8],
              "vision_model.embeddings.patch_embedding.weight": [8, 3, 2, 2], "vision_model.pre_layrnorm.weight": [8],
              "vision_model.pre_layrnorm.bias": [8]}
    for p in ("q", "k", "v"):
        shapes[f"vision_model.encoder.layers.0.self_attn.{p}_proj.weight"] = [8, 8]
        shapes[f"vision_model.encoder.layers.0.self_attn.{p}_proj.bias"] = [8]
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + bytes(offset)


target, out = sys.argv[1], sys.argv[2]
seeds = {
    "torch_pickle": {"state_dict": state_dict(), "module_tree": module_tree()},
    "zip_layout": {"state_dict": record(0, 0, state_dict()) + record(2, 0, bytes(16)) + record(3, 0, bytes(64)),
                   "deflated": record(0, 1, module_tree()) + record(2, 1, bytes(16)) + record(4, 9, b"3")},
    "safetensors": {"hugging_face.safetensors": hugging_face()},
}[target]
for name, data in seeds.items():
    with open(f"{out}/{name}", "wb") as f:
        f.write(data)
