"""BlazeFace sized to the frame: a 16:9 frame is letterboxed into 192x128, not into the file's 192x192.

Letterboxing a 16:9 frame into BlazeFace's square input leaves 44% of the input black, and the
network works through all of it. The networks are convolutional, but the files fix their input at a
square and their upsampling at the square's feature-map sizes (RESIZE_BILINEAR takes a constant
size). `sized_model` rewrites a copy of the file for another input: it reads the model with LiteRT's
own flatbuffer schema, sets the input to (rows, cols), scales each upsampling size to match, lets
each RESHAPE infer its anchor count, and packs it back into bytes for an interpreter (once per frame
shape, a few ms). The scale of the picture in the input is the square's, so faces are as large as
before; only the letterbox shrinks, to the picture's side rounded up to a multiple of the network's
coarsest stride (`ModelSpec.stride`). Full range on a 320x180 frame: 2.6 ms of CPU a detection
against 4.1 (python -m bench.blazeface_input).
"""

from __future__ import annotations

import math

import flatbuffers
import numpy as np


class SizingError(ValueError):
    """The model is not laid out as BlazeFace's files are, so it is run at its own square input."""


def input_shape(height: int, width: int, size: int, stride: int) -> tuple[int, int, float]:
    """(rows, cols, scale) of the input for a height x width image: the image at the scale that fits it in
    the `size` square, each side rounded up to a multiple of `stride`. 320x180 gets (128, 192) at 0.6."""
    scale = size / max(height, width)

    def side(pixels: int) -> int:
        return min(size, math.ceil(max(1, round(pixels * scale)) / stride) * stride)

    return side(height), side(width), scale


def sized_model(model: bytes, rows: int, cols: int, *, size: int, stride: int) -> bytes:
    """A copy of the .tflite `model` (input `size` x `size`, coarsest map `stride` pixels a cell) that takes a
    (1, rows, cols, 3) input.

    Raises SizingError for rows or cols that are not a multiple of `stride` (the interpreter would take them
    and stretch its upsampling out of step), and for a model whose upsampling cannot follow."""
    from ai_edge_litert import schema_py_generated as schema

    if rows % stride or cols % stride or not 0 < rows <= size or not 0 < cols <= size:
        raise SizingError(f"a {rows}x{cols} input is not made of whole {stride}-pixel cells within {size}x{size}")

    try:
        tree = schema.ModelT.InitFromPackedBuf(model, 0)
        codes = [max(code.builtinCode, code.deprecatedBuiltinCode) for code in tree.operatorCodes]
        graph = tree.subgraphs[0]
    except Exception as exc:  # bytes that are no model: whatever the generated reader raised (None, bad offsets)
        raise SizingError(f"not a readable .tflite model ({type(exc).__name__})") from None
    graph.tensors[graph.inputs[0]].shape = [1, rows, cols, 3]
    for op in graph.operators:
        code = codes[op.opcodeIndex]
        if code == schema.BuiltinOperator.RESIZE_BILINEAR:
            buffer = tree.buffers[graph.tensors[op.inputs[1]].buffer]
            old_rows, old_cols = (int(v) for v in np.frombuffer(bytes(buffer.data), dtype="<i4"))
            if size % old_rows or size % old_cols or rows % (size // old_rows) or cols % (size // old_cols):
                raise SizingError(f"an upsampling to {old_rows}x{old_cols} cannot follow a {rows}x{cols} input")
            new = np.array([rows // (size // old_rows), cols // (size // old_cols)], dtype="<i4")
            buffer.data = np.frombuffer(new.tobytes(), dtype=np.uint8)
        elif code == schema.BuiltinOperator.RESHAPE and op.builtinOptions is not None:
            shape = [int(v) for v in op.builtinOptions.newShape]
            op.builtinOptions.newShape = [shape[0], -1, *shape[2:]]
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
