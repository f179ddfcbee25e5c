"""dlib's face-recognition ResNet as read from its own model file: the weights both encoders run.

`load_network(path)` reads `dlib_face_recognition_resnet_model_v1.dat` (shipped in
`face_recognition_models`) into a `Network`: each convolution with the affine layer after it folded
in, in float32. facegate/encoder.py runs it on numpy's BLAS, facegate/encoder_onnx.py on ONNX Runtime;
a file that is not this network is refused with ModelFormatError, naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

CHIP_SIZE = 150  # pixels: the chip the network was trained on
LAYER_NAMES = (b"con_4", b"affine_", b"relu_", b"max_pool_2", b"avg_pool_2", b"add_prev_", b"fc_2")
_NAME = re.compile(b"\x01(.)(" + b"|".join(re.escape(n) for n in LAYER_NAMES) + b")", re.DOTALL)


class ModelFormatError(ValueError):
    """The model file is not the dlib face-recognition ResNet this module knows how to run."""


class _Reader:
    """dlib's serialization: integers as a size byte (sign in bit 7) then little-endian bytes;
    floats as an integer mantissa and exponent; tensors as four sizes then raw float32."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def integer(self) -> int:
        control = self.data[self.pos]
        size = control & 0x0F
        if size > 8:
            raise ModelFormatError(f"bad integer at byte {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def real(self) -> float:
        mantissa = self.integer()
        return float(mantissa) * 2.0 ** self.integer()

    def text(self) -> str:
        size = self.integer()
        value = self.data[self.pos : self.pos + size]
        self.pos += size
        return value.decode("ascii", "replace")

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise ModelFormatError(f"unknown tensor version at byte {self.pos}")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return values.reshape(shape)

    def next_layer(self, window: int = 512) -> str:
        """Skip the fields this module does not need (multipliers, flags, empty training tensors)
        up to the next layer's name."""
        found = _NAME.search(self.data, self.pos, self.pos + window)
        if found is None or found.group(1)[0] != len(found.group(2)):
            raise ModelFormatError(f"no layer after byte {self.pos}")
        self.pos = found.end()
        return found.group(2).decode()


@dataclass(frozen=True)
class Conv:
    weights: np.ndarray  # (kernel_rows * kernel_cols * channels_in, channels_out), the affine folded in
    bias: np.ndarray  # (channels_out,)
    size: int
    stride: int
    padding: int


@dataclass(frozen=True)
class Block:
    """A residual block: two 3x3 convolutions; `down` halves the size and adds an average-pooled skip."""

    first: Conv
    second: Conv
    down: bool


@dataclass(frozen=True)
class Network:
    means: tuple[float, float, float]  # the red, green and blue means subtracted before /256
    stem: Conv
    blocks: tuple[Block, ...]
    projection: np.ndarray  # (256, 128)


def _conv_affine(reader: _Reader, channels_in: int) -> Conv:
    """A convolution and the affine layer after it, folded into one convolution."""
    params = reader.tensor().ravel()
    filters, rows, cols, stride, stride_x, padding, padding_x = (reader.integer() for _ in range(7))
    if rows != cols or stride != stride_x or padding != padding_x:
        raise ModelFormatError("only square kernels, strides and paddings are expected")
    weight_count = filters * channels_in * rows * cols
    if params.size != weight_count + filters:
        raise ModelFormatError("a convolution's weights do not match its input")
    kernel = params[:weight_count].reshape(filters, channels_in, rows, cols)
    bias = params[weight_count:]
    if reader.next_layer() != "affine_":
        raise ModelFormatError("a convolution without its affine layer")
    affine = reader.tensor().ravel()
    gamma, beta = affine[:filters], affine[filters:]
    if beta.size != filters:
        raise ModelFormatError("an affine layer of the wrong size")
    matrix = kernel.transpose(2, 3, 1, 0).reshape(rows * cols * channels_in, filters) * gamma
    return Conv(
        np.ascontiguousarray(matrix, dtype=np.float32), (bias * gamma + beta).astype(np.float32), rows, stride, padding
    )


def _expect(reader: _Reader, *names: str) -> None:
    for name in names:
        found = reader.next_layer()
        if found != name:
            raise ModelFormatError(f"expected {name}, found {found} at byte {reader.pos}")


def _pool(reader: _Reader) -> tuple[int, ...]:
    return tuple(reader.integer() for _ in range(6))


def load_network(path: Path) -> Network:
    """Read dlib's face-recognition ResNet from its model file; ModelFormatError, naming the file, if it is not one."""
    try:
        return _read_network(_Reader(Path(path).read_bytes()))
    except ModelFormatError as exc:
        raise ModelFormatError(f"{path}: {exc}") from None
    except (IndexError, ValueError) as exc:
        raise ModelFormatError(f"{path}: truncated or corrupt ({exc})") from None


def _read_network(reader: _Reader) -> Network:
    """The layers, innermost first, as dlib writes them."""
    if reader.integer() != 1 or reader.text() != "loss_metric_2":
        raise ModelFormatError("not dlib's face-recognition network")
    start = reader.data.find(b"\x01\x15input_rgb_image_sized")
    if start < 0:
        raise ModelFormatError("no rgb input layer")
    reader.pos = start + 23
    means = (reader.real(), reader.real(), reader.real())
    if (reader.integer(), reader.integer()) != (CHIP_SIZE, CHIP_SIZE):
        raise ModelFormatError(f"does not take {CHIP_SIZE}x{CHIP_SIZE} chips")
    _expect(reader, "con_4")
    stem = _conv_affine(reader, 3)
    _expect(reader, "relu_", "max_pool_2")
    if _pool(reader) != (3, 3, 2, 2, 0, 0):
        raise ModelFormatError("unexpected max pooling")
    blocks, channels = [], stem.weights.shape[1]
    while True:
        name = reader.next_layer()
        if name == "avg_pool_2":
            break
        if name != "con_4":
            raise ModelFormatError(f"expected a block, found {name}")
        first = _conv_affine(reader, channels)
        _expect(reader, "relu_", "con_4")
        second = _conv_affine(reader, first.weights.shape[1])
        name = reader.next_layer()
        down = name == "avg_pool_2"
        if down:
            if _pool(reader) != (2, 2, 2, 2, 0, 0):
                raise ModelFormatError("unexpected average pooling")
            name = reader.next_layer()
        if name != "add_prev_" or down != (first.stride == 2):
            raise ModelFormatError("a residual block of an unknown shape")
        _expect(reader, "relu_")
        blocks.append(Block(first, second, down))
        channels = second.weights.shape[1]
    if _pool(reader) != (0, 0, 1, 1, 0, 0):
        raise ModelFormatError("expected a global average pooling")
    _expect(reader, "fc_2")
    outputs, inputs = reader.integer(), reader.integer()
    weights = reader.tensor().reshape(inputs, outputs)
    if inputs != channels:
        raise ModelFormatError("the projection does not match the last block")
    return Network(means, stem, tuple(blocks), weights.astype(np.float32))  # a copy: the file's bytes can go


def model_path() -> Path:
    """dlib's face-recognition model file, as `face_recognition_models` installs it."""
    import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location())


@lru_cache(maxsize=1)
def network() -> Network:
    """The network of the installed model file, read once per process (~0.05 s)."""
    return load_network(model_path())
