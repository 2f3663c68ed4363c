"""Alerts: one message per finding and channel, rendered from templates and delivered from the outbox table."""
