"""Alerts: one message per finding and channel, delivered from the outbox table."""

from newsdelta.alerts.outbox import DeliveryReport, deliver_pending, send_alert

__all__ = ["DeliveryReport", "deliver_pending", "send_alert"]
