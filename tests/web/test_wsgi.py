"""fnlens.wsgi with a real Flask app and its test client."""

from __future__ import annotations

import time

import flask

import fnlens
from fnlens.testing import capture
from fnlens.wsgi import Middleware, rule_template

log = fnlens.get_logger()


def make_app():
    app = flask.Flask("orders")

    @app.get("/orders/<int:order_id>")
    def order(order_id):
        log.info("loading order", order_id=order_id)
        return {"id": order_id}, 201

    @app.get("/stream")
    def stream():
        def chunks():
            yield "first"
            time.sleep(0.05)
            yield "second"

        return flask.Response(chunks())

    @app.get("/boom")
    def boom():
        raise KeyError("missing")

    app.wsgi_app = Middleware(app.wsgi_app, flask_app=app, service="orders")
    return app


def records_of(captured):
    return [r for r in captured.records if r.get("event") == "invocation"]


def test_rule_templates():
    assert rule_template("/orders/<int:order_id>") == "/orders/{order_id}"
    assert rule_template("/a/<b>/c/<path:rest>") == "/a/{b}/c/{rest}"


def test_each_request_is_one_invocation_with_the_flask_rule():
    client = make_app().test_client()
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with capture() as captured:
        response = client.get("/orders/42", headers={"traceparent": traceparent})
        response.close()  # (a WSGI server closes the iterable once the response is sent)
    assert response.status_code == 201 and response.get_json() == {"id": 42}
    (record,) = records_of(captured)
    assert (record["trigger"], record["event_source"]) == ("http", "wsgi")
    assert (record["http_method"], record["http_route"]) == ("GET", "/orders/{order_id}")
    assert record["http_status_code"] == 201 and record["service"] == "orders"
    assert record["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    (line,) = [r for r in captured.logs if r.get("event") == "loading order"]
    assert line["request_id"] == record["request_id"]


def test_a_streamed_response_is_recorded_when_it_has_been_sent():
    client = make_app().test_client()
    with capture() as captured:
        response = client.get("/stream")
        assert response.get_data() == b"firstsecond"
        response.close()
    (record,) = records_of(captured)
    assert record["http_status_code"] == 200
    assert 0 < record["http_ttfb_ms"] < record["duration_ms"]
    assert record["duration_ms"] - record["http_ttfb_ms"] >= 40


def test_an_error_is_recorded_and_flask_answers_500():
    client = make_app().test_client()
    with capture() as captured:
        response = client.get("/boom")
        response.close()
    assert response.status_code == 500  # Flask's own error handling, unchanged
    (record,) = records_of(captured)
    assert record["http_status_code"] == 500 and record["http_route"] == "/boom"
