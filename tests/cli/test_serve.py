"""`clip serve` through HTTP on 127.0.0.1 (pytest; ctest runs it with the clip binary of
the build, also under ASan): every endpoint against the tool's own results, batching read
from /metrics, and each fault: bad input, limits, overload, deadlines, shutdown."""
import concurrent.futures
import io
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import numpy as np
import pytest

CLI = os.environ["CLIP_CLI"]
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
IMAGES = [os.path.join(ROOT, "examples", "images", f) for f in sorted(os.listdir(os.path.join(ROOT, "examples", "images")))]
MODEL = "demo-shapes"


class Server:
    def __init__(self, *args):
        self.proc = subprocess.Popen([CLI, "serve", "--model", MODEL, "--port", "0", *args], stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stderr.readline()
        match = re.search(r"on http://127\.0\.0\.1:(\d+) ", line)
        assert match, f"clip serve printed {line!r}"
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def request(self, path, body=None, content_type=None, headers=None, method=None):
        """(status, headers, body bytes); never raises for an HTTP status."""
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=dict(headers or {}))
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, path, payload=None, **kw):
        body = None if payload is None else json.dumps(payload).encode()
        status, headers, data = self.request(path, body, "application/json" if body else None, **kw)
        return status, json.loads(data) if data else None

    def metric(self, name):
        text = self.request("/metrics")[2].decode()
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))

    def stop(self):
        """SIGTERM; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        rest = self.proc.stderr.read()
        code = self.proc.wait(timeout=60)
        return code, rest


@pytest.fixture(scope="module")
def server():
    s = Server("--max-wait-ms", "50")
    yield s
    code, rest = s.stop()
    assert code == 0, rest
    assert "stopped" in rest


def make_index(tmp_path):
    """An index of copies of the example images, made by `clip embed`; its .npy path."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in IMAGES:
        (folder / os.path.basename(path)).write_bytes(open(path, "rb").read())
    index = str(tmp_path / "index.npy")
    tool("embed", str(folder), "--model", MODEL, "--out", index)
    return index


def tool(*args):
    return subprocess.run([CLI, *args], capture_output=True, check=True).stdout


def npy(data):
    return np.load(io.BytesIO(data))


def multipart(files, fields=()):
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for path in files:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{os.path.basename(path)}"'
                  f'\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
        out.write(open(path, "rb").read() + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def test_health_ready_models(server):
    assert server.json("/health") == (200, {"status": "ok"})
    assert server.json("/ready") == (200, {"status": "ready"})
    status, body = server.json("/v1/models")
    assert status == 200 and body["data"][0]["id"] == MODEL and body["data"][0]["embed_dim"] > 0


def test_a_port_in_use_is_an_error(server):
    """A second server on the first one's port is refused (httplib's default SO_REUSEPORT let
    the two share it, each getting some of the connections), and the first serves on."""
    port = server.url.rsplit(":", 1)[1]
    second = subprocess.run([CLI, "serve", "--model", MODEL, "--port", port], capture_output=True, text=True,
                            timeout=60)
    assert second.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in second.stderr
    assert server.json("/health") == (200, {"status": "ok"})


def test_a_burst_of_connections_is_accepted_at_once(server):
    """64 connections opened together, none answered yet: each is accepted by the kernel at
    once (httplib's backlog of 5 dropped the rest's SYNs, resent a second later, or reset them)."""
    import socket
    port = int(server.url.rsplit(":", 1)[1])
    started = time.time()
    held = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(64)]
    try:
        assert time.time() - started < 0.9  # a dropped SYN is resent after 1 s
    finally:
        for s in held:
            s.close()
    assert server.json("/health")[0] == 200


