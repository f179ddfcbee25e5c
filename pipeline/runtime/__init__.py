"""What every stage process has: what it is handed at spawn, its counters row, the run's mode (live or replay)."""
