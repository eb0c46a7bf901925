"""The Maintenance page's previews without a count per page view.

A retention cleanup's preview counts every row it would delete (the anonymous one every
anonymous id): it grows with the rows. The watcher's snapshot counts the same figures at each
cleanup's retention (preview.<task>.days|count, preview.anonymous.uploads); `preview` shows
them with the snapshot's time when the page asks for those very days and the snapshot may stand
for now (figures/watched_checks.recent_snapshot: under an hour old, taken after the newest
maintenance run), and counts live otherwise. A run never reads them: its confirmation and the
run itself count live (registry.preview, runner).
"""
from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.figures import watched_checks
from r2w_db.maintenance import registry


def preview(db, task, *, days=None, now=None, history=None, log=None, **options):
    """(registry.preview(db, task, days=days, **options), the snapshot's taken_at, or None
    when it was counted now)."""
    db = open_database(db)
    counted, taken_at = _counted(db, task, days, now, history, log, options)
    return registry.preview(db, task, days=days, now=now, counted=counted, **options), taken_at


def _counted(db, task, days, now, history, log, options):
    """((rows, uploads or None), taken_at) from the snapshot, or (None, None)."""
    spec = registry.TASKS.get(task)
    if spec is None or spec.default_days is None or task == "stuck":
        return None, None
    if task == "sessions" and options.get("signed_out", True):
        return None, None   # the snapshot does not count the users signed out
    try:
        days = registry.check_days(spec, days)
    except errors.R2WError:   # registry.preview says what is wrong with them
        return None, None
    kept = watched_checks.recent_snapshot(db, now, history, log)
    if kept is None:
        return None, None
    taken_at, metrics = kept
    count = metrics.get(f"preview.{task}.count")
    uploads = metrics.get(f"preview.{task}.uploads")
    if metrics.get(f"preview.{task}.days") != days or count is None \
            or (task == "anonymous" and uploads is None):
        return None, None
    return (int(count), None if uploads is None else int(uploads)), taken_at