def test_embeddings_equal_the_tool(server):
    texts = ["a red star", "a blue circle", "étoile rouge"]
    want = npy(tool("encode-text", "--model", MODEL, "--normalize", *texts, "--out", "-"))
    status, body = server.json("/v1/embed/text", {"texts": texts})
    assert status == 200 and body["model"] == MODEL
    assert np.allclose(np.array(body["embeddings"], np.float32), want, atol=1e-6)
    status, _, data = server.request("/v1/embed/text", json.dumps({"texts": texts}).encode(), "application/json",
                                     headers={"Accept": "application/x-npy"})
    assert status == 200 and np.array_equal(npy(data), want)
    raw = npy(tool("encode-text", "--model", MODEL, *texts, "--out", "-"))
    assert np.allclose(np.array(server.json("/v1/embed/text", {"texts": texts, "normalize": False})[1]["embeddings"]),
                       raw, atol=1e-5)

    want = npy(tool("encode-image", "--model", MODEL, "--normalize", *IMAGES[:3], "--out", "-"))
    status, _, data = server.request("/v1/embed/image", open(IMAGES[0], "rb").read(), "image/png",
                                     headers={"Accept": "application/x-npy"})
    assert status == 200 and np.array_equal(npy(data), want[:1])
    body, content_type = multipart(IMAGES[:3])
    status, _, data = server.request("/v1/embed/image", body, content_type, headers={"Accept": "application/x-npy"})
    assert status == 200 and np.array_equal(npy(data), want), "multipart: embeddings in the order sent"


def test_classify_equals_the_tool(server):
    labels = ["red star", "blue circle", "yellow triangle"]
    want = json.loads(tool("classify", "--model", MODEL, "--json", IMAGES[0], "--labels", *labels))
    query = "&".join("labels=" + urllib.request.quote(label) for label in labels)
    status, _, data = server.request("/v1/classify?" + query, open(IMAGES[0], "rb").read(), "image/png")
    got = json.loads(data)
    assert status == 200 and got["labels"] == labels and np.allclose(got["probs"], want["probs"], atol=1e-6)
    body, content_type = multipart(IMAGES[:2], [("labels", label) for label in labels])
    status, _, data = server.request("/v1/classify", body, content_type)
    assert status == 200 and [r["image"] for r in json.loads(data)] == [os.path.basename(p) for p in IMAGES[:2]]


def behind_a_long_batch(server, path, payloads, long_payload):
    """POSTs each JSON payload on its own connection while the model runs `long_payload`:
    each request is sent but its last byte, the long one is started, and then every last byte
    goes in one loop, so the requests queue together behind it. (24 threads of urllib, or
    requests released together on an idle server, sometimes each ran before the next arrived on
    a loaded machine: one batch per request.) [(status, parsed body)] in the order given."""
    import socket
    import threading
    port = int(server.url.rsplit(":", 1)[1])
    raw = []
    for payload in payloads:
        body = json.dumps(payload).encode()
        raw.append(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    socks = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in raw]
    try:
        for s, r in zip(socks, raw):
            s.sendall(r[:-1])
        long_status = []
        long_one = threading.Thread(target=lambda: long_status.append(server.json(path, long_payload)[0]))
        long_one.start()
        time.sleep(0.03)  # the long batch read and running (it takes ~100 ms here, longer when loaded)
        for s, r in zip(socks, raw):
            s.sendall(r[-1:])
        results = []
        for s in socks:
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            results.append((int(head.split()[1]), json.loads(body)))
        long_one.join()
        assert long_status == [200]
        return results
    finally:
        for s in socks:
            s.close()


def test_concurrent_requests_are_batched_and_answered_alike(server):
    texts = [f"a photo of shape number {i}" for i in range(12)]  # + the long one: 13 of the 16 connection threads
    alone = {t: server.json("/v1/embed/text", {"texts": [t]})[1]["embeddings"][0] for t in texts}
    long_payload = {"texts": [f"a long batch, text number {i}" for i in range(1024)]}
    # Up to 5 bursts, until one runs as fewer batches than requests: behind the long batch, a
    # burst ran as 2-3 batches in most of 25 tries here, but as 6 or 12 in a few (the
    # connection threads got no CPU beside the model's two until it had finished).
    batches = []
    for _ in range(5):
        calls_before = server.metric('clip_batch_size_count{tower="text"}')
        results = behind_a_long_batch(server, "/v1/embed/text", [{"texts": [t]} for t in texts], long_payload)
        batches.append(server.metric('clip_batch_size_count{tower="text"}') - calls_before - 1)  # the long one: alone
        assert all(status == 200 for status, _ in results)
        for t, (_, body) in zip(texts, results):
            assert np.allclose(body["embeddings"][0], alone[t], atol=1e-6), t
        if batches[-1] < len(texts):
            break
    assert batches[-1] < len(texts), f"each burst of {len(texts)} concurrent requests ran as one batch per request: {batches}"


