"""Fast tests: a module or a few together, with no service, pipeline or PostgreSQL running."""
