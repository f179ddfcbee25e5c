"""What crosses between the pipeline's processes.

Queue records (messages), shared-memory segments (shm), each camera's frame ring and its allocation, and the
track hints kept inside a ring.
"""
