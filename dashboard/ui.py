"""What every page shares, under one name: `from dashboard import ui`.

Pages stay thin:

    ctx = ui.page("Title", "icon")          # config, database (or a clear message), sidebar
    def body(ctx):                          # figures via ui.cached(r2w_db function, ctx.db, ...)
        ...
    ui.run(ctx, body)                       # auto-refresh, and clear messages for database errors

Each concern lives in its own module; this one only gathers them:

- page_setup.py: the page's set-up (the gate, the database, the sidebar's choices) and run;
- caching.py: the one cached call, keyed on the change tokens of the sources it reads;
- messages.py: one clear message for a database error;
- widgets.py: numbers as words, metrics, charts, tables;
- navigation.py: the sidebar (page links, database, who is signed in, notices);
- access.py: who may see and do what (the gate, roles, read-only).

No SQL here.
"""
from dashboard.access import (  # noqa: F401  (pages and tests use them as ui.*)
    OPEN_BANNER,
    OPEN_BANNER_READ_ONLY,
    OPEN_USER,
    SESSION_USER,
    accounts_configured,
    allowed_databases,
    client_address,
    current_user,
    gate,
    maintenance_refusal,
    read_only,
    secrets_problem,
    sign_out,
    team_accounts,
    weak_hashes_warning,
    who_line,
)
from dashboard.caching import CACHE_TTL_S, MONITOR, cached  # noqa: F401
from dashboard.messages import show_error  # noqa: F401
from dashboard.navigation import NAV, embedded, sidebar_account, sidebar_navigation  # noqa: F401
from dashboard.page_setup import PageContext, choose_database, page, run  # noqa: F401
from dashboard.safe_text import code, md, prose  # noqa: F401
from dashboard.widgets import (  # noqa: F401
    chart,
    csv_download,
    delta,
    health_overrides,
    human_age,
    human_bytes,
    human_count,
    human_percent,
    human_score,
    metric,
    page_exists,
    per,
    rollup_note,
    shown_zone,
    table,
)
