"""One error tree: every exception class fnlens defines is a ``FnlensError``.

The source is scanned with ``ast`` (independently of what the package exports), so a
new exception class defined anywhere else fails here until it joins the tree.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

from fnlens import exceptions
from fnlens.exceptions import FnlensError

SRC = Path(__file__).resolve().parents[1] / "src" / "fnlens"
_BUILTIN_BASES = {"Exception", "BaseException", "ValueError", "RuntimeError", "LookupError"}


def _exception_classes() -> dict[str, list[str]]:
    """``path -> [class names]`` of every class whose base looks like an exception."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            if bases & _BUILTIN_BASES or any(b.endswith(("Error", "Exception")) for b in bases):
                found.setdefault(str(path.relative_to(SRC)), []).append(node.name)
    return found


def test_exception_classes_are_defined_in_fnlens_exceptions_only() -> None:
    found = _exception_classes()
    assert len(found["exceptions.py"]) == len(exceptions.__all__)  # the scan sees them
    elsewhere = {
        path: [n for n in names if not n.startswith("_")]  # private control flow, never raised
        for path, names in found.items()
        if path != "exceptions.py"
    }
    assert {p: n for p, n in elsewhere.items() if n} == {}


@pytest.mark.parametrize("name", exceptions.__all__)
def test_every_class_is_a_fnlens_error(name: str) -> None:
    cls = getattr(exceptions, name)
    assert issubclass(cls, FnlensError)
    assert cls.__doc__ and cls.__doc__.strip()


# the built-in base each class had before the tree: `except ValueError` still catches it
_KEPT_BASES = {
    "QueryError": ValueError,
    "UnknownQueryError": ValueError,
    "UnknownParamError": ValueError,
    "BadParamValueError": ValueError,
    "SqlRefusedError": ValueError,
    "TranslationError": RuntimeError,
    "QueryCatalogError": RuntimeError,
    "LayoutError": ValueError,
    "CompareError": ValueError,
    "CompareSettingsError": ValueError,
    "SparkIngestError": ValueError,
    "SparkUnavailableError": RuntimeError,
    "DatabaseError": RuntimeError,
    "RenderError": ValueError,
    "TemplateError": ValueError,
    "ApplyError": RuntimeError,
}


@pytest.mark.parametrize(("name", "base"), sorted(_KEPT_BASES.items()))
def test_former_builtin_bases_are_kept(name: str, base: type) -> None:
    assert issubclass(getattr(exceptions, name), base)
    with pytest.raises(base):
        raise getattr(exceptions, name)("x")


def test_the_tree_has_the_documented_branches() -> None:
    e = exceptions
    assert issubclass(e.UnknownFormatError, e.IngestError)
    for leaf in (e.UnknownQueryError, e.UnknownParamError, e.BadParamValueError):
        assert issubclass(leaf, e.QueryError)
    for leaf in (e.SqlRefusedError, e.TranslationError, e.QueryCatalogError):
        assert issubclass(leaf, e.QueryError)
    assert issubclass(e.LayoutError, e.ExportError)
    assert issubclass(e.CompareSettingsError, e.CompareError)
    for leaf in (e.RenderError, e.TemplateError, e.ApplyError):
        assert issubclass(leaf, e.DashboardError)
    for leaf in (e.LocalTelemetryError, e.LocalApiError):
        assert issubclass(leaf, e.LocalRuntimeError)
    assert issubclass(e.SparkUnavailableError, e.ConfigurationError)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("UnknownQuery", "UnknownQueryError"),
        ("UnknownParam", "UnknownParamError"),
        ("BadParamValue", "BadParamValueError"),
    ],
)
def test_old_catalog_names_import_with_a_deprecation_warning(old: str, new: str) -> None:
    from fnlens.analysis import catalog

    with pytest.warns(DeprecationWarning, match=f"catalog.{old} is deprecated.*{new}"):
        alias = getattr(catalog, old)
    assert alias is getattr(exceptions, new)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert catalog.UnknownQueryError is exceptions.UnknownQueryError  # new names: silent
    assert old not in catalog.__all__


def test_an_unknown_catalog_attribute_is_still_an_attribute_error() -> None:
    from fnlens.analysis import catalog

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        catalog.Nope  # noqa: B018


def test_raised_errors_are_the_public_classes() -> None:
    from fnlens.analysis.catalog import get_query

    with pytest.raises(exceptions.UnknownQueryError, match="no_such"):
        get_query("no_such")
    with pytest.raises(exceptions.UnknownParamError):
        get_query("latency").bind({"nope": "1"})
    with pytest.raises(exceptions.BadParamValueError):
        get_query("latency").bind({"since": "not a time"})
