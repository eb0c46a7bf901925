"""A task whose preview finds nothing to do says so and cannot be started (issue 20), on the
Maintenance page's card and in its dialog; the stuck task's card takes its minutes."""
from .signin_helpers import MAINTENANCE, app, demo_path, env, pages_on, texts  # noqa: F401


def test_cards_with_nothing_to_do_are_disabled(db_path, tmp_path, monkeypatch):
    with pages_on(db_path, tmp_path, monkeypatch):   # an empty database: no row to clean up
        at = app(MAINTENANCE).run()
        assert not at.exception, at.exception
        for task in ("sessions", "cache", "anonymous", "stuck"):
            button = at.button(key=f"maint_run_{task}")
            assert button.disabled and "Nothing to do" in button.help, task
        assert not at.button(key="maint_run_integrity").disabled, "integrity always runs"


def test_the_stuck_card_previews_the_demos_stuck_jobs(env):
    at = app(MAINTENANCE).run()
    assert not at.exception, at.exception
    assert at.number_input(key="maint_minutes_stuck").value == 60
    assert not at.button(key="maint_run_stuck").disabled
    at.button(key="maint_run_stuck").click().run()
    assert not at.exception, at.exception
    assert not at.button(key="maint_dialog_confirm").disabled
    assert "Stuck jobs" in texts(at)
