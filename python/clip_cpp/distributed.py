"""Embedding a collection across machines with Dask: the parts of `clip embed --out DIR`,
written by Dask workers, one task per shard.

    python -m clip_cpp.distributed embed --scheduler tcp://HOST:8786 \\
        --input /data/shards/ --out /data/embeddings --model ViT-B/32

Every worker loads the model once (a worker plugin) and writes its parts itself into DIR,
which every worker must see at the same path (a shared filesystem), or which is an fsspec
URL (s3://bucket/embeddings, file:///..., any protocol the installation has): each part is
then made in the worker's local staging folder and copied up, its .jsonl last. The client
only plans and waits. Retries and lost workers are Dask's job; a part is written atomically, so a task
that dies leaves nothing half-written, and parts already finished are skipped, by a re-run
too. A last task writes DIR/manifest.json. The folder is the one `clip embed` writes with the
same arguments, byte for byte where the model gives the same bits (docs/COLLECTIONS.md).
Starting a scheduler and workers: docs/COLLECTIONS.md.
"""
import argparse
import contextlib
import os
import sys
import tempfile
import uuid

import distributed

from . import _clip_cpp as _native

PLUGIN = "clip-cpp-model"


def _worker_model():
    """(model, preprocess, check) of the worker running the calling task."""
    from distributed import get_worker
    return get_worker().plugins[PLUGIN].loaded()


def _keep_freed_memory():
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also stops glibc
    from raising its mmap threshold: every decoded photo (6 MB at 1920x1080) was then mapped,
    faulted in and unmapped again. `clip embed` over 186 such photos, 1 model thread: 16.9
    images/s, 14.1 with that variable; a one-thread Dask worker made 11.5. Large blocks stay
    in the heap (up to 64 MiB each) and 256 MiB may stay free before glibc trims."""
    import ctypes
    libc = ctypes.CDLL(None)
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    libc.mallopt(m_mmap_threshold, 64 << 20)
    libc.mallopt(m_trim_threshold, 256 << 20)


class ModelPlugin(distributed.WorkerPlugin):
    """Loads the model once per worker process, on its first task (then kept)."""

    name = PLUGIN

    def __init__(self, model, precision="fp32", config="", threads=0):
        self.model, self.precision, self.config, self.threads = model, precision, config, threads
        self._loaded = None

    def setup(self, worker=None):
        self._loaded = None

    def teardown(self, worker=None):
        self._loaded = None

    def loaded(self):
        if self._loaded is None:
            _keep_freed_memory()
            if self.threads > 0:
                _native.set_num_threads(self.threads)
            model, preprocess = _native.load(self.model, "cpu", False, "", self.precision, self.config)
            self._loaded = (model, preprocess, _native.model_check(model))
        return self._loaded


def _is_url(out):
    return "://" in out


@contextlib.contextmanager
def _staging():
    """A local folder for the files of one task, in the worker's own directory."""
    from distributed import get_worker
    with tempfile.TemporaryDirectory(prefix="clip-staging-", dir=get_worker().local_directory) as stage:
        yield stage


def _store(out):
    """(fsspec filesystem, path in it) of a URL: a new one for each task. fsspec keeps one per
    thread and arguments, with the listings it has read (its ftp answers `exists` from them),
    which another worker or the user may have changed since an earlier task read them."""
    import fsspec
    return fsspec.core.url_to_fs(out, skip_instance_cache=True)


def _shown(out):
    """`out` without a password, for task names (the scheduler shows and logs them)."""
    from urllib.parse import urlsplit, urlunsplit
    if not _is_url(out):
        return out
    url = urlsplit(out)
    if url.password is None:
        return out
    return urlunsplit(url._replace(netloc=url.netloc.replace(f":{url.password}@", ":***@", 1)))


def _upload(fs, local, remote):
    """`local` to `remote` through a temporary name, so that nothing reads it half-written."""
    tmp = f"{remote}.tmp-{uuid.uuid4().hex}"
    fs.put_file(local, tmp)
    fs.mv(tmp, remote)


def _begin(out, shards, skipped, info):
    _, _, check = _worker_model()
    args = (shards, skipped, info["model"], info["config"], info["precision"], check, info["dtype"], info["batch"],
            info["part_size"])
    if not _is_url(out):
        _native.begin_run(out, *args)
        return len(shards)
    # run.json is checked (or written) in a local copy, then copied up when it was not there.
    fs, root = _store(out)
    with _staging() as stage:
        there = fs.exists(f"{root}/run.json")
        if there:
            fs.get_file(f"{root}/run.json", os.path.join(stage, "run.json"))
        _native.begin_run(stage, *args)
        if not there:
            fs.makedirs(root, exist_ok=True)
            _upload(fs, os.path.join(stage, "run.json"), f"{root}/run.json")
    return len(shards)


