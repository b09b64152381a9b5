"""Prometheus metrics, one registry per hub so tests and processes never share counters."""

from __future__ import annotations

from typing import Any

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

        self._served: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def served(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency. The labelled series are looked up once per
        (route, method, status) and kept: `labels()` takes a lock and builds a key each time,
        a fifth of what a loudspeaker's "304 Not Modified" poll cost."""
        key = (route, method, status)
        series = self._served.get(key)
        if series is None:
            series = self._served[key] = (
                self.http_requests.labels(route=route, method=method, status=str(status)),
                self.http_seconds.labels(route=route),
            )
        series[0].inc()
        series[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
