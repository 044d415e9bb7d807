"""Kafka plumbing: topic administration, the event producer and the consumer runner."""
