"""facegate: real-time face recognition for camera streams, over REST and webhooks."""

__version__ = "0.1.0"