def test_bad_input_is_a_400_naming_the_problem(server):
    cases = [
        (b"{not json", "application/json", "not JSON"),
        (b'{"texts": "a dog"}', "application/json", '"texts" must be an array of strings'),
        (b'{"texts": [1, 2]}', "application/json", '"texts" must be an array of strings'),
        (b'{"texts": []}', "application/json", '"texts" is empty'),
        (b"[1]", "application/json", "JSON object"),
        (b'{"texts": ["a"], "normalize": "yes"}', "application/json", '"normalize" must be true or false'),
        (json.dumps({"texts": ["word " * 100]}).encode(), "application/json", "too long for context length 77"),
    ]
    for body, content_type, message in cases:
        status, data = server.request("/v1/embed/text", body, content_type)[::2]
        assert status == 400 and message in json.loads(data)["error"], (body, data)
    status, data = server.request("/v1/embed/text", json.dumps({"texts": ["a"] * 1025}).encode(), "application/json")[::2]
    assert status == 400 and "1025 texts in one request; at most 1024" in json.loads(data)["error"]
    body, content_type = multipart(IMAGES[:1] * 65)
    status, data = server.request("/v1/embed/image", body, content_type)[::2]
    assert status == 400 and "65 images in one request; at most 64" in json.loads(data)["error"]
    status, data = server.request("/v1/embed/image", b"GIF89a\x00\x00garbage", "image/gif")[::2]
    assert status == 400 and "request body" in json.loads(data)["error"]
    status, data = server.request("/v1/embed/image", b"", "image/png")[::2]
    assert status == 400 and "no image" in json.loads(data)["error"]
    status, data = server.request("/v1/classify", open(IMAGES[0], "rb").read(), "image/png")[::2]
    assert status == 400 and "no labels" in json.loads(data)["error"]
    status, data = server.request("/v1/nothing")[::2]
    assert status == 404 and "no such endpoint" in json.loads(data)["error"]
    status, data = server.request("/v1/embed/text", b"x" * 10000, "application/x-www-form-urlencoded")[::2]
    assert status == 413 and "Content-Type" in json.loads(data)["error"]
    assert server.json("/health")[0] == 200  # still serving


def test_body_limit_overload_deadline_and_draining_shutdown():
    small = Server("--max-body-mb", "1", "--max-queue", "1", "--max-batch", "1", "--max-wait-ms", "0",
                   "--http-threads", "16")
    try:
        status, data = small.request("/v1/embed/image", b"\0" * (2 << 20), "image/png")[::2]
        assert status == 413 and "--max-body-mb" in json.loads(data)["error"]
        # Overload: 16 clients at once, each with 24 images, against a queue of one.
        body, content_type = multipart(IMAGES * 4)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: small.request("/v1/embed/image", body, content_type), range(16)))
        statuses = [a[0] for a in answers]
        assert 503 in statuses and 200 in statuses, statuses
        assert all(a[1]["Retry-After"] == "1" for a in answers if a[0] == 503)
        assert small.metric('clip_errors_total{kind="queue_full"}') == statuses.count(503)
        # ... and recovers.
        assert small.json("/ready") == (200, {"status": "ready"})
        assert small.request("/v1/embed/image", open(IMAGES[0], "rb").read(), "image/png")[0] == 200
        # Shutdown drains: requests in flight when SIGTERM arrives are answered.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            flying = [pool.submit(small.request, "/v1/embed/image", body, content_type) for _ in range(4)]
            time.sleep(0.1)
            code, rest = small.stop()
            assert sorted(f.result()[0] for f in flying) in ([200] * 4, [200, 503, 503, 503], [200, 200, 503, 503],
                                                              [200, 200, 200, 503])
        assert code == 0 and "SIGTERM" in rest and "stopped" in rest
    finally:
        if small.proc.poll() is None:
            small.proc.kill()
    # Deadlines: 16 requests of 12 images at once, one batch at a time, 50 ms each: the
    # later ones pass their deadline while queued and get 504; those never run.
    hasty = Server("--timeout-ms", "50", "--max-batch", "1", "--max-queue", "64", "--http-threads", "16")
    try:
        body, content_type = multipart(IMAGES * 4)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: hasty.request("/v1/embed/image", body, content_type), range(16)))
        statuses = [a[0] for a in answers]
        assert 504 in statuses and set(statuses) <= {200, 504}, statuses
        assert all("deadline" in json.loads(a[2])["error"] for a in answers if a[0] == 504)
        assert hasty.metric('clip_batch_size_count{tower="image"}') == statuses.count(200)
    finally:
        assert hasty.stop()[0] == 0


