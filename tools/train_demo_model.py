#!/usr/bin/python3
"""Trains demo-shapes, the small CLIP built into the library, on synthetic shapes.

A ViT CLIP of the official architecture (tools/bench/clip_torch.py), tokenized with our
own `clip tokenize` (the official vocabulary), trained contrastively on captions such as
"a photo of a red circle." for the 48 shape-colour classes of tools/shapes.py. Writes the
weights as an official-style torch.save state dict: fp16 where the official checkpoints
use fp16, LayerNorms, class/positional embeddings and logit_scale in fp32; the token
embedding is fp16 too, to keep the file under 10 MB.

    /usr/bin/python3 tools/train_demo_model.py --clip build/clip --out models/demo-shapes.pt

Deterministic for a given seed, thread count and PyTorch build. Needs Debian's
python3-torch (with libopenblas0-pthread). See models/README.md for the time it takes.
"""
import argparse
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "bench"))
import shapes  # noqa: E402
from clip_torch import CLIP, official_dtype  # noqa: E402

CONFIG = dict(embed=64, resolution=64, vision_layers=4, vision_width=128, patch=16, context=77, vocab=49408,
              width=64, heads=1, layers=3)
TEMPLATES = ["a photo of a {}.", "a {}.", "a drawing of a {}.", "a picture of a {}.", "{}", "a small {}.",
             "a big {}.", "an image of a {}.", "a {} on a plain background.", "a rendering of a {}."]
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def tokenize(clip_binary, texts):
    out = subprocess.run([clip_binary, "tokenize", *texts], check=True, capture_output=True, text=True)
    return torch.tensor([[int(t) for t in line.split()] for line in out.stdout.splitlines()], dtype=torch.long)


def make_images(seed, count):
    rng = np.random.default_rng(seed)
    images = np.empty((count, 64, 64, 3), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for i in range(count):
        image, shape, colour = shapes.sample(rng, 64)
        images[i] = image
        labels[i] = shapes.LABELS.index(f"{colour} {shape}")
    return images, labels


def to_input(images):
    x = (images.astype(np.float32) / 255 - MEAN) / STD
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def encode_text(model, tokens):
    # Causal: positions after the last end token cannot change the features, so stop there.
    length = int(tokens.argmax(dim=-1).max()) + 1
    x = model.token_embedding(tokens[:, :length]) + model.positional_embedding[:length]
    x = model.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
    x = model.ln_final(x)
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ model.text_projection


def accuracy(model, images, labels, prompt_tokens):
    with torch.no_grad():
        text = F.normalize(encode_text(model, prompt_tokens), dim=-1)
        hits = 0
        for i in range(0, len(images), 256):
            image = F.normalize(model.encode_image(to_input(images[i:i + 256])), dim=-1)
            hits += int(((image @ text.t()).argmax(dim=-1) == torch.from_numpy(labels[i:i + 256])).sum())
    return hits / len(images)


def official_state_dict(model):
    # The token embedding (49408 rows) is the one deviation: fp16 instead of fp32, for size.
    return {key: value.detach().to(torch.float16 if key == "token_embedding.weight" else official_dtype(key))
            for key, value in model.state_dict().items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="build/clip", help="the clip binary, for its tokenizer")
    parser.add_argument("--out", default="models/demo-shapes.pt")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--images", type=int, default=40000, help="training images (re-used each epoch)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.time()

    captions = [t.format(label) for label in shapes.LABELS for t in TEMPLATES]
    caption_tokens = tokenize(args.clip, captions).view(len(shapes.LABELS), len(TEMPLATES), -1)
    eval_tokens = caption_tokens[:, 0]  # "a photo of a {}."

    images, labels = make_images(args.seed, args.images)
    val_images, val_labels = make_images(args.seed + 1, 960)
    print(f"data: {len(images)} training images in {time.time() - started:.0f} s", flush=True)

    model = CLIP(**CONFIG)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, args.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))

    generator = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(images), generator=generator)
    cursor = 0
    for step in range(args.steps):
        if cursor + args.batch > len(images):
            order, cursor = torch.randperm(len(images), generator=generator), 0
        index = order[cursor:cursor + args.batch].numpy()
        cursor += args.batch
        batch = images[index]
        flip = torch.rand(len(index), generator=generator) < 0.5
        batch = np.where(flip.numpy()[:, None, None, None], batch[:, :, ::-1], batch)
        label = torch.from_numpy(labels[index])
        template = torch.randint(len(TEMPLATES), (len(index),), generator=generator)
        tokens = caption_tokens[label, template]

        image = F.normalize(model.encode_image(to_input(batch)), dim=-1)
        text = F.normalize(encode_text(model, tokens), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * image @ text.t()
        # Several images share a class in a batch: every caption of the same class is a match.
        same = (label[:, None] == label[None, :]).float()
        target = same / same.sum(dim=1, keepdim=True)
        loss = 0.5 * (torch.sum(-target * F.log_softmax(logits, dim=1), dim=1).mean() +
                      torch.sum(-target * F.log_softmax(logits.t(), dim=1), dim=1).mean())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == args.steps - 1:
            line = f"step {step:5d}  loss {loss.item():.3f}  scale {model.logit_scale.exp().item():.1f}"
            if step % 500 == 0 or step == args.steps - 1:
                line += f"  val acc {accuracy(model, val_images, val_labels, eval_tokens):.3f}"
            print(f"{line}  {time.time() - started:.0f} s", flush=True)

    model.eval()
    test_images, test_labels = make_images(args.seed + 2, 960)
    print(f"held-out accuracy over the 48 prompts 'a photo of a <colour> <shape>.': "
          f"{accuracy(model, test_images, test_labels, eval_tokens):.3f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    torch.save(official_state_dict(model), tmp)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB) in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
