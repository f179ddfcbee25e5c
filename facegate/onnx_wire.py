"""Just enough of the ONNX file format to write the encoding network's graph, without the `onnx` package.

An ONNX model is a protocol-buffers message (onnx.proto: ModelProto > GraphProto > NodeProto,
TensorProto, ValueInfoProto). facegate/encoder_onnx.py builds one graph of a few node kinds with
integer attributes only, so writing those messages here takes a few small functions, and the runtime
needs `onnxruntime` alone: the `onnx` package would add ~33 MB to the image for nothing but its
writer. tests/unit/test_encoder_onnx.py reads every model written here back with `onnx` and runs
its checker over it (`onnx` is a test dependency only).

The field numbers below are onnx.proto's; each function returns one message's encoded fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

FLOAT, UINT8, INT64 = 1, 2, 7  # TensorProto.DataType
_DATA_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int64): INT64}
_ATTRIBUTE_INT, _ATTRIBUTE_INTS = 2, 7  # AttributeProto.AttributeType
_VARINT, _LENGTH_DELIMITED = 0, 2  # protobuf wire types
IR_VERSION = 8  # the file format version: ONNX 1.10 on, read by every onnxruntime of the last years


def _varint(value: int) -> bytes:
    """A protobuf base-128 varint; a negative int64 as its 64-bit two's complement, as protobuf writes it."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


Parts = list[bytes | memoryview]  # a message's encoded fields, joined once, at the end: the weights are copied once


def _int(field: int, value: int) -> Parts:
    return [_varint(field << 3 | _VARINT) + _varint(value)]


def _message(field: int, parts: Parts) -> Parts:
    """A length-delimited field: a string, raw bytes or an embedded message."""
    return [_varint(field << 3 | _LENGTH_DELIMITED) + _varint(sum(len(p) for p in parts)), *parts]


def _text(field: int, value: str) -> Parts:
    return _message(field, [value.encode()])


def tensor(name: str, array: np.ndarray) -> Parts:
    """A TensorProto holding `array` (float32, uint8 or int64) as little-endian raw data."""
    data_type = _DATA_TYPES[array.dtype]
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).reshape(-1).view(np.uint8)
    return [
        *(p for size in array.shape for p in _int(1, size)),
        *_int(2, data_type),
        *_text(8, name),
        *_message(9, [raw.data]),
    ]


def _attribute(name: str, value: int | Sequence[int]) -> Parts:
    """An AttributeProto: one integer (`i`, field 3) or a list of them (`ints`, field 8)."""
    if isinstance(value, int):
        return [*_text(1, name), *_int(3, value), *_int(20, _ATTRIBUTE_INT)]
    return [*_text(1, name), *(p for v in value for p in _int(8, v)), *_int(20, _ATTRIBUTE_INTS)]


def node(op_type: str, inputs: Sequence[str], output: str, attributes: Mapping[str, int | Sequence[int]]) -> Parts:
    """A NodeProto of the default domain with one output, named after that output."""
    parts = [p for name in inputs for p in _text(1, name)]
    parts += [*_text(2, output), *_text(3, output), *_text(4, op_type)]
    return parts + [p for key, value in attributes.items() for p in _message(5, _attribute(key, value))]


def value_info(name: str, data_type: int, dims: Sequence[int | str]) -> Parts:
    """A ValueInfoProto of a tensor: each dimension a size or a symbolic name (e.g. "faces")."""
    shape = [p for d in dims for p in _message(1, _text(2, d) if isinstance(d, str) else _int(1, d))]
    tensor_type = [*_int(1, data_type), *_message(2, shape)]
    return [*_text(1, name), *_message(2, _message(1, tensor_type))]


def _repeated(field: int, messages: Sequence[Parts]) -> Parts:
    return [p for message in messages for p in _message(field, message)]


def model(
    name: str,
    nodes: Sequence[Parts],
    initializers: Sequence[Parts],
    inputs: Sequence[Parts],
    outputs: Sequence[Parts],
    opset: int,
) -> bytes:
    """A serialized ModelProto: one graph (its nodes in order, its weights as initializers) of the default opset."""
    graph = [
        *_repeated(1, nodes),
        *_text(2, name),
        *_repeated(5, initializers),
        *_repeated(11, inputs),
        *_repeated(12, outputs),
    ]
    fields = [*_int(1, IR_VERSION), *_text(2, "facegate"), *_message(7, graph), *_message(8, _int(2, opset))]
    return b"".join(fields)
