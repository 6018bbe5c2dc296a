#!/usr/bin/python3
"""Synthetic images of coloured shapes, for the built-in demo-shapes model.

Six shapes x eight colours, drawn anti-aliased at random size, position and rotation on
a low-saturation background with a gradient and noise. Needs only numpy, so the tests can
make fresh images without PyTorch:

    shapes.py --seed 7 --count 200 --size 64 --out DIR   # DIR/0000.png ... + labels.json
"""
import argparse
import json
import os
import struct
import zlib

import numpy as np

SHAPES = ["circle", "square", "triangle", "star", "hexagon", "cross"]
COLOURS = {
    "red": (0.86, 0.10, 0.10),
    "orange": (1.00, 0.55, 0.00),
    "yellow": (0.96, 0.88, 0.10),
    "green": (0.10, 0.68, 0.20),
    "blue": (0.12, 0.30, 0.92),
    "purple": (0.55, 0.15, 0.75),
    "pink": (1.00, 0.50, 0.76),
    "brown": (0.50, 0.30, 0.10),
}
LABELS = [f"{c} {s}" for s in SHAPES for c in COLOURS]  # 48 classes, "red circle" ...


def luminance(rgb):
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def polygon(points, x, y):
    """Even-odd point-in-polygon test of the grid (x, y) against a closed polygon."""
    inside = np.zeros(x.shape, dtype=bool)
    n = len(points)
    for i in range(n):
        (x0, y0), (x1, y1) = points[i], points[(i + 1) % n]
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at)
    return inside


def regular(n, radius, angle, star_inner=None):
    points = []
    steps = n * 2 if star_inner else n
    for k in range(steps):
        r = radius if not star_inner or k % 2 == 0 else radius * star_inner
        a = angle + 2 * np.pi * k / steps
        points.append((r * np.cos(a), r * np.sin(a)))
    return points


def mask(shape, radius, angle, x, y):
    """Coverage of `shape` centred at the origin, on grid coordinates x, y."""
    if shape == "circle":
        return x * x + y * y <= radius * radius
    if shape == "square":
        return polygon(regular(4, radius, angle), x, y)
    if shape == "triangle":
        return polygon(regular(3, radius * 1.1, angle), x, y)
    if shape == "hexagon":
        return polygon(regular(6, radius, angle), x, y)
    if shape == "star":
        return polygon(regular(5, radius * 1.15, angle, star_inner=0.42), x, y)
    if shape == "cross":  # a plus sign: two bars of width radius * 0.7
        c, s = np.cos(angle), np.sin(angle)
        u, v = x * c + y * s, -x * s + y * c
        half = radius * 0.35
        return ((np.abs(u) <= radius) & (np.abs(v) <= half)) | ((np.abs(v) <= radius) & (np.abs(u) <= half))
    raise ValueError(shape)


def draw(rng, shape, colour, size=64, supersample=3):
    """One uint8 [size, size, 3] image of a `colour` `shape`."""
    rgb = np.array(COLOURS[colour]) + rng.uniform(-0.06, 0.06, 3)
    rgb = np.clip(rgb, 0, 1)
    while True:  # a background that the shape stands out from
        grey = rng.uniform(0.08, 0.92)
        base = np.clip(grey + rng.uniform(-0.07, 0.07, 3), 0, 1)
        if abs(luminance(base) - luminance(rgb)) > 0.18 or np.abs(base - rgb).max() > 0.45:
            break
    n = size * supersample
    coords = (np.arange(n) + 0.5) / supersample
    y, x = np.meshgrid(coords, coords, indexing="ij")
    radius = size * rng.uniform(0.18, 0.38)
    cx = rng.uniform(radius, size - radius)
    cy = rng.uniform(radius, size - radius)
    cover = mask(shape, radius, rng.uniform(0, 2 * np.pi), x - cx, y - cy).astype(np.float32)
    cover = cover.reshape(size, supersample, size, supersample).mean(axis=(1, 3))[..., None]
    gradient = rng.uniform(-0.15, 0.15, 2)
    ramp = (gradient[0] * (x[::supersample, ::supersample] / size - 0.5) +
            gradient[1] * (y[::supersample, ::supersample] / size - 0.5))[..., None]
    background = np.clip(base + ramp, 0, 1)
    image = background * (1 - cover) + rgb * cover
    image = image + rng.normal(0, rng.uniform(0.0, 0.06), image.shape)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def sample(rng, size=64):
    """A random (image, shape, colour)."""
    shape = SHAPES[rng.integers(len(SHAPES))]
    colour = list(COLOURS)[rng.integers(len(COLOURS))]
    return draw(rng, shape, colour, size), shape, colour


def write_png(path, image):
    """An 8-bit RGB PNG with the standard library only."""
    h, w, _ = image.shape
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) +
                chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    labels = {}
    for i in range(args.count):
        image, shape, colour = sample(rng, args.size)
        name = f"{i:04d}.png"
        write_png(os.path.join(args.out, name), image)
        labels[name] = f"{colour} {shape}"
    with open(os.path.join(args.out, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)


if __name__ == "__main__":
    main()
