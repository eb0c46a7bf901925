"""The package's layout: layers, one-way imports, no cycles, files that read in one sitting, and
the backend seam (docs/architecture.md): engines known apart only under r2w_db/backends/."""
import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "r2w_db"
# lowest first; a module imports only its own sub-package and lower layers
LAYERS = {"errors": 0, "formatting": 0, "config": 1, "engine": 2, "backends": 3, "app": 4,
          "monitor": 5, "demo": 5, "figures": 6, "maintenance": 7, "bench": 8, "watch": 8, "cli": 9}
FACE = ("__init__", "__main__")
MAX_LINES = 600
# the names the package face exported before it was split into sub-packages
EXPORTED = """Database as_database R2WError DatabaseMissing NotADatabase EmptyDatabase SchemaTooOld
SchemaTooNew DatabaseLocked DatabaseReadOnly DiskFull Unreadable DuplicateEmail InvalidValue init
migrate hash_password verify_password create_user get_user_by_email get_user_by_id
update_user_profile create_session get_user_id_from_session delete_session cleanup_old_sessions
count_old_sessions create_cv_upload get_user_cv_uploads update_cv_upload_status
transfer_cv_ownership get_user_with_cvs get_multiple_users_cvs get_cached_extraction
cache_extraction_result cleanup_old_cache_entries count_old_cache_entries update_user_portfolio
get_user_portfolio clear_user_portfolio calculate_cache_hit_rate get_extraction_stats
collect_stats run_check""".split()


def modules():
    """{dotted name below r2w_db: path} of every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts)] = path
    return found


def imports_of(name, path):
    """The r2w_db modules that a module imports (at the top or inside a function)."""
    package = name.split(".")[:-1] if not name.endswith("__init__") else name.split(".")[:-1]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                dotted = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "r2w_db":
                dotted = node.module[len("r2w_db"):].lstrip(".")
            else:
                continue
            for alias in node.names:
                candidate = f"{dotted}.{alias.name}".strip(".")
                targets.add(candidate if candidate in modules() else dotted)
        elif isinstance(node, ast.Import):
            targets.update(a.name[len("r2w_db."):] for a in node.names
                           if a.name.startswith("r2w_db."))
    return {t for t in targets if t}


def package_of(name):
    return name.split(".")[0]


ENGINE_PACKAGES = ("backends.sqlite", "backends.postgresql")
ENGINE_NAMES = {"sqlite", "postgresql", "postgres", "pg", "sqlite3"}
ROOT = PACKAGE.parent
NEUTRAL_FILES = sorted([p for p in PACKAGE.rglob("*.py") if "backends" not in p.relative_to(PACKAGE).parts]
                       + list((ROOT / "dashboard").glob("*.py")) + list((ROOT / "pages").glob("*.py"))
                       + [ROOT / "app.py"])


def in_engine_package(name):
    return any(name == p or name.startswith(p + ".") for p in ENGINE_PACKAGES)


def all_imports(path):
    """Every dotted module a file imports (r2w_db's own without the prefix)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {n[len("r2w_db."):] if n.startswith("r2w_db.") else n for n in found}


def test_the_top_holds_only_the_face_and_shared_modules():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == set(FACE) | {"errors", "config", "formatting"}
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert subpackages == {name for name, _ in LAYERS.items() if (PACKAGE / name).is_dir()}
    assert len(subpackages) >= 6


@pytest.mark.parametrize("name", [n for n in modules() if n not in FACE])
def test_imports_run_one_way(name):
    path = modules()[name]
    own = package_of(name)
    for target in imports_of(name, path):
        other = package_of(target)
        assert other == own or LAYERS[other] < LAYERS[own], (
            f"{name} imports {target}: {other} is not below {own}")


def test_no_import_cycle():
    graph = {name: {t for t in imports_of(name, path) if t in modules()}
             for name, path in modules().items() if name not in FACE}
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "import cycle: " + " -> ".join(trail + [node])
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, trail + [node])
        state[node] = "done"

    for name in graph:
        visit(name, [])


def test_the_layer_graph_sees_real_imports():
    """The checks above read the imports correctly (a check that sees nothing proves nothing)."""
    assert "backends" in imports_of("app.users", modules()["app.users"])
    assert "backends.sqlite.connection" in imports_of("backends.sqlite.database",
                                                      modules()["backends.sqlite.database"])
    assert "monitor.store" in imports_of("maintenance.runner", modules()["maintenance.runner"])


@pytest.mark.parametrize("name", list(modules()))
def test_files_read_in_one_sitting(name):
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines"


def test_no_streamlit_in_the_package():
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "streamlit" for n in names), name


def test_every_exported_name_still_imports():
    face = importlib.import_module("r2w_db")
    missing = [name for name in EXPORTED if not hasattr(face, name)]
    assert not missing


def test_engine_modules_live_only_under_backends():
    """No pg_*.py or sqlite_*.py module outside its engine's package."""
    stray = [str(p.relative_to(ROOT)) for p in NEUTRAL_FILES
             if p.stem.split("_")[0] in ENGINE_NAMES]
    assert not stray


@pytest.mark.parametrize("path", NEUTRAL_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_neutral_code_never_names_an_engine(path):
    """Outside backends/: no import of an engine's package (its database object comes from
    backends.open_database), no per_backend dispatch, no branch on an engine's name."""
    imported = all_imports(path)
    assert not [n for n in imported if in_engine_package(n) or n.startswith("backends.dispatch")]
    assert "sqlite3" not in imported or path.parent.name in ("monitor",), "sqlite3 outside backends"
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in ("per_backend", "sqlite_only", "as_database", "as_pg",
                                   "is_postgresql", "backend_of", "PgDatabase"), (
                f"{path.name}:{node.lineno} uses {node.id}")
        if isinstance(node, ast.Compare):
            constants = [c.value for c in [node.left, *node.comparators]
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            assert not [c for c in constants if c.lower() in ENGINE_NAMES], (
                f"{path.name}:{node.lineno} compares with an engine's name")


# the one string import: an engine's named-query modules, imported on first use from the names
# its package lists (AREAS), each a module of that same package (tests/test_backends.py), so no
# dependency is hidden from the layer checks above
STRING_IMPORTS = {"backends.base": 1}


def test_no_module_is_imported_by_a_string():
    for name, path in modules().items():
        text = path.read_text()
        assert text.count("import_module(") == STRING_IMPORTS.get(name, 0), name
        assert "__import__(" not in text, name


def test_the_seam_check_sees_real_code(tmp_path):
    """The seam checks above catch what they are for (a check that sees nothing proves nothing)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from r2w_db.backends.sqlite.database import Database\n"
                   "def f(db):\n    return db.backend.name == 'postgresql'\n")
    with pytest.raises(AssertionError):
        test_neutral_code_never_names_an_engine(bad)
