"""What the stage forkserver imports once, before it forks any stage (pipeline/supervision/launcher.py).

face_recognition loads dlib's detector, landmark and encoding models as it is imported (~0.9 s);
the stage modules bring numpy, OpenCV and SQLite. Imported by the forkserver only, this module
also names that process `facegate: forkserver`.
"""

import sys

import face_recognition  # noqa: F401  (the models, loaded at import)
from setproctitle import setproctitle

import pipeline.capture
import pipeline.detect
import pipeline.emit
import pipeline.match  # noqa: F401
from facegate.encoder_model import network

network()  # the encoding network's weights, read once and shared by every forked stage

if sys.argv == ["-c"] and "multiprocessing.forkserver" in sys.modules:  # the forkserver, not an importing test
    setproctitle("facegate: forkserver")
