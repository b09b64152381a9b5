"""Prometheus metrics, one registry per hub so tests and processes never share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "gridcast_telegram_updates_total", "Telegram updates handled", ["kind"],
            registry=self.registry,
        )
        self.handler_errors = Counter(
            "gridcast_handler_errors_total", "Errors raised by bot handlers", ["kind"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "gridcast_http_requests_total", "HTTP requests served", ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "gridcast_http_request_seconds", "HTTP request latency", ["route"],
            registry=self.registry,
        )
        self.up = Gauge(
            "gridcast_role_up", "1 for each role this process runs", ["role"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