def test_search_over_an_index_and_its_files(tmp_path):
    index = make_index(tmp_path)
    want = json.loads(tool("search", "--index", index, "--json", "--top", "3", "a red star"))
    with_index = Server("--index", index)
    try:
        status, got = with_index.json("/v1/search", {"text": "a red star", "top": 3})
        assert status == 200 and got["query"] == "a red star"
        assert [r["file"] for r in got["results"]] == [r["file"] for r in want["results"]]
        assert np.allclose([r["score"] for r in got["results"]], [r["score"] for r in want["results"]], atol=1e-5)
        first = got["results"][0]
        status, headers, data = with_index.request(first["url"])
        assert status == 200 and data == open(first["file"], "rb").read() and headers["Content-Type"] == "image/png"
        for bad in ({"text": 3}, {"text": "a", "top": 0}, {"text": "a", "top": "many"}, {"text": "a", "templates": "x"}):
            status, body = with_index.json("/v1/search", bad)
            assert status == 400 and "must be" in body["error"], bad
        assert with_index.request("/v1/search?top=-3", open(IMAGES[0], "rb").read(), "image/png")[0] == 400
        # An image as the query finds itself first.
        status, _, data = with_index.request("/v1/search?top=1", open(first["file"], "rb").read(), "image/png")
        found = json.loads(data)["results"][0]
        assert status == 200 and found["file"] == first["file"] and found["score"] > 0.999
        status, _, page = with_index.request("/")
        assert status == 200 and b"<title>clip search</title>" in page
        # Only the index's files, by number: nothing else is reachable, links are not followed.
        for path in ["/v1/files/99", "/v1/files/-1", "/v1/files/../../etc/passwd", "/v1/files/%2e%2e/etc/passwd",
                     "/v1/files//etc/passwd", "/v1/files/" + first["file"], "/v1/files/0x1"]:
            assert with_index.request(path)[0] == 404, path
        os.remove(first["file"])
        os.symlink("/etc/passwd", first["file"])
        assert with_index.request(first["url"])[0] == 404
    finally:
        assert with_index.stop()[0] == 0


def test_search_through_a_faiss_index(tmp_path):
    """clip serve --index INDEX of `clip index build`: the results of exact search."""
    index = make_index(tmp_path)
    want = json.loads(tool("search", "--index", index, "--json", "--top", "3", "a red star"))
    faiss = str(tmp_path / "index.faiss")
    tool("index", "build", index, "--out", faiss, "--type", "hnsw")
    with_faiss = Server("--index", faiss)
    try:
        status, got = with_faiss.json("/v1/search", {"text": "a red star", "top": 3})
        assert status == 200
        assert [r["file"] for r in got["results"]] == [r["file"] for r in want["results"]]
        assert np.allclose([r["score"] for r in got["results"]], [r["score"] for r in want["results"]], atol=1e-5)
    finally:
        assert with_faiss.stop()[0] == 0


