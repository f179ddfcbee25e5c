"""The supervisor's side of the pipeline.

`Pipeline` (runner.py), the stage processes started and restarted (launcher, watchdog, process table), the hub
that routes every message, a run's progress.
"""
