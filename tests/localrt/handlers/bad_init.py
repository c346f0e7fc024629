"""A module whose init fails: awslambdaric reports it on /init/error."""

raise RuntimeError("cannot connect to the database at import time")


def handler(event, context):  # pragma: no cover - never reached
    return {}
