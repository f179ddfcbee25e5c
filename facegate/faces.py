"""Turning photos into 128-d encodings: decode safely, find exactly one face, encode it.

Used by `supervisor.py register`, `POST /api/register` and `POST /api/recognize`; the
pipeline's detect stage has its own hot path in `pipeline/detect.py`.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # a 40-megapixel photo is the largest upload worth decoding
MIN_SIDE = 16  # pixels


class FaceImageError(ValueError):
    """A photo cannot be used; the message says why in words a person understands."""


def load_rgb(data: bytes | str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes or a file into an RGB uint8 array, refusing non-images and more than `max_pixels`."""
    try:
        source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else Path(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                width, height = image.size
                if width * height > min(max_pixels, MAX_PIXELS):
                    raise FaceImageError(
                        f"image is {width}x{height}; at most {min(max_pixels, MAX_PIXELS) / 1e6:g} megapixels"
                    )
                if min(width, height) < MIN_SIDE:  # dlib's CNN detector fails on images this small
                    raise FaceImageError(f"image is {width}x{height}; a face needs at least {MIN_SIDE}x{MIN_SIDE}")
                image.draft("RGB", (4096, 4096))
                return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise FaceImageError("no such file") from None
    except IsADirectoryError:
        raise FaceImageError("is a directory, not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FaceImageError(f"image has too many pixels; at most {MAX_PIXELS // 1_000_000} megapixels") from None
    except UnidentifiedImageError:
        raise FaceImageError("not a decodable image (JPEG, PNG, ...)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, FaceImageError):
            raise
        raise FaceImageError(f"image cannot be decoded: {exc}") from None


def locate_and_encode(
    rgb: np.ndarray, *, model: str = "hog", upsample: int = 1
) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """Every face in the picture, as ((top, right, bottom, left), encoding)."""
    from facegate.dlib_models import face_locations
    from facegate.encoder import face_encodings

    boxes = face_locations(rgb, upsample=upsample, model=model)
    encodings = face_encodings(rgb, boxes)
    return [
        ((int(top), int(right), int(bottom), int(left)), np.asarray(enc))
        for (top, right, bottom, left), enc in zip(boxes, encodings, strict=True)
    ]


def encode_single_face(data: bytes | str | Path, *, model: str = "hog", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The encoding of the one face in a photo; FaceImageError if there are none or several."""
    return only_face(locate_and_encode(load_rgb(data, max_pixels=max_pixels), model=model))


def only_face(faces: list[tuple[tuple[int, int, int, int], np.ndarray]]) -> np.ndarray:
    """The encoding of the one face found; FaceImageError if there are none or several."""
    if len(faces) != 1:
        found = "no face" if not faces else f"{len(faces)} faces"
        raise FaceImageError(f"expected exactly one face, found {found}")
    return faces[0][1]
