"""Every error fnlens raises on purpose, in one tree under :class:`FnlensError`.

Catch ``FnlensError`` to handle any of them; the ``fnlens`` command turns each one
into a single ``fnlens: error: <message>`` line on stderr and a non-zero exit
(docs/api.md § Errors). A class that subclassed ``ValueError`` or ``RuntimeError``
before the tree existed keeps that base as a second one, so code that catches the
built-in still catches it.

This module imports nothing but the standard library: the middleware, the
exporters and the analysis side can all use it without loading each other.
"""

from __future__ import annotations

import json

__all__ = [
    "ApplyError",
    "BadParamValueError",
    "CompareError",
    "CompareSettingsError",
    "ConfigurationError",
    "DashboardError",
    "DatabaseError",
    "ExportError",
    "FnlensError",
    "IngestError",
    "LayoutError",
    "LocalApiError",
    "LocalRuntimeError",
    "LocalTelemetryError",
    "QueryCatalogError",
    "QueryError",
    "RenderError",
    "SnapshotFailedError",
    "SparkIngestError",
    "SparkUnavailableError",
    "SqlRefusedError",
    "TemplateError",
    "TranslationError",
    "UnknownFormatError",
    "UnknownParamError",
    "UnknownQueryError",
]


class FnlensError(Exception):
    """The root: anything fnlens raises on purpose, with a message meant for a user."""


# --- configuration ------------------------------------------------------------------


class ConfigurationError(FnlensError):
    """A setting, an option or an optional dependency is missing or wrong."""


class SparkUnavailableError(ConfigurationError, RuntimeError):
    """pyspark or Java is missing; the message says what to install.

    Also a ``RuntimeError``, as before.
    """


# --- the analysis database ----------------------------------------------------------


class DatabaseError(FnlensError, RuntimeError):
    """The database cannot be opened; the message says what to do.

    Also a ``RuntimeError``, as it was before the tree.
    """


# --- ingest ---------------------------------------------------------------------------


class IngestError(FnlensError):
    """Ingest could not do what was asked (strict mode, unknown format, missing path)."""


class UnknownFormatError(IngestError):
    """A file matched none of the supported formats."""


class SparkIngestError(IngestError, ValueError):
    """An input Spark ingest cannot read (its format, a missing path, strict mode).

    Also a ``ValueError``, as before.
    """


# --- queries ----------------------------------------------------------------------------


class QueryError(FnlensError, ValueError):
    """A problem with a query name, parameter, value or SQL statement.

    Also a ``ValueError`` (it was one before the tree), and so are its subclasses.
    """


class UnknownQueryError(QueryError):
    """No canned query has that name."""


class UnknownParamError(QueryError):
    """The query declares no parameter of that name."""


class BadParamValueError(QueryError):
    """A parameter value cannot be read as the declared type."""


class SqlRefusedError(QueryError):
    """A statement that ``fnlens sql`` does not run (it writes, attaches or installs)."""


class TranslationError(QueryError, RuntimeError):
    """A query uses DuckDB SQL that fnlens has no exact rule for on the target engine.

    Also a ``RuntimeError``, as before.
    """


class QueryCatalogError(QueryError, RuntimeError):
    """A shipped ``.sql`` file is malformed: a bug in fnlens, not in user input.

    Also a ``RuntimeError``, as before.
    """


# --- export -------------------------------------------------------------------------------


class ExportError(FnlensError):
    """The tables cannot be written (or read back) as files."""


class LayoutError(ExportError, ValueError):
    """A folder is not an fnlens Parquet layout this version can read or write.

    Also a ``ValueError``, as before.
    """


# --- compare ------------------------------------------------------------------------------


class CompareError(FnlensError, ValueError):
    """The comparison cannot be made as asked (e.g. both sides select the same rows).

    Also a ``ValueError``, as before.
    """


class CompareSettingsError(CompareError):
    """A threshold file or flag that cannot be used; the message says which and where."""


# --- dashboards ----------------------------------------------------------------------------


class DashboardError(FnlensError):
    """A dashboard cannot be rendered or put."""


class RenderError(DashboardError, ValueError):
    """Parameters that cannot make a valid dashboard (the message says which).

    Also a ``ValueError``, as before.
    """


class TemplateError(DashboardError, ValueError):
    """A template names a variable or sequence the renderer did not provide.

    Also a ``ValueError``, as before.
    """


class ApplyError(DashboardError, RuntimeError):
    """CloudWatch refused the dashboard or could not be reached (one-line message).

    Also a ``RuntimeError``, as before.
    """


# --- the local Lambda runtime ----------------------------------------------------------------


class LocalRuntimeError(FnlensError):
    """The local Lambda runtime refused a request or could not run a function."""


class LocalTelemetryError(LocalRuntimeError):
    """A refused Telemetry API subscription: ``{"errorType", "errorMessage"}``, status 400."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def body(self) -> bytes:
        """The JSON body the Telemetry API answers with."""
        return json.dumps({"errorType": self.error_type, "errorMessage": self.message}).encode()


class SnapshotFailedError(LocalRuntimeError):
    """Init or a before-snapshot hook of a SnapStart version failed in the local runtime.

    No environment can be restored from it.
    """

    def __init__(self, init_error: tuple[str | None, bytes] | None, exit_code: int | None) -> None:
        super().__init__("the SnapStart snapshot could not be taken")
        self.init_error = init_error
        self.exit_code = exit_code


class LocalApiError(LocalRuntimeError):
    """An Extensions/Runtime API error answered as ``{"errorMessage", "errorType"}``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self) -> bytes:
        """The JSON body the API answers with."""
        return json.dumps({"errorMessage": self.message, "errorType": self.error_type}).encode()
