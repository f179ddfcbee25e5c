"""Face locators behind one small interface (locator.py), so the detect stage can switch detectors by name.

`factory.make_detector` builds one; each detector lives in its own module (dlib_locator.py, blazeface.py).
"""
