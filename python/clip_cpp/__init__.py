"""clip_cpp: OpenAI's CLIP on clip-cpp's C++ engine, with the API of the reference package.

    import clip_cpp as clip
    model, preprocess = clip.load("ViT-B/32")
    image = preprocess(Image.open("CLIP.png")).unsqueeze(0)
    text = clip.tokenize(["a diagram", "a dog", "a cat"])
    logits_per_image, logits_per_text = model(image, text)

Arrays: when torch is importable, results are torch tensors (sharing the engine's memory)
and inputs may be torch tensors or NumPy arrays; without torch, NumPy arrays throughout.
set_array_backend("numpy") chooses NumPy even where torch is installed.
Every computation releases the GIL; one model may be used from several threads at once.
"""
import errno as _errno
import os as _os
import sys as _sys

from . import _clip_cpp as _native

__version__ = _native.__version__
__all__ = ["available_models", "builtin_models", "open_clip_models", "load", "tokenize", "CLIP", "Preprocess",
           "set_num_threads", "get_num_threads", "set_array_backend", "softmax", "normalize"]

available_models = _native.available_models  # the nine official names, as the reference lists them
builtin_models = _native.builtin_models  # models inside the library: "demo-shapes"
open_clip_models = _native.open_clip_models  # open_clip's pretrained "MODEL:TAG" names
set_num_threads = _native.set_num_threads  # threads of models made afterwards (default: the usable CPUs)
get_num_threads = _native.get_num_threads

_backend = _os.environ.get("CLIP_CPP_ARRAYS", "auto")
_torch_module = None


def set_array_backend(name):
    """"torch" (results are torch tensors), "numpy", or "auto" (torch when importable)."""
    global _backend, _torch_module
    if name not in ("auto", "torch", "numpy"):
        raise ValueError(f"set_array_backend: {name!r} is not 'auto', 'torch' or 'numpy'")
    _backend, _torch_module = name, None


def _torch():
    """torch when results should be torch tensors, else None (imported on first use)."""
    global _torch_module
    if _torch_module is None:
        _torch_module = False
        if _backend != "numpy":
            try:
                import torch
                _torch_module = torch
            except ImportError:
                if _backend == "torch":
                    raise
    return _torch_module or None


def _out(array):
    torch = _torch()
    return torch.from_numpy(array) if torch is not None else array


def _in(value):
    """A torch tensor as a NumPy array over the same memory; anything else as it is."""
    torch = _sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach()
        if value.device.type != "cpu":
            value = value.cpu()
        if value.dtype == torch.bfloat16:  # NumPy has no bfloat16
            value = value.float()
        return value.numpy()
    return value


def tokenize(texts, context_length=77, truncate=False):
    """clip.tokenize: int32 [len(texts), context_length]; RuntimeError for a text too long."""
    if isinstance(texts, str):
        texts = [texts]
    return _out(_native.tokenize(list(texts), context_length, truncate))


def softmax(x, dim=-1):
    return _out(_native.softmax(_in(x), dim))


def normalize(x):
    """Each row divided by its L2 norm."""
    return _out(_native.normalize(_in(x)))


class Preprocess:
    """The transform clip_cpp.load returns: the reference's _transform(n_px) (or open_clip's
    eval transform), pixel for pixel. Takes a PIL image (modes 1, L, LA, P, RGB, RGBA, CMYK,
    I, I;16, F, LAB), a path, or the bytes of an image file; gives float32 [3, n_px, n_px]."""

    def __init__(self, native):
        self._native = native
        self.size = native.size
        self.mean = tuple(float(f"{v:.8g}") for v in native.mean)  # the float32 values, as written
        self.std = tuple(float(f"{v:.8g}") for v in native.std)

    def __call__(self, image, exif_orientation=False):
        if isinstance(image, (str, _os.PathLike)):
            path = _os.fspath(image)
            if not _os.path.exists(path):  # as PIL.Image.open
                raise FileNotFoundError(_errno.ENOENT, _os.strerror(_errno.ENOENT), path)
            return _out(self._native.from_path(path, exif_orientation))
        if isinstance(image, (bytes, bytearray, memoryview)):
            return _out(self._native.from_bytes(bytes(image), exif_orientation))
        if all(hasattr(image, a) for a in ("mode", "size", "tobytes")):  # a PIL image, its pixels as they are
            mode, (width, height) = image.mode, image.size
            data = image.tobytes("raw", "L") if mode == "1" else image.tobytes()
            palette = bytes(image.getpalette() or []) if mode == "P" else b""
            return _out(self._native.from_pixels(mode, width, height, data, palette))
        raise TypeError(f"preprocess: expected a PIL image, a path or bytes, got {type(image).__name__}")

    def __repr__(self):
        n = self.size
        return (f"Preprocess(Resize({n}, {self._native.interpolation}, {self._native.resize_mode}), "
                f"CenterCrop({n}), RGB, ToTensor, Normalize(mean={self.mean}, std={self.std}))")


