"""The Python module's tests (pytest). ctest runs them twice: with torch, and with
--no-torch, where `import torch` fails, as on a machine without it (results are NumPy)."""
import os
import sys

import pytest

# Fixed thread counts (set before any model call reads it): a call's thread count otherwise
# follows other processes' load, and oneDNN 2.x rounds RN50's Winograd convolutions
# differently for 1 and 2 threads (up to 1.1e-5 on rn50-tiny's features), so exact
# comparisons between calls (test_threads.py) would depend on what else the machine runs.
# Adapting is the C++ tests' subject (tests/model/threads_test.cpp).
os.environ.setdefault("CLIP_ADAPT_THREADS", "0")

SHARED = os.environ.get("CLIP_SHARED_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
FIXTURES = os.path.join(SHARED, "fixtures")


def pytest_addoption(parser):
    parser.addoption("--no-torch", action="store_true", help="hide torch (import torch raises ImportError)")


def pytest_configure(config):
    config.addinivalue_line("markers", "torch_only: runs only where torch is importable (the reference's demo)")
    if config.getoption("--no-torch"):
        sys.modules["torch"] = None  # `import torch` now raises ImportError
        config.option.markexpr = "not torch_only"


@pytest.fixture(scope="session")
def fixtures():
    if not os.path.isdir(FIXTURES):
        if os.environ.get("CLIP_REQUIRE_SHARED") == "1":
            pytest.fail(f"the golden data is not at {FIXTURES} (CLIP_REQUIRE_SHARED=1)")
        pytest.skip(f"no golden data at {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="session")
def torch_or_none():
    try:
        import torch
        return torch
    except ImportError:
        return None
