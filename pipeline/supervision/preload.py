"""What the stage forkserver imports once, before it forks any stage (pipeline/supervision/launcher.py).

dlib's HOG detector and 5-point landmark model (facegate/dlib_models.py) and the encoding network's
weights are loaded here once; the stage modules bring numpy, OpenCV and SQLite. Imported by the
forkserver only, this module also names that process `facegate: forkserver`.
"""

import sys

from setproctitle import setproctitle

import pipeline.capture
import pipeline.detect
import pipeline.emit
import pipeline.match  # noqa: F401
from facegate.dlib_models import hog_detector, landmarks_5
from facegate.encoder_model import network

network()  # the encoding network's weights, read once and shared by every forked stage
hog_detector()
landmarks_5()

if sys.argv == ["-c"] and "multiprocessing.forkserver" in sys.modules:  # the forkserver, not an importing test
    setproctitle("facegate: forkserver")
