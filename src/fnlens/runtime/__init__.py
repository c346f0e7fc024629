"""The hot path inside the function: decorator, invocation scope, cold start,
triggers, propagation and log processors.

Imports only the standard library and structlog. The OpenTelemetry API is used
when it is already loaded (by an exporter or by the user's code), never
imported here.
"""
