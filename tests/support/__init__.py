"""Helpers shared by the test folders: real components on 127.0.0.1 (an OTLP/HTTP sink,
rotel, raw HTTP servers, a fake Lambda Extensions API), the EMF specification's schema,
and fresh-interpreter runs. Imported as ``tests.support.…``: pytest puts the repository
on ``sys.path`` (``pythonpath`` in pyproject.toml), and ``run_script`` does the same for
its child processes."""
