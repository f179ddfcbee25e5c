"""The encoding network on ONNX Runtime: the same encodings as numpy's path, in about half the time.

facegate/encoder.py runs dlib's face-recognition ResNet as numpy matrix products (~13 ms a face on
one core). Here the same `Network` (facegate/encoder_model.py: the same weights, the affine layers
already folded into the convolutions) becomes an ONNX graph, built in memory when a process first
encodes (~0.1 s; no model file is written) and run by onnxruntime's CPU kernels on one thread, in
sequence: every detect worker already fills a core. The graph keeps dlib's arithmetic: float32
throughout, the means subtracted then /256 (folded into the first convolution's weights), each
convolution's padding as dlib's (none on a stride-2 convolution), and dlib's add of a residual
block's skip and output when their sizes differ (the larger size, each zero-padded to it, done here
with Pad nodes). tests/unit/test_encoder.py holds the two paths and dlib's own to within 1e-5 on
every face of the shared photos.

`onnxruntime` may be missing (`runtime_missing()` says why): facegate/encoder.py then keeps numpy.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from facegate import onnx_wire
from facegate.encoder_model import CHIP_SIZE, Conv, Network
from facegate.procutil import give_back_freed_memory

OPSET = 17  # Conv, Pad (pads as an input), the pools: all in onnxruntime's CPU kernels since 1.13
INPUT, OUTPUT = "chips", "encodings"


class _Graph:
    """Nodes in the order they run and the constants they read, each value named once."""

    def __init__(self) -> None:
        self.nodes: list[onnx_wire.Parts] = []
        self.constants: list[onnx_wire.Parts] = []
        self._count = 0

    def _name(self, kind: str) -> str:
        self._count += 1
        return f"{kind}_{self._count}"

    def constant(self, array: np.ndarray) -> str:
        name = self._name("const")
        self.constants.append(onnx_wire.tensor(name, array))
        return name

    def op(self, op_type: str, *inputs: str, output: str | None = None, **attributes: int | list[int]) -> str:
        """Append a node; returns the name of its output."""
        out = output or self._name(op_type.lower())
        self.nodes.append(onnx_wire.node(op_type, inputs, out, attributes))
        return out


def _out_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Rows (or columns) after a window of `kernel`, `stride` apart, over `size` padded by `padding` each side."""
    return (size + 2 * padding - kernel) // stride + 1


def _conv(graph: _Graph, x: str, conv: Conv, means: tuple[float, float, float] | None = None) -> str:
    """A convolution (affine folded in): facegate's (rows*cols*in, out) matrix as ONNX's (out, in, rows, cols).

    `means`: the stem's input is the raw pixels, and the subtraction of the means and the /256 are folded in
    (w/256; b - sum(w * means)/256): exact but for float rounding only without padding, as dlib's stem has
    none. As a node of its own, the broadcast subtraction took 0.4 of the network's 8 ms."""
    channels_in = conv.weights.shape[0] // (conv.size * conv.size)
    kernel = conv.weights.reshape(conv.size, conv.size, channels_in, -1).transpose(3, 2, 0, 1).astype(np.float64)
    bias = conv.bias.astype(np.float64)
    if means is not None:
        if conv.padding:
            raise ValueError("the means fold into a convolution only without padding")
        bias = bias - (kernel * np.asarray(means)[None, :, None, None]).sum(axis=(1, 2, 3)) / 256.0
        kernel = kernel / 256.0
    return graph.op(
        "Conv",
        x,
        graph.constant(np.ascontiguousarray(kernel, dtype=np.float32)),
        graph.constant(bias.astype(np.float32)),
        kernel_shape=[conv.size, conv.size],
        strides=[conv.stride, conv.stride],
        pads=[conv.padding] * 4,
    )


def _grown(graph: _Graph, x: str, shape: tuple[int, int], to: tuple[int, int]) -> str:
    """x, of (size, channels) `shape`, zero-padded after its last channel, row and column up to `to`."""
    if shape == to:
        return x
    (size, channels), (to_size, to_channels) = shape, to
    grow = to_size - size
    pads = np.array([0, 0, 0, 0, 0, to_channels - channels, grow, grow], dtype=np.int64)  # NCHW begins, then ends
    return graph.op("Pad", x, graph.constant(pads))


def model_bytes(network: Network) -> bytes:
    """The ONNX model of `network`: (faces, 150, 150, 3) uint8 RGB chips in, (faces, 128) float32 out."""
    graph = _Graph()
    x = graph.op("Transpose", graph.op("Cast", INPUT, to=onnx_wire.FLOAT), perm=[0, 3, 1, 2])  # NHWC to NCHW
    stem = network.stem
    x = graph.op("Relu", _conv(graph, x, stem, network.means))
    x = graph.op("MaxPool", x, kernel_shape=[3, 3], strides=[2, 2])
    size = _out_size(_out_size(CHIP_SIZE, stem.size, stem.stride, stem.padding), 3, 2)
    channels = stem.weights.shape[1]
    for block in network.blocks:
        first, second = block.first, block.second
        y = graph.op("Relu", _conv(graph, x, first))
        y = _conv(graph, y, second)
        y_size = _out_size(_out_size(size, first.size, first.stride, first.padding), second.size, 1, second.padding)
        y_channels = second.weights.shape[1]
        skip, skip_size = x, size
        if block.down:
            skip, skip_size = graph.op("AveragePool", x, kernel_shape=[2, 2], strides=[2, 2]), size // 2
        out = (max(skip_size, y_size), max(channels, y_channels))
        summed = graph.op(
            "Add", _grown(graph, skip, (skip_size, channels), out), _grown(graph, y, (y_size, y_channels), out)
        )
        x, (size, channels) = graph.op("Relu", summed), out
    x = graph.op("Flatten", graph.op("GlobalAveragePool", x))
    graph.op("MatMul", x, graph.constant(network.projection), output=OUTPUT)
    return onnx_wire.model(
        "facegate_encoder",
        graph.nodes,
        graph.constants,
        [onnx_wire.value_info(INPUT, onnx_wire.UINT8, ["faces", CHIP_SIZE, CHIP_SIZE, 3])],
        [onnx_wire.value_info(OUTPUT, onnx_wire.FLOAT, ["faces", network.projection.shape[1]])],
        OPSET,
    )


def runtime_missing() -> str | None:
    """Why onnxruntime cannot be imported here (not installed, a broken install), or None when it can."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return str(exc) or type(exc).__name__
    return None


def new_session(network: Network) -> Any:
    """An onnxruntime session of `network` on the CPU: one thread, nodes in sequence (~0.05 s plus the build)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(model_bytes(network), options, providers=["CPUExecutionProvider"])
    give_back_freed_memory()  # the model's bytes and the graph optimizer's copies
    return session


_sessions: dict[tuple[int, int], tuple[Network, Any]] = {}  # (pid, id of the network): that network, its session


def session(network: Network) -> Any:
    """This process's session of `network`, made on first use (a forked child makes its own)."""
    key = (os.getpid(), id(network))
    if key not in _sessions:
        _sessions[key] = (network, new_session(network))
    return _sessions[key][1]


def forward(network: Network, chips: np.ndarray) -> np.ndarray:
    """Encodings of face chips, as facegate.encoder.forward: (faces, 150, 150, 3) uint8 RGB -> (faces, 128) float32."""
    encodings: np.ndarray = session(network).run([OUTPUT], {INPUT: np.ascontiguousarray(chips, dtype=np.uint8)})[0]
    return encodings
