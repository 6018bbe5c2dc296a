"""`clip embed --out DIR` over a few hundred generated images of several formats, some
corrupt, in folders and tar shards (pytest; ctest runs it with the clip binary of the
build, also under ASan): a run killed with SIGKILL at random moments and started again
ends with exactly the bytes of an uninterrupted run, and every corrupt input is recorded."""
import json
import os
import random
import subprocess
import time

import numpy as np
import pytest

import generated_inputs

CLI = os.environ["CLIP_CLI"]
MODEL = "demo-shapes"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return generated_inputs.make(tmp_path_factory.mktemp("embed_inputs"))


def embed(root, out, **kw):
    return subprocess.Popen([CLI, "embed", str(root), "--model", MODEL, "--out", str(out), "--part-size", "32",
                             "--batch", "8", "--threads", "2"], stderr=subprocess.PIPE, text=True, **kw)


def test_a_run_killed_at_random_moments_ends_as_an_uninterrupted_one(inputs, tmp_path):
    root, corrupt = inputs
    start = time.monotonic()
    whole = embed(root, tmp_path / "whole")
    _, err = whole.communicate(timeout=600)
    seconds = time.monotonic() - start
    assert whole.returncode == 0, err
    want = generated_inputs.folder_bytes(tmp_path / "whole")
    parts = [p for p in want if p.endswith(".npy")]
    assert len(parts) == 10, "240 files in parts of 32, then one part per tar shard"

    # Every record: one per input, corrupt ones with status "error", the rest embedded.
    records = [json.loads(line) for p in sorted(want) if p.endswith(".jsonl") for line in want[p].decode().splitlines()]
    assert len(records) == 240 + 60
    failed = set()
    for r in records:
        name = os.path.basename(r["path"]) if "member" not in r else \
            f"{os.path.basename(r['path'])[6:11].lstrip('0') or '0'}:{r['member']}"
        if r["status"] == "error":
            assert r["error"], r
            failed.add(name)
    assert failed == corrupt
    manifest = json.loads(want["manifest.json"])
    assert manifest["embedded"] == 300 - len(corrupt) and manifest["failed"] == len(corrupt)

    # Episodes: from an empty folder, runs killed at moments drawn over a whole run's
    # length (loading, planning, decoding, writing a part, the manifest) until one finishes;
    # its folder must equal the uninterrupted one. Until at least 12 kills were survived.
    rng = random.Random(20261203)
    kills = 0
    for episode in range(40):
        out = tmp_path / f"killed{episode}"
        for attempt in range(100):
            run = embed(root, out)
            time.sleep(rng.uniform(0.0, seconds))
            if run.poll() is None:
                run.kill()
                run.wait()
                kills += 1
                continue
            _, err = run.communicate(timeout=600)
            assert run.returncode == 0, err
            break
        assert generated_inputs.folder_bytes(out) == want, f"episode {episode}: the resumed run's folder differs"
        if kills >= 12:
            break
    assert kills >= 12, f"only {kills} runs were killed before finishing (a run takes {seconds:.2f} s)"
    print(f"{kills} kills in {episode + 1} episodes survived (a whole run: {seconds:.2f} s)")


def test_a_run_with_other_arguments_is_refused(inputs, tmp_path):
    root, _ = inputs
    assert embed(root, tmp_path / "run").wait(timeout=600) == 0
    other = subprocess.run([CLI, "embed", str(root), "--model", MODEL, "--out", str(tmp_path / "run"), "--part-size",
                            "32", "--batch", "4"], capture_output=True, text=True)
    assert other.returncode == 1
    assert "holds another run (batch 8 there, 4 now)" in other.stderr, other.stderr


def test_search_over_the_parts_equals_search_over_one_npy(inputs, tmp_path):
    root, _ = inputs
    assert embed(root, tmp_path / "parts").wait(timeout=600) == 0
    one = subprocess.run([CLI, "embed", str(root), "--model", MODEL, "--out", str(tmp_path / "one.npy")],
                         capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    results = []
    for index in (tmp_path / "parts", tmp_path / "one.npy"):
        r = subprocess.run([CLI, "search", "--index", str(index), "--json", "--top", "5", "a red star"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        results.append(json.loads(r.stdout))
    assert [x["file"] for x in results[0]["results"]] == [x["file"] for x in results[1]["results"]]
    assert np.allclose([x["score"] for x in results[0]["results"]], [x["score"] for x in results[1]["results"]],
                       atol=1e-6)
