"""What leaves the pipeline for the outside world: webhooks from the durable outbox."""
