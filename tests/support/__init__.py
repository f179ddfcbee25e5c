"""What the tests use but do not test: real servers and cameras to talk to, test data, leak checks."""
