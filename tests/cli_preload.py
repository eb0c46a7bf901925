"""What the command-line forkserver (tests/cli_process.py) imports once: the whole package
and the libraries its commands import, so that no command pays for an import again."""
import importlib
import pkgutil

import r2w_db

for module in pkgutil.walk_packages(r2w_db.__path__, "r2w_db."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
for library in ("psycopg", "pandas"):
    try:
        importlib.import_module(library)
    except ImportError:   # a missing library fails the command that needs it, as it would
        pass
