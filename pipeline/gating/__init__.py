"""Which frames go to detection.

The rate gate and carried boxes, motion, capture's frame gate over both, and an empty scene's frames sent together.
"""
