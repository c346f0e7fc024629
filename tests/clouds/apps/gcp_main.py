"""A Cloud Run functions source file (main.py), instrumented with fnlens: an HTTP
function, a failing one, and a CloudEvent function."""

import flask
import functions_framework

import fnlens

log = fnlens.get_logger()


@functions_framework.http
@fnlens.instrument
def hello(request: flask.Request):
    log.warning("hello called", name=request.args.get("name", "world"))
    return {"greeting": "hello"}, 202


@functions_framework.http
@fnlens.instrument
def broken(request: flask.Request):
    raise RuntimeError("database down")


@functions_framework.cloud_event
@fnlens.instrument
def on_message(cloud_event):
    log.info("message", message_id=cloud_event.data["message"]["messageId"])
