"""Lambda entry points: thin adapters between SQS/S3 events and core."""
