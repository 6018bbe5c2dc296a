"""What the tests share: results as NumPy whatever the array backend, and the fixtures'
tolerances (../shared/fixtures/models/README.md: |a - b| <= atol + rtol |b|)."""
import numpy as np


def as_numpy(x):
    """A result as NumPy, checking it is the type the backend promises."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        assert isinstance(x, torch.Tensor), f"expected a torch.Tensor, got {type(x)}"
        return x.numpy()
    assert isinstance(x, np.ndarray), f"expected a numpy.ndarray, got {type(x)}"
    return x


def assert_close(got, golden, atol, rtol, what):
    got = as_numpy(got) if not isinstance(got, np.ndarray) else got
    assert got.shape == golden.shape, f"{what}: shape {got.shape}, expected {golden.shape}"
    excess = np.abs(got.astype(np.float64) - golden) - (atol + rtol * np.abs(golden))
    assert (excess <= 0).all(), f"{what}: {(excess > 0).sum()} values out of tolerance, max |diff| " \
                                f"{np.abs(got - golden).max()}"


def assert_features(got, golden, what):
    assert_close(got, golden, 1e-4 * np.abs(golden).max(), 1e-4, what)


def assert_logits(got, golden, what):
    assert_close(got, golden, 1e-3, 1e-4, what)
