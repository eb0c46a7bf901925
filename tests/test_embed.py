"""Every page under ?embed=true (Streamlit hides the sidebar): figures from the query
parameters alone, the sign-in form in the main area, notices in the main area."""
import pytest

from r2w_db.figures import periods

from .signin_helpers import OVERVIEW, PAGES, PASSWORDS, TEAM, app, demo_path, env, figures, sign_in  # noqa: F401

EMBED = {"embed": "true", "window": "30d"}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_embedded(page, env):
    at = app(page, query=EMBED).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    if "Maintenance" in page:
        assert at.button(key="maint_run_integrity")
    elif "History" in page:  # no watcher has run on the demo: one message says so and what to run
        assert any("No watcher has run" in w.value for w in at.main.warning)
    elif "Queries" in page:  # SQLite keeps no statement statistics: the page says so
        assert any("SQLite keeps no statement statistics" in i.value for i in at.main.info)
    elif "benchmarks" not in page:
        assert figures(at) > 0
    # issue 20: embedded in someone else's tool, a page shows its figures only (no banners)
    assert not any("No team accounts configured" in w.value for w in at.warning)
    assert not any("demo data" in i.value for i in at.info)


def test_window_comes_from_the_query_parameters(env):
    at = app(OVERVIEW, query=EMBED).run()
    label = periods.Window.of("30d").label
    assert any(label in c.value for c in at.main.caption)


@pytest.mark.parametrize("page", PAGES)
def test_sign_in_works_embedded(page, env):
    at = app(page, TEAM, query=EMBED).run()
    assert [t.label for t in at.main.text_input] == ["Username", "Password"]
    at = sign_in(at, "vic", PASSWORDS["vic"])
    assert not at.exception, at.exception
    assert not at.text_input
    if "History" in page:
        assert any("No watcher has run" in w.value for w in at.main.warning)
    elif "Maintenance" not in page and "benchmarks" not in page and "Queries" not in page:
        assert figures(at) > 0
    assert not [b for b in at.button if b.key == "_r2w_sign_out"], "no sign-out when embedded"
