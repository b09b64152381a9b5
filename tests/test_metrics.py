"""The HTTP metrics keep their labelled series, and still count every request."""

from hub.metrics import Metrics


def test_each_request_is_counted_in_its_route_method_and_status():
    metrics = Metrics()
    for status in (304, 304, 200):
        metrics.served("/api/speakers/{id}/schedule", "GET", status, 0.002)
    metrics.served("/healthz", "GET", 200, 0.001)
    text = metrics.render().decode()
    assert 'gridcast_http_requests_total{method="GET",route="/api/speakers/{id}/schedule",status="304"} 2.0' in text
    assert 'gridcast_http_requests_total{method="GET",route="/api/speakers/{id}/schedule",status="200"} 1.0' in text
    assert 'gridcast_http_request_seconds_count{route="/api/speakers/{id}/schedule"} 3.0' in text
    assert 'gridcast_http_request_seconds_count{route="/healthz"} 1.0' in text
