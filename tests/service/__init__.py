"""End-to-end tests: real `supervisor.py` processes, PostgreSQL, HTTP servers, the pipeline, the browser, the image."""
