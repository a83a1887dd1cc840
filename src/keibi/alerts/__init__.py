"""Alerts: rule matches grouped into deduplicated, explained alerts."""
