"""The backend seam: every named query is defined by every engine (same parameters) or declared
unsupported there, and the database objects answer the same questions (docs/architecture.md)."""
import inspect

import pytest

from r2w_db import errors
from r2w_db.backends import open_database, postgresql, sqlite

ENGINES = {"sqlite": sqlite.BACKEND, "postgresql": postgresql.BACKEND}


def public_functions(module):
    """{name: parameter names} of the functions a named-query module defines itself."""
    return {name: list(inspect.signature(f).parameters)
            for name, f in vars(module).items()
            if inspect.isfunction(f) and f.__module__ == module.__name__ and not name.startswith("_")}


def declared_unsupported(backend, area, name):
    return area in backend.features.unsupported or f"{area}.{name}" in backend.features.unsupported


def every_named_query():
    found = set()
    for backend in ENGINES.values():
        for area, module in backend.query_modules().items():
            found.update((area, name) for name in public_functions(module))
    return sorted(found)


def test_both_engines_have_named_queries():
    """The check below sees real modules (a check over nothing proves nothing), each a module of
    the engine's own package (imported on first use: the one string import, test_layout.py)."""
    for engine, backend in ENGINES.items():
        assert len(backend.queries) >= 5, backend.label
        for area, module in backend.query_modules().items():
            assert module.__name__ == f"r2w_db.backends.{engine}.{area}"


@pytest.mark.parametrize("area,name", every_named_query())
def test_every_named_query_is_defined_by_every_engine(area, name):
    signatures = {}
    for engine, backend in ENGINES.items():
        module = backend.query_modules().get(area)
        functions = public_functions(module) if module else {}
        if name in functions:
            signatures[engine] = functions[name]
        else:
            assert declared_unsupported(backend, area, name), (
                f"{backend.label} has no {area}.{name} and does not declare it unsupported")
    assert len({tuple(s) for s in signatures.values()}) == 1, f"{area}.{name}: {signatures}"


def test_an_unsupported_operation_is_one_line():
    backend = open_database("postgresql://u@h/db").backend
    with pytest.raises(errors.NotSupported, match="^switching the journal mode is not available on"
                                                   " PostgreSQL: it is SQLite's"):
        backend.require("journal", "switching the journal mode")
    open_database("/tmp/none.db").backend.require("journal")  # SQLite has it: no error


def test_database_objects_answer_the_same_questions(tmp_path):
    lite = open_database(tmp_path / "a.db")
    pg = open_database("postgresql://alice:s3cret@db.example/r2w")
    assert open_database(lite) is lite and open_database(pg) is pg
    assert lite.key == str((tmp_path / "a.db").resolve()) and lite.display == str(tmp_path / "a.db")
    assert pg.key == "postgresql://alice@db.example/r2w" and "s3cret" not in pg.display
    for db in (lite, pg):
        assert db.backend.name in ENGINES and db.backend is ENGINES[db.backend.name]
        assert callable(db.read) and callable(db.write) and callable(db.transaction)
