"""Offline analysis: ingest exported telemetry into DuckDB and run canned queries.

Installed with the ``analysis`` extra. The middleware never imports this package.
"""
