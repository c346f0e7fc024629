"""A Python v2 programming-model function app, instrumented with fnlens: what a user
writes in function_app.py (one HTTP route, a failing route, an async route, and a
Queue, Timer, Blob, Service Bus and Event Hub trigger)."""

import azure.functions as func

import fnlens

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
log = fnlens.get_logger()


@app.route(route="orders/{order_id}", methods=["GET"])
@fnlens.instrument
def get_order(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    log.info("order read", order_id=req.route_params["order_id"])
    return func.HttpResponse("{}", status_code=201, mimetype="application/json")


@app.route(route="broken", methods=["POST"])
@fnlens.instrument
def broken(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    raise ValueError("no such order")


@app.route(route="health")
@fnlens.instrument
async def health(req: func.HttpRequest) -> str:
    return "ok"


@app.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
@fnlens.instrument
def on_queue(msg: func.QueueMessage, context: func.Context) -> None:
    log.info("queued", body=msg.get_body().decode())


@app.timer_trigger(arg_name="timer", schedule="0 */5 * * * *")
@fnlens.instrument
def every_five_minutes(timer: func.TimerRequest, context: func.Context) -> None:
    log.info("tick", past_due=timer.past_due)


@app.blob_trigger(arg_name="blob", path="uploads/{name}", connection="AzureWebJobsStorage")
@fnlens.instrument
def on_blob(blob: func.InputStream, context: func.Context) -> None:
    log.info("blob", size=len(blob.read()))


@app.service_bus_queue_trigger(arg_name="msg", connection="SB", queue_name="payments")
@fnlens.instrument
def on_service_bus(msg: func.ServiceBusMessage, context: func.Context) -> None:
    log.info("payment", body=msg.get_body().decode())


@app.event_hub_message_trigger(
    arg_name="events", connection="EH", event_hub_name="clicks", cardinality=func.Cardinality.MANY
)
@fnlens.instrument
def on_events(events: list[func.EventHubEvent], context: func.Context) -> None:
    log.info("clicks", count=len(events))
