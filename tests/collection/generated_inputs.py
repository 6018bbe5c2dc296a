"""The inputs the tests of sharded runs embed: a few hundred small generated images of six
formats in two folders, two tar shards (webdataset: NNNNNN.ext + NNNNNN.txt), and some
corrupt files among them (truncated, or garbage with an image's name)."""
import io
import tarfile

import numpy as np
from PIL import Image

FORMATS = [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp"), ("BMP", ".bmp"), ("GIF", ".gif"), ("TIFF", ".tif")]


def image_bytes(rng, fmt):
    h, w = rng.integers(24, 96, size=2)
    pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def make(root, files=240, samples=30):
    """(root, names of the corrupt inputs): `files` files in root/a and root/b, 1 in 12
    corrupt; two tar shards of `samples` samples, 1 in 10 truncated. Corrupt tar samples are
    named "S:MEMBER" (S: the shard's number)."""
    rng = np.random.default_rng(7)
    corrupt = set()
    for i in range(files):
        fmt, ext = FORMATS[i % len(FORMATS)]
        data = image_bytes(rng, fmt)
        if i % 12 == 5:
            data = data[: len(data) // 3]  # truncated
            corrupt.add(f"{i:04d}{ext}")
        elif i % 12 == 11:
            data = bytes(rng.integers(0, 256, size=200, dtype=np.uint8))  # garbage with an image name
            corrupt.add(f"{i:04d}{ext}")
        folder = root / ("a" if i < files // 2 else "b")
        folder.mkdir(exist_ok=True)
        (folder / f"{i:04d}{ext}").write_bytes(data)
    for s in range(2):
        with tarfile.open(root / f"shard-{s:05d}.tar", "w") as tar:
            for k in range(samples):
                fmt, ext = FORMATS[(s + k) % len(FORMATS)]
                data = image_bytes(rng, fmt)
                if k % 10 == 3:
                    data = data[:40]
                    corrupt.add(f"{s}:{k:06d}{ext}")
                for name, payload in ((f"{k:06d}{ext}", data), (f"{k:06d}.txt", b"a caption")):
                    info = tarfile.TarInfo(name)
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
    return root, corrupt


def folder_bytes(folder):
    """{file name: bytes} of every file in `folder`."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def random_run(root, rows, dim=512, part_rows=10000, seed=1, dtype=np.float32):
    """A finished run's folder (run.json, parts, manifest.json) of `rows` random unit vectors,
    as `clip embed --out DIR` leaves it, item i named "v{i}"; no model made them (search it
    with --vectors). Returns the rows, float32 [rows, dim]."""
    import hashlib
    import json
    import os

    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    parts = (rows + part_rows - 1) // part_rows
    all_rows, part_list = [], []
    for p in range(parts):
        n = min(part_rows, rows - p * part_rows)
        x = rng.standard_normal((n, dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x = x.astype(dtype)
        all_rows.append(x.astype(np.float32))
        name = os.path.join(root, "part-%05d" % p)
        np.save(name + ".npy", x)
        with open(name + ".jsonl", "w") as f:
            for r in range(n):
                f.write(json.dumps({"path": "v%d" % (p * part_rows + r), "bytes": 0, "status": "ok", "row": r}) + "\n")
        with open(name + ".npy", "rb") as f:
            part_list.append({"name": "part-%05d" % p, "npy_sha256": hashlib.sha256(f.read()).hexdigest()})
    run = {"format": "clip-embed-run/1", "model": "", "parts": parts, "model_check": []}
    with open(os.path.join(root, "run.json"), "w") as f:
        json.dump(run, f)
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(dict(run, part_list=part_list), f)
    return np.concatenate(all_rows)
