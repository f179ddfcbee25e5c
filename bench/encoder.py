"""`python -m bench.encoder`: a face encoding by dlib-bin's own network against facegate/encoder.py's two paths.

The same faces, the same chips: every face HOG finds on the shared photos is encoded by
`face_recognition.face_encodings` (dlib, built without BLAS) and by `facegate.encoder.face_encodings`
on each of its encoders: the same network on numpy's OpenBLAS (one thread: bench/__init__.py sets
it) and on ONNX Runtime (one thread, facegate/encoder_onnx.py), one face per call and four per
call. Reported: CPU ms per face (this process's CPU time, median of the rounds: what a face costs a
core, and steady while other work shares the cores; the landmarks and the chip, dlib's calls, are
in it), the network's own CPU ms per face on ready chips, and the largest difference between
dlib's encoding of a face and each path's.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
import warnings
from typing import Any

import numpy as np

from bench.fixtures import faces_dir

PHOTOS = ("lin-manuel-miranda.png", "alex-lacamoire.png", "obama.jpg", "biden.jpg", "two_people.jpg")
ROUNDS = 7
BATCH = 4
PATHS = ("numpy", "onnx")  # facegate's encoders (the `encoder` setting)


def _ms_per_face(encode: Any, faces: list[tuple[np.ndarray, tuple]], batch: int) -> float:
    """Median over ROUNDS of the CPU ms per face, encoding each photo's first face `batch` times per call."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for rgb, box in faces:
            encode(rgb, [box] * batch)
        rounds.append((time.process_time() - started) * 1000.0 / (len(faces) * batch))
    return statistics.median(rounds)


def _network_ms_per_face(path: str, chips: np.ndarray, batch: int) -> float:
    """Median over ROUNDS of the network alone (chips ready), each chip `batch` times per call."""
    from facegate import encoder, encoder_model, encoder_onnx

    forward = encoder_onnx.forward if path == "onnx" else encoder.forward
    network, rounds = encoder_model.network(), []
    for _ in range(ROUNDS):
        started = time.process_time()
        for chip in chips:
            forward(network, np.repeat(chip[None], batch, axis=0))
        rounds.append((time.process_time() - started) * 1000.0 / (len(chips) * batch))
    return statistics.median(rounds)


def measure() -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import face_recognition

    from facegate import encoder
    from facegate.faces import load_rgb

    faces, largest = [], dict.fromkeys(PATHS, 0.0)
    for name in PHOTOS:
        rgb = load_rgb(faces_dir() / name)
        boxes = face_recognition.face_locations(rgb)
        dlibs = face_recognition.face_encodings(rgb, boxes)
        for path in PATHS:  # the first call of each path also loads it, outside the timing
            for ours, theirs in zip(encoder.face_encodings(rgb, boxes, encoder=path), dlibs, strict=True):
                largest[path] = max(largest[path], float(np.abs(ours - theirs).max()))
        faces.append((rgb, boxes[0]))
    chips = np.stack([encoder.face_chips(rgb, [box])[0] for rgb, box in faces])
    out: dict[str, Any] = {"photos": len(faces), "load": round(os.getloadavg()[0], 2)}
    out["dlib"] = {
        f"ms_per_face_{n}": round(_ms_per_face(face_recognition.face_encodings, faces, n), 2) for n in (1, BATCH)
    }
    for path in PATHS:
        encode = functools.partial(encoder.face_encodings, encoder=path)
        out[path] = {
            **{f"ms_per_face_{n}": round(_ms_per_face(encode, faces, n), 2) for n in (1, BATCH)},
            **{f"network_ms_per_face_{n}": round(_network_ms_per_face(path, chips, n), 2) for n in (1, BATCH)},
            "largest_difference_from_dlib": largest[path],
        }
    out["speedup_numpy_over_dlib"] = round(out["dlib"]["ms_per_face_1"] / out["numpy"]["ms_per_face_1"], 2)
    out["speedup_onnx_over_numpy"] = round(out["numpy"]["ms_per_face_1"] / out["onnx"]["ms_per_face_1"], 2)
    out["network_speedup_onnx_over_numpy"] = round(
        out["numpy"]["network_ms_per_face_1"] / out["onnx"]["network_ms_per_face_1"], 2
    )
    return out


def markdown(result: dict[str, Any]) -> str:
    rows = [
        "| encoder | CPU ms per face, alone | CPU ms per face, 4 at once | network only, alone "
        "| network only, 4 at once | largest difference from dlib |",
        "|---|---|---|---|---|---|",
        f"| dlib-bin | {result['dlib']['ms_per_face_1']} | {result['dlib'][f'ms_per_face_{BATCH}']} | | | |",
    ]
    for path, label in (("numpy", "numpy (OpenBLAS)"), ("onnx", "onnx (ONNX Runtime)")):
        r = result[path]
        rows.append(
            f"| {label} | {r['ms_per_face_1']} | {r[f'ms_per_face_{BATCH}']} | {r['network_ms_per_face_1']} "
            f"| {r[f'network_ms_per_face_{BATCH}']} | {r['largest_difference_from_dlib']:.1e} |"
        )
    return (
        "\n".join(rows) + f"\n\nonnx {result['speedup_onnx_over_numpy']}x faster than numpy per face alone"
        f" ({result['network_speedup_onnx_over_numpy']}x for the network alone); numpy"
        f" {result['speedup_numpy_over_dlib']}x faster than dlib-bin; one thread each; load average"
        f" {result['load']} at the start\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.encoder", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    result = measure()
    print(json.dumps(result, indent=2))
    print(markdown(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
