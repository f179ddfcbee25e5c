"""Fast tests: one module or a few together, in this process, with no service or PostgreSQL running."""
