"""A password never shows: URLs are read the way libpq reads them, whatever the password holds
(issue 19, class 1 and 3). Every place a location is shown, logged, stored or sent goes through
locations.redact (shown) or locations.identity (stored)."""
import pytest

from r2w_db import errors
from r2w_db.engine import locations

# passwords holding what a URL parser may take for the end of the address
PASSWORDS = ["Ha#sh", "qu?ery", "sl/ash", "co:lon", "a#b?c/d", "pct%41", "sp ace", "x=y;z", "#1x", "?1x"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_no_password_survives_redaction(password):
    for url in (f"postgresql://alice:{password}@db.internal:5432/r2w?sslmode=require",
                f"postgres://alice:{password}@db.internal/r2w",
                f"postgresql://:{password}@db.internal/r2w",
                f"http://alice:{password}@127.0.0.1/hook"):
        shown, stored = locations.redact(url), locations.identity(url)
        assert password not in shown and password not in stored, (url, shown, stored)
        assert "***" in shown and "alice" in shown or url.startswith("postgresql://:")
        assert "db.internal" in shown or "127.0.0.1" in shown


@pytest.mark.parametrize("password", ["Ha#sh", "a;b", "x#y"])
def test_a_password_in_the_query_is_redacted(password):
    url = f"postgresql://alice@db/r2w?sslmode=require&password={password}"
    assert password not in locations.redact(url)
    assert locations.identity(url) == "postgresql://alice@db/r2w?sslmode=require"


def test_identity_is_the_same_with_or_without_the_password():
    with_it = locations.identity("postgresql://alice:Ha#sh@db:5432/r2w?sslmode=require")
    assert with_it == locations.identity("postgresql://alice@db:5432/r2w?sslmode=require")
    assert with_it == "postgresql://alice@db:5432/r2w?sslmode=require"


@pytest.mark.parametrize("url", ["postgresql://db:5432/r2w", "postgresql://h1:5432,h2:5433/r2w",
                                 "postgresql://db/r2w?application_name=me@corp",
                                 "/var/lib/r2w/app.db", "data/resume2website.db"])
def test_a_location_without_a_password_shows_as_it_is(url):
    assert locations.redact(url) == url and locations.identity(url) == url


@pytest.mark.parametrize("password", ["pa/ss", "Ha#sh", "a:b"])
def test_libpq_errors_show_no_piece_of_the_password(password):
    url = f"postgresql://alice:{password}@db/r2w?nosuchoption=1"
    with pytest.raises(errors.BadLocation, match="not a valid PostgreSQL URL") as caught:
        locations.checked_pg_url(url)
    assert password not in str(caught.value)


def test_a_message_loses_every_quoted_piece_of_the_password():
    """libpq reads a password holding '/' as a port and quotes that piece in its error."""
    message = 'invalid integer value "pa" for connection option "port"'
    assert locations.without_password(message, "postgresql://alice:pa/ss@db/r2w") == (
        'invalid integer value "***" for connection option "port"')


@pytest.mark.parametrize("pair", ["postgresql://u:S3cr=t@h/db?sslmode=require",
                                  "postgresql://u:S3cret@h/db?sslmode=require",
                                  "postgres://u:Ha#sh=1@h/db"])
def test_a_bare_url_in_r2w_databases_says_so_without_its_password(pair):
    with pytest.raises(errors.BadLocation, match="a URL without its name: write NAME=URL") as caught:
        locations.configured_databases({"R2W_DATABASES": pair}, [])
    assert "S3c" not in str(caught.value) and "Ha#sh" not in str(caught.value)