def _transform(n_px):
    """The reference's clip.clip._transform(n_px): Resize, CenterCrop, RGB, ToTensor, Normalize."""
    return Preprocess(_native.Preprocess(n_px))


class _Visual:
    def __init__(self, input_resolution, output_dim):
        self.input_resolution = input_resolution
        self.output_dim = output_dim


class CLIP:
    """The model clip_cpp.load returns: the reference CLIP module's inference API."""

    def __init__(self, native, name):
        self._native = native
        self.name = name
        self.visual = _Visual(native.input_resolution, native.embed_dim)
        self.context_length = native.context_length
        self.vocab_size = native.vocab_size
        self.embed_dim = native.embed_dim

    @property
    def logit_scale(self):
        """The parameter (before exp), a 0-d tensor as the reference's."""
        torch = _torch()
        if torch is not None:
            return torch.tensor(self._native.logit_scale)
        import numpy
        return numpy.float32(self._native.logit_scale)

    @property
    def dtype(self):
        """float32: what encode_image and encode_text take and give (also with precision="bf16")."""
        torch = _torch()
        if torch is not None:
            return torch.float32
        import numpy
        return numpy.dtype(numpy.float32)

    precision = property(lambda self: self._native.precision)
    jit = property(lambda self: self._native.jit)
    device = property(lambda self: self._native.device)
    num_threads = property(lambda self: self._native.num_threads)

    def set_num_threads(self, threads):
        self._native.set_num_threads(threads)

    def encode_image(self, image):
        """float32 [N, 3, R, R] -> [N, embed_dim]."""
        return _out(self._native.encode_image(_in(image)))

    def encode_text(self, text):
        """int token ids [N, context_length] -> float32 [N, embed_dim]."""
        return _out(self._native.encode_text(_in(text)))

    def forward(self, image, text):
        """(logits_per_image [N_img, N_txt], logits_per_text [N_txt, N_img])."""
        per_image, per_text = self._native.forward(_in(image), _in(text))
        return _out(per_image), _out(per_text)

    __call__ = forward

    # What scripts written for the reference call on a model: all no-ops here (inference
    # only, float32 in and out), except moving to a device this build does not have.
    def eval(self):
        return self

    def float(self):
        return self

    def cpu(self):
        return self

    def to(self, *args, **kwargs):
        for a in (*args, *kwargs.values()):
            kind = getattr(a, "type", a) if not isinstance(a, str) else a.split(":")[0]
            if isinstance(kind, str) and kind not in ("cpu", self.device):
                raise RuntimeError(f"clip_cpp: this build runs on the CPU only, not on {a!r}")
        return self

    def train(self, mode=True):
        if mode:
            raise NotImplementedError("clip_cpp runs inference only")
        return self

    def __repr__(self):
        return (f"CLIP({self.name!r}, input_resolution={self.visual.input_resolution}, "
                f"embed_dim={self.embed_dim}, precision={self.precision!r}, device={self.device!r})")


def load(name, device="cpu", jit=False, download_root=None, *, precision="fp32", config=None):
    """clip.load: (model, preprocess) for an official name (downloaded and cached), a built-in
    model ("demo-shapes"), an open_clip "MODEL:TAG", or a checkpoint file. precision "bf16"
    multiplies in bfloat16; config: the model's open_clip_config.json (default: beside it)."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"load: precision {precision!r} is not 'fp32' or 'bf16'")
    native, transform = _native.load(_os.fspath(name), str(device), bool(jit),
                                     _os.fspath(download_root) if download_root else "", precision,
                                     _os.fspath(config) if config else "")
    return CLIP(native, _os.fspath(name)), Preprocess(transform)
