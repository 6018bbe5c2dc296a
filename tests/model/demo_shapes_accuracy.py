#!/usr/bin/python3
"""Zero-shot accuracy of the built-in demo-shapes model through `clip classify`.

Draws 200 new images (a seed the training never used) with tools/shapes.py, classifies
them against the 48 shape-colour prompts "a photo of a <colour> <shape>." and fails below
90% top-1 accuracy. Usage: demo_shapes_accuracy.py --clip BUILD/clip --work DIR
"""
import argparse
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import shapes  # noqa: E402

SEED, COUNT, REQUIRED = 424242, 200, 0.90


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clip", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    images = os.path.join(args.work, "images")
    subprocess.run([sys.executable, shapes.__file__, "--seed", str(SEED), "--count", str(COUNT), "--out", images],
                   check=True)
    with open(os.path.join(images, "labels.json")) as f:
        truth = json.load(f)
    files = [os.path.join(images, name) for name in sorted(truth)]
    out = subprocess.run([args.clip, "classify", "--model", "demo-shapes", "--template", "a photo of a {}.", "--top", "1",
                          "--json", "--labels", *shapes.LABELS, "--", *files],
                         check=True, capture_output=True, text=True).stdout
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == COUNT, f"expected {COUNT} results, got {len(results)}"
    mistakes = collections.Counter()
    for r in results:
        expected = truth[os.path.basename(r["image"])]
        if r["labels"][0] != expected:
            mistakes[f"{expected} -> {r['labels'][0]}"] += 1
    accuracy = 1 - sum(mistakes.values()) / COUNT
    print(f"demo-shapes zero-shot accuracy on {COUNT} new images over 48 prompts: {accuracy:.3f} "
          f"(required {REQUIRED:.2f})")
    for confusion, n in mistakes.most_common(10):
        print(f"  {n} x {confusion}")
    return 0 if accuracy >= REQUIRED else 1


if __name__ == "__main__":
    sys.exit(main())
