"""clip_cpp.distributed on a Dask LocalCluster of two worker processes on 127.0.0.1
(pytest; needs the module and Debian's python3-distributed): the same folder as the single
process `clip embed`, byte for byte, also when a worker is killed in the middle of the run."""
import os
import signal
import subprocess
import sys
import threading
import time

import distributed
import pytest

import generated_inputs
from clip_cpp import distributed as clip_distributed

CLI = os.environ["CLIP_CLI"]
MODEL = "demo-shapes"
ARGS = dict(part_size=8, batch=4)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return generated_inputs.make(tmp_path_factory.mktemp("distributed_inputs"))


@pytest.fixture(scope="module")
def single_process(inputs, tmp_path_factory):
    """The folder `clip embed` writes alone, with the same arguments."""
    root, _ = inputs
    out = tmp_path_factory.mktemp("single") / "parts"
    r = subprocess.run([CLI, "embed", str(root), "--model", MODEL, "--out", str(out), "--part-size",
                        str(ARGS["part_size"]), "--batch", str(ARGS["batch"])], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return generated_inputs.folder_bytes(out)


@pytest.fixture
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def test_two_workers_write_what_one_process_writes(inputs, single_process, client, tmp_path):
    root, _ = inputs
    out = tmp_path / "parts"
    items, embedded, failed = clip_distributed.embed(client, [root], out, MODEL, threads=1, **ARGS)
    assert (items, embedded, failed) == (300, 300 - len(inputs[1]), len(inputs[1]))
    assert generated_inputs.folder_bytes(out) == single_process
    # A second run finds every part finished and changes nothing.
    assert clip_distributed.embed(client, [root], out, MODEL, threads=1, **ARGS) == (items, embedded, failed)
    assert generated_inputs.folder_bytes(out) == single_process


def test_a_worker_killed_mid_run_changes_nothing(inputs, single_process, client, tmp_path):
    root, _ = inputs
    out = tmp_path / "parts"
    result, errors = [], []

    def run():
        try:
            result.append(clip_distributed.embed(client, [root], out, MODEL, threads=1, **ARGS))
        except Exception as e:  # reported below
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not (out / "part-00002.jsonl").exists():  # the workers have loaded the model and run
        assert time.monotonic() < deadline and thread.is_alive(), errors
        time.sleep(0.001)
    victim = next(iter(client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)
    finished_before = len(list(out.glob("part-*.jsonl")))
    thread.join(timeout=300)
    assert not errors, errors
    assert finished_before < 32, "the worker was killed after the run's end"
    assert not (out / "manifest.json").exists() or result
    assert generated_inputs.folder_bytes(out) == single_process
    assert victim not in client.run(os.getpid).values()


def test_an_fsspec_url_gets_the_same_parts(inputs, single_process, client, tmp_path):
    # file:// goes through fsspec as any other protocol would: parts made in each worker's
    # staging folder and copied up (through temporary names), the manifest from copies.
    root, _ = inputs
    out = tmp_path / "url"
    result = clip_distributed.embed(client, [root], f"file://{out}", MODEL, threads=1, **ARGS)
    assert result == (300, 300 - len(inputs[1]), len(inputs[1]))
    assert generated_inputs.folder_bytes(out) == single_process
    # Finished parts are skipped: a second run leaves every file as it was.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert clip_distributed.embed(client, [root], f"file://{out}", MODEL, threads=1, **ARGS) == result
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "manifest.json"} == \
        {k: v for k, v in stamps.items() if k != "manifest.json"}
    assert generated_inputs.folder_bytes(out) == single_process


@pytest.fixture
def ftp_server(tmp_path):
    """A local FTP server (Debian's python3-pyftpdlib) on 127.0.0.1 serving a fresh folder:
    (its URL, the folder). The workers reach it only through the network, as they would a
    remote store."""
    served = tmp_path / "ftp"
    served.mkdir()
    script = ("import sys\n"
              "from pyftpdlib.authorizers import DummyAuthorizer\n"
              "from pyftpdlib.handlers import FTPHandler\n"
              "from pyftpdlib.servers import ThreadedFTPServer\n"
              "users = DummyAuthorizer()\n"
              "users.add_user('clip', 'secret', sys.argv[1], perm='elradfmwMT')\n"
              "FTPHandler.authorizer = users\n"
              "server = ThreadedFTPServer(('127.0.0.1', 0), FTPHandler)\n"
              "print(server.address[1], flush=True)\n"
              "server.serve_forever()\n")
    server = subprocess.Popen([sys.executable, "-c", script, str(served)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(server.stdout.readline())
        yield f"ftp://clip:secret@127.0.0.1:{port}/embeddings", served / "embeddings"
    finally:
        server.kill()
        server.wait()


def test_parts_reach_a_remote_store_over_ftp(inputs, single_process, client, ftp_server):
    # A store that is not a path: every file goes up and down through FTP (fsspec's ftp
    # protocol), under temporary names that are renamed when whole.
    root, _ = inputs
    url, served = ftp_server
    result = clip_distributed.embed(client, [root], url, MODEL, threads=1, **ARGS)
    assert result == (300, 300 - len(inputs[1]), len(inputs[1]))
    assert generated_inputs.folder_bytes(served) == single_process
    stamps = {p.name: p.stat().st_mtime_ns for p in served.iterdir() if p.name != "manifest.json"}
    assert clip_distributed.embed(client, [root], url, MODEL, threads=1, **ARGS) == result
    assert {p.name: p.stat().st_mtime_ns for p in served.iterdir() if p.name != "manifest.json"} == stamps
    assert generated_inputs.folder_bytes(served) == single_process
    # A part removed from the store (to be made again) is made again by the next run, by
    # workers that have seen it there before.
    for ext in (".npy", ".jsonl"):
        (served / f"part-00003{ext}").unlink()
    assert clip_distributed.embed(client, [root], url, MODEL, threads=1, **ARGS) == result
    assert generated_inputs.folder_bytes(served) == single_process
