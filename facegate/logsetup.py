"""Logging set-up shared by the supervisor and every stage, so each line names its process."""

from __future__ import annotations

import logging
import os
import sys
import warnings

from facegate.redact import RedactingFormatter

FORMAT = "%(asctime)s %(levelname)-7s [%(processName)s] %(name)s: %(message)s"


def setup_logging(level: str | int | None = None) -> None:
    """Log to stderr at FACEGATE_LOG_LEVEL (default INFO); safe to call again in a child process."""
    chosen = level or os.environ.get("FACEGATE_LOG_LEVEL", "INFO")
    # FFmpeg's own console lines ("moov atom not found") would break one-line errors; our logs say it.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    # face_recognition_models imports pkg_resources (setuptools<81 is pinned for it); its warning is noise.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    # no line anywhere carries a camera password, a token or the webhook secret
    handler.setFormatter(RedactingFormatter(FORMAT, "%H:%M:%S"))  # masks the configured secrets itself
    root.addHandler(handler)
    root.setLevel(chosen.upper() if isinstance(chosen, str) else chosen)
    for noisy in ("waitress.queue", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
