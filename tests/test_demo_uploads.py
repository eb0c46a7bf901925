"""`demo --scale large --uploads N`: N uploads, the other tables in the large scale's proportions,
and a silly N refused with one line before anything is written."""
from datetime import datetime

import pytest

from r2w_db import errors
from r2w_db.backends.sqlite.database import Database
from r2w_db.cli.main import main
from r2w_db.demo import builder

NOW = datetime(2026, 11, 24, 8, 15, 2)


def counts(path):
    with Database(path).read() as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("users", "sessions", "cv_uploads")}


def test_uploads_scales_the_large_demo_in_proportion(tmp_path):
    path = tmp_path / "d.db"
    summary = builder.build_demo(path, scale="large", now=NOW, uploads=3_000)
    large = builder.SCALES["large"]
    assert counts(path) == {"users": 1_000, "sessions": 2_000, "cv_uploads": 3_000}
    assert (summary["users"], summary["uploads"]) == (1_000, 3_000)
    assert summary["users"] / summary["uploads"] == large.users / large.uploads
    assert summary["stuck_jobs"] == round(large.stuck * 3_000 / large.uploads) == 1


def test_the_scale_alone_is_unchanged():
    assert builder.scaled("large") == builder.SCALES["large"]
    assert builder.scaled("large", 600_000) == builder.SCALES["large"]


@pytest.mark.parametrize("silly", [0, -5, builder.MAX_UPLOADS + 1, True, 2.5])
def test_silly_uploads_are_refused(tmp_path, silly):
    with pytest.raises(errors.InvalidValue, match="--uploads must be a whole number"):
        builder.build_demo(tmp_path / "d.db", scale="large", uploads=silly)
    assert not (tmp_path / "d.db").exists()


def test_cli_uploads(tmp_path, capsys):
    path = tmp_path / "cli.db"
    assert main(["--db", str(path), "demo", "--scale", "large", "--uploads", "1500",
                 "--quiet"]) == 0
    assert counts(path)["cv_uploads"] == 1_500
    assert "1,500 uploads" in capsys.readouterr().out
    assert main(["--db", str(tmp_path / "no.db"), "demo", "--uploads", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--uploads must be a whole number from 1 to 20,000,000" in err
    assert not (tmp_path / "no.db").exists()
