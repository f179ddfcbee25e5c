"""The entry layer: the command line, the serving process and the replay, on top of everything else.

Loggers here keep the `facegate.*` names operators already grep for (`facegate.service: ...`).
"""