def test_clients_that_vanish_leave_the_server_serving(server):
    """Half a request, or a whole one whose answer nobody reads: the server goes on, and at
    exit (the fixture's SIGTERM; under ASan, with leak checking) nothing is left behind."""
    import socket
    image = open(IMAGES[0], "rb").read()
    port = int(server.url.rsplit(":", 1)[1])
    head = (f"POST /v1/embed/image HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            f"Content-Length: {len(image)}\r\n\r\n").encode()
    for payload in (head + image[:100], head + image, b"POST /v1/embed/text HTTP/1.1\r\nContent-Length: 9"):
        for _ in range(5):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(payload)
            s.close()
    time.sleep(0.5)
    assert server.json("/health")[0] == 200
    assert server.request("/v1/embed/image", image, "image/png")[0] == 200


def test_a_client_that_leaves_while_queued_is_dropped():
    """Its request never runs (the batch sizes say so), its close is counted, and the
    requests around it are answered; under ASan nothing of it leaks."""
    import socket
    queued = Server("--max-batch", "1", "--max-wait-ms", "0", "--http-threads", "16")
    try:
        port = int(queued.url.rsplit(":", 1)[1])
        body, content_type = multipart(IMAGES * 21)  # 63 images: a batch of its own
        image = open(IMAGES[0], "rb").read()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            blockers = [pool.submit(queued.request, "/v1/embed/image", body, content_type) for _ in range(8)]
            waited = time.time()
            while queued.metric("clip_queue_depth") < 4:  # >= 4 batches of 63 images to run before it
                assert time.time() - waited < 30, "the blockers never queued up"
                time.sleep(0.005)
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall((f"POST /v1/embed/image HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                       f"Content-Length: {len(image)}\r\n\r\n").encode() + image)
            time.sleep(0.05)
            s.close()  # while the blockers keep the model busy
            assert [b.result()[0] for b in blockers] == [200] * 8
        assert queued.metric('clip_errors_total{kind="client_gone"}') == 1
        assert queued.metric('clip_batch_size_sum{tower="image"}') == 8 * 63  # its row never ran
        assert queued.request("/v1/embed/image", image, "image/png")[0] == 200
    finally:
        assert queued.stop()[0] == 0


def test_the_search_page_in_a_browser(tmp_path):
    """Headless Chromium loads /, types a query and sees the thumbnails of /v1/search, in
    order, every one loaded; the screenshot is kept (CLIP_ARTEFACTS, default: the temp dir)."""
    # 1.61: the last release that runs on Node.js 18 (Debian 12's); it drives Chromium 156.
    playwright = os.path.join(os.environ.get("CLIP_PLAYWRIGHT_DIR", str(tmp_path / "playwright")), "1.61.0")
    if not os.path.isdir(os.path.join(playwright, "node_modules", "playwright-core")):
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", playwright,
                        "playwright-core@1.61.0"], check=True)
    assert os.path.exists("/usr/bin/chromium"), "Debian's chromium is needed (bash scripts/setup.sh --test)"
    index = make_index(tmp_path)
    page = Server("--index", index)
    try:
        want = [r["file"] for r in page.json("/v1/search", {"text": "a yellow star", "top": 12})[1]["results"]]
        shot = os.path.join(os.environ.get("CLIP_ARTEFACTS", str(tmp_path)), "search_page.png")
        os.makedirs(os.path.dirname(shot), exist_ok=True)
        out = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "search_page.js"), page.url + "/",
                              "a yellow star", shot], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, NODE_PATH=os.path.join(playwright, "node_modules")))
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert [s["file"] for s in result["shown"]] == want and all(s["width"] > 0 for s in result["shown"]), result
        assert result["status"] == f"{len(want)} best matches for a yellow star"
        assert os.path.getsize(shot) > 10000
    finally:
        assert page.stop()[0] == 0


def test_a_slow_client_is_dropped_and_blocks_no_one():
    import socket
    slow = Server("--io-timeout-ms", "500", "--http-threads", "2")
    try:
        port = int(slow.url.rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/embed/text HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        start = time.time()
        assert slow.json("/health")[0] == 200  # served beside it
        s.settimeout(10)
        answer = s.recv(1024)  # the server gives up on it: closed, or an error status...
        assert answer == b"" or re.match(rb"HTTP/1\.1 4\d\d", answer), answer
        assert time.time() - start < 5  # ...after the 500 ms timeout, not the default 10 s
        s.close()
        assert slow.json("/v1/embed/text", {"texts": ["a dog"]})[0] == 200
    finally:
        assert slow.stop()[0] == 0
