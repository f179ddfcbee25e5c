"""The ONNX graph of the encoding network (facegate/encoder_onnx.py, written by facegate/onnx_wire.py) and the
choice of encoder (facegate/encoder.py's `use`): a model the `onnx` package reads back and checks, dlib's
odd additions reproduced with Pad nodes, one thread, and numpy kept, with one warning, without onnxruntime.

Whether its encodings are dlib's is tests/unit/test_encoder.py's job, on the shared photos.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facegate import encoder, encoder_model, encoder_onnx, onnx_wire
from facegate.faces import load_rgb


@pytest.fixture(scope="module")
def model() -> Any:
    onnx = pytest.importorskip("onnx")
    return onnx.load_from_string(encoder_onnx.model_bytes(encoder_model.network()))


def test_the_model_is_valid_onnx_with_the_shapes_of_the_network(model: Any) -> None:
    import onnx

    onnx.checker.check_model(model, full_check=True)  # every node's type and shape inferred, the opset's rules
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph
    (chips,), (encodings,) = inferred.input, inferred.output
    dims = [d.dim_param or d.dim_value for d in chips.type.tensor_type.shape.dim]
    assert (chips.name, chips.type.tensor_type.elem_type, dims) == (
        "chips",
        onnx.TensorProto.UINT8,
        ["faces", 150, 150, 3],
    )
    dims = [d.dim_param or d.dim_value for d in encodings.type.tensor_type.shape.dim]
    assert (encodings.name, encodings.type.tensor_type.elem_type, dims) == (
        "encodings",
        onnx.TensorProto.FLOAT,
        ["faces", 128],
    )
    weights = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
    network = encoder_model.network()
    convs = [network.stem, *(c for b in network.blocks for c in (b.first, b.second))]
    expected = sum(c.weights.size + c.bias.size for c in convs) + network.projection.size  # the means folded in
    assert weights == expected
    assert [n.op_type for n in model.graph.node[:4]] == ["Cast", "Transpose", "Conv", "Relu"]  # no Sub, no Div


def test_dlibs_add_of_different_sizes_is_padded_where_the_network_needs_it(model: Any) -> None:
    """Each halving block adds a skip of fewer channels; the last two also add outputs smaller than
    their skip (4x4 against 3x3, 2x2 against 1x1): five Pad nodes, each growing its input at the end."""
    from onnx import numpy_helper

    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    pads = [constants[n.input[1]].tolist() for n in model.graph.node if n.op_type == "Pad"]
    assert pads == [
        [0, 0, 0, 0, 0, 32, 0, 0],
        [0, 0, 0, 0, 0, 64, 0, 0],
        [0, 0, 0, 0, 0, 128, 0, 0],
        [0, 0, 0, 0, 0, 0, 1, 1],
        [0, 0, 0, 0, 0, 0, 1, 1],
    ]
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 29 and ops.count("AveragePool") == 4 and ops.count("Add") == 14


def test_the_session_runs_on_one_thread_in_sequence() -> None:
    import onnxruntime

    options = encoder_onnx.session(encoder_model.network()).get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert options.execution_mode == onnxruntime.ExecutionMode.ORT_SEQUENTIAL


def test_a_negative_integer_is_written_as_protobuf_writes_it() -> None:
    assert onnx_wire._varint(300) == b"\xac\x02"
    assert onnx_wire._varint(-1) == b"\xff" * 9 + b"\x01"


def test_use_chooses_the_encoder_of_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder, "_in_use", None)
    assert encoder.use("onnx") == encoder.in_use() == "onnx"
    assert encoder.use("numpy") == encoder.in_use() == "numpy"
    with pytest.raises(ValueError, match="unknown encoder"):
        encoder.use("tensorflow")


def test_without_onnxruntime_onnx_falls_back_to_numpy_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, faces: Path
) -> None:
    monkeypatch.setattr(encoder, "_in_use", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    with caplog.at_level(logging.WARNING, logger=encoder.__name__):
        assert encoder.use("onnx") == "numpy"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "onnxruntime" in warnings[0].getMessage()
    rgb = load_rgb(faces / "obama.jpg")
    (encoding,) = encoder.face_encodings(rgb, [(142, 617, 409, 349)])  # on numpy: onnxruntime is never imported
    assert encoding.shape == (128,) and encoder.in_use() == "numpy"
