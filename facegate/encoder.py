"""Face encodings about six times faster than dlib-bin's own: dlib's face-recognition network on
numpy's BLAS, or on ONNX Runtime (the `encoder` setting).

The `dlib-bin` wheel is built without BLAS, so its ResNet spends ~76 ms per face on this machine's
cores; the same network as matrix products on numpy's OpenBLAS takes ~13 ms, and as an ONNX graph
on onnxruntime's CPU kernels less again (bench/encoder.py; the README's "The encoding network").
Both read the weights from dlib's own model file (facegate/encoder_model.py), run in float32 and
return the same 128-number encodings `face_recognition.face_encodings` returns (within 1e-5), so
encodings from any path, registered or live, are interchangeable. The 5-point landmarks and the
150x150 face chip are still dlib's own calls, unchanged.

`face_encodings(rgb, locations)` is the whole surface; `use(name)` chooses this process's encoder
(the default is the setting's: facegate/settings.py). The network is loaded once per process.
"""

from __future__ import annotations

import logging

import numpy as np

from facegate import encoder_onnx
from facegate.encoder_model import CHIP_SIZE, Conv, Network, network
from facegate.settings import DEFAULT_ENCODER, ENCODERS

CHIP_PADDING = 0.25  # dlib's default padding around the landmarks

log = logging.getLogger(__name__)
_in_use: str | None = None  # this process's encoder once chosen (by `use`, or the default at the first face)


def use(name: str) -> str:
    """Encode this process's faces with `name` ("numpy" or "onnx") and load what it needs now, not at the
    first face; returns the encoder in effect: numpy, with one warning line, when onnx is asked for and
    onnxruntime cannot be imported or cannot run the graph."""
    global _in_use
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; one of {', '.join(ENCODERS)}")
    weights = network()
    if name == "onnx":
        problem = encoder_onnx.runtime_missing()
        if problem is None:
            try:
                encoder_onnx.session(weights)
            except Exception as exc:  # onnxruntime's own errors have no common base below Exception
                problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            log.warning("encoder onnx asked for, but onnxruntime cannot run it (%s): encoding on numpy", problem)
            name = "numpy"
    _in_use = name
    return name


def in_use() -> str:
    """The encoder this process encodes with (choosing the default if none was chosen yet)."""
    return _in_use or use(DEFAULT_ENCODER)


def _windows(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every size x size window of (faces, rows, cols, channels), `stride` apart, without padding, as a
    read-only view: (faces, rows', cols', size, size, channels)."""
    faces, rows, cols, channels = x.shape
    b, r, c, ch = x.strides
    shape = (faces, (rows - size) // stride + 1, (cols - size) // stride + 1, size, size, channels)
    return np.lib.stride_tricks.as_strided(x, shape, (b, r * stride, c * stride, r, c, ch), writeable=False)


def _convolve(x: np.ndarray, conv: Conv) -> np.ndarray:
    """(faces, rows, cols, channels) -> (faces, rows', cols', filters), as one matrix product."""
    if conv.padding:
        p = conv.padding
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    patches = _windows(x, conv.size, conv.stride)
    out: np.ndarray = patches.reshape(-1, conv.weights.shape[0]) @ conv.weights
    out += conv.bias
    return out.reshape(*patches.shape[:3], -1)


def _add(skip: np.ndarray, block: np.ndarray) -> np.ndarray:
    """dlib's add of two tensors of different sizes: the larger size, each added where it exists."""
    if skip.shape == block.shape:
        summed: np.ndarray = skip + block
        return summed
    shape = tuple(max(a, b) for a, b in zip(skip.shape, block.shape, strict=True))
    out = np.zeros(shape, dtype=np.float32)
    out[:, : skip.shape[1], : skip.shape[2], : skip.shape[3]] += skip
    out[:, : block.shape[1], : block.shape[2], : block.shape[3]] += block
    return out


def _halve(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling with stride 2 and no padding (an odd last row or column is left out)."""
    faces, rows, cols, channels = x.shape
    x = x[:, : rows - rows % 2, : cols - cols % 2]
    pooled: np.ndarray = x.reshape(faces, rows // 2, 2, cols // 2, 2, channels).mean(axis=(2, 4), dtype=np.float32)
    return pooled


def forward(network: Network, chips: np.ndarray) -> np.ndarray:
    """Encodings of face chips: (faces, 150, 150, 3) uint8 RGB -> (faces, 128) float32."""
    x = (chips.astype(np.float32) - np.asarray(network.means, dtype=np.float32)) / 256.0
    x = _windows(np.maximum(_convolve(x, network.stem), 0.0), 3, 2).max(axis=(3, 4))  # 3x3 max pooling, stride 2
    for block in network.blocks:
        y = np.maximum(_convolve(x, block.first), 0.0)
        y = _convolve(y, block.second)
        x = np.maximum(_add(_halve(x) if block.down else x, y), 0.0)
    encodings: np.ndarray = x.mean(axis=(1, 2), dtype=np.float32) @ network.projection
    return encodings


def face_chips(rgb: np.ndarray, locations: list[tuple[int, int, int, int]]) -> np.ndarray:
    """dlib's aligned 150x150 chips of the faces at `locations` ((top, right, bottom, left) pixels)."""
    import dlib

    from facegate.dlib_models import landmarks_5

    shapes = dlib.full_object_detections()
    for top, right, bottom, left in locations:
        shapes.append(landmarks_5()(rgb, dlib.rectangle(left, top, right, bottom)))
    return np.stack(dlib.get_face_chips(rgb, shapes, size=CHIP_SIZE, padding=CHIP_PADDING))


def face_encodings(
    rgb: np.ndarray, locations: list[tuple[int, int, int, int]], *, encoder: str | None = None
) -> list[np.ndarray]:
    """One 128-number encoding (float64, like face_recognition's) per face location on an RGB image;
    the same values as `face_recognition.face_encodings(rgb, locations)` to within 1e-5. By this
    process's encoder (`use`), or by `encoder` ("numpy", "onnx") for a comparison."""
    if not locations:
        return []
    run = encoder_onnx.forward if (encoder or in_use()) == "onnx" else forward
    encodings = run(network(), face_chips(rgb, locations)).astype(np.float64)
    return list(encodings)
