"""One page's first render with Streamlit's AppTest, in this (fresh) process; JSON on stdout.

    python bench/page_render.py PAGE DATABASE WINDOW      # R2W_MONITOR_DB names the monitor database

What a running server has already done before the first view (import Streamlit, the dashboard and
the modules the page imports; start its runtime, which scans the installed packages for
components) is done before the clock starts, with a one-line script; the render itself is timed: the page's script from top to
bottom, with every figure computed cold (nothing cached). Each `ui.cached` call is timed too,
so the report can say where a page spends its time.
bench/pages.py runs this once per page, window and round.
"""
import ast
import importlib
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def preload(page):
    """Import what the page imports (a server has it loaded before the first view)."""
    from streamlit.testing.v1 import AppTest  # noqa: F401

    for node in ast.walk(ast.parse(Path(page).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    importlib.import_module(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)


def timed_calls(ui):
    """Wrap ui.cached so that each call's seconds are recorded; return the list."""
    calls = []

    def wrap(helper):
        original = getattr(ui, helper)

        def timed(func, *args, **kwargs):
            began = time.perf_counter()
            try:
                return original(func, *args, **kwargs)
            finally:
                name = f"{func.__module__.split('.')[-1]}.{func.__name__}"
                if len(args) > 1 and isinstance(args[1], str):   # registry.preview(db, task)
                    name += f"({args[1]})"
                calls.append({"call": name, "s": time.perf_counter() - began})
        setattr(ui, helper, timed)

    wrap("cached")
    return calls


def render(page, database, window):
    """{"render_s", "calls", "exceptions"} of the page's first render."""
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ["DATABASE_URL"] = str(database)
    preload(page)
    from streamlit.testing.v1 import AppTest

    from dashboard import ui

    server = AppTest.from_string("import streamlit as st\nst.write('warm-up')").run()
    calls = timed_calls(ui)
    app = AppTest.from_file(str(page), default_timeout=900)
    # the components a server found at start-up (AppTest would scan the packages again)
    app._bidi_component_manager = server._bidi_component_manager
    app.query_params["window"] = window
    began = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - began
    problems = [e.message for e in app.exception] + [e.value for e in app.error]
    return {"render_s": seconds, "calls": calls, "exceptions": problems}


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(json.dumps(render(Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3])))