def _embed(out, shard, part, info):
    name = _native.part_name(part)
    url = _is_url(out)
    if url:
        fs, root = _store(out)
        if fs.exists(f"{root}/{name}.jsonl"):
            return None  # finished by an earlier run or an earlier try
    elif _native.part_done(out, part):
        return None
    model, preprocess, _ = _worker_model()
    # A worker's share of its machine is its model's threads: decoders then take turns with
    # the model instead of competing with the other workers' models (docs/COLLECTIONS.md).
    args = (tuple(shard), part)
    options = (info["batch"], info["dtype"], info["decode_threads"], info["threads"])
    if not url:
        return _native.embed_part(model, preprocess, *args, out, *options)
    with _staging() as stage:
        summary = _native.embed_part(model, preprocess, *args, stage, *options)
        for ext in (".npy", ".jsonl"):  # the .jsonl last: it marks the part finished
            _upload(fs, os.path.join(stage, name + ext), f"{root}/{name}{ext}")
    return summary


def _finish(out, _):
    if not _is_url(out):
        return _native.finish_run(out)
    # The manifest is made from local copies of run.json and every part (the embeddings:
    # 2 KB per image at most), then copied up; temporary files of killed tasks are removed.
    fs, root = _store(out)
    with _staging() as stage:
        # Full names from the detailed listing: fsspec's ftp gives bare names without it.
        for path in (entry["name"] for entry in fs.ls(root, detail=True)):
            base = path.rsplit("/", 1)[-1]
            if ".tmp-" in base:
                fs.rm(path)
            elif base == "run.json" or base.startswith("part-"):
                fs.get_file(path, os.path.join(stage, base))
        summary = _native.finish_run(stage)
        _upload(fs, os.path.join(stage, "manifest.json"), f"{root}/manifest.json")
    return summary


def embed(client, inputs, out, model, *, part_size=10000, batch=16, dtype="float32", precision="fp32", config="",
          threads=0, decode_threads=0, retries=3, progress=None):
    """Embeds `inputs` (image files, folders, tar shards, .txt lists, as `clip embed` reads
    them) into `out`, a folder every worker sees or an fsspec URL, on the cluster of `client`
    (a distributed.Client). Returns (items, embedded, failed). `threads`: the model's threads
    in each worker (0: the library's default)."""
    out = os.fspath(out)
    out = out.rstrip("/") if _is_url(out) else os.path.abspath(out)
    shards, skipped = _native.plan_collection([os.fspath(i) for i in inputs], part_size)
    if not shards:
        raise RuntimeError("no image files found in the inputs")
    # Resolved here, where the user's relative paths mean what they meant.
    info = dict(model=_native.model_reference(os.fspath(model)),
                config=_native.model_reference(os.fspath(config)) if config else "", precision=precision,
                dtype=dtype, batch=batch, part_size=part_size, decode_threads=decode_threads,
                threads=threads)
    plugin = ModelPlugin(info["model"], precision, info["config"], threads)  # absolute: workers start elsewhere
    register = getattr(client, "register_plugin", None) or client.register_worker_plugin
    register(plugin, name=PLUGIN)
    shown = _shown(out)  # in the task names
    begun = client.submit(_begin, out, shards, skipped, info, pure=False, retries=retries, key=f"clip-begin-{shown}")
    begun.result()
    parts = [client.submit(_embed, out, shard, p, info, pure=False, retries=retries,
                           key=f"clip-{_native.part_name(p)}-{shown}") for p, shard in enumerate(shards)]
    for done, _ in enumerate(distributed.as_completed(parts, with_results=True), 1):
        if progress:
            progress(done, len(parts))
    return client.submit(_finish, out, parts, pure=False, retries=retries, key=f"clip-finish-{shown}").result()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m clip_cpp.distributed",
                                     description="Embed a collection on a Dask cluster (docs/COLLECTIONS.md)")
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed", help="Embed images into a folder of parts, one Dask task per shard")
    e.add_argument("--scheduler", required=True, help="The Dask scheduler's address, tcp://HOST:PORT")
    e.add_argument("--input", action="append", required=True,
                   help="Image files, folders, tar shards or .txt lists, as clip embed reads them (repeatable)")
    e.add_argument("--out", required=True,
                   help="The folder of parts, which every worker must see at this path, or an fsspec URL")
    e.add_argument("--model", required=True, help="Built-in name, official name or checkpoint file")
    e.add_argument("--config", default="", help="The model's open_clip_config.json")
    e.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    e.add_argument("--part-size", type=int, default=10000, help="Images per part (a tar shard is one part)")
    e.add_argument("--batch", type=int, default=16, help="Images per model call")
    e.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    e.add_argument("--threads", type=int, default=0, help="The model's threads in each worker (default: all CPUs)")
    args = parser.parse_args(argv)
    with distributed.Client(args.scheduler) as client:
        def show(done, total):
            print(f"\rparts {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)
        items, embedded, failed = embed(client, args.input, args.out, args.model, part_size=args.part_size,
                                        batch=args.batch, dtype=args.dtype, precision=args.precision,
                                        config=args.config, threads=args.threads, progress=show)
    print(f"clip_cpp.distributed: embedded {embedded} of {items} items into {args.out}"
          + (f" ({failed} unreadable: status \"error\" in the parts' .jsonl)" if failed else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
