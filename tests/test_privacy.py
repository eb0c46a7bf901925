"""No personal data on any page: every page (the Overview and pages/*.py) rendered against
the production-like fixture (known password hashes, session ids, CV documents, emails),
signed in as an admin, after pressing the cheap run buttons; everything sent to the
browser is serialised (protos, table contents, chart specs and datasets) and searched."""
import shutil

import pytest
from streamlit import dataframe_util

from r2w_db.backends import migrations

from .prodlike import SECRETS, build_prodlike
from .signin_helpers import NOW, PAGES, TEAM, pages_on, signed_in

NEEDLES = list(SECRETS.values()) + ["CONFIDENTIAL", "jane.secret", "Jane Secret",
                                    TEAM["ada"]["password_hash"], TEAM["vic"]["password_hash"],
                                    "ada-admin-password"]


@pytest.fixture(scope="module")
def prodlike(tmp_path_factory):
    path = tmp_path_factory.mktemp("privacy") / "prod.db"
    build_prodlike(path, now=NOW)
    migrations.migrate(path)
    return path


@pytest.fixture
def env(prodlike, tmp_path, monkeypatch):
    own = tmp_path / "prod.db"   # the Maintenance page's cleanups change it
    shutil.copyfile(prodlike, own)
    with pages_on(own, tmp_path, monkeypatch):
        yield


def everything(at):
    """All the page sent: every element's proto, dataframes' and charts' data decoded."""
    parts = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
            for field in ("data", "arrow_data"):
                raw = getattr(getattr(proto, field, None), "data", None)
                if raw:
                    parts.append(dataframe_util.convert_arrow_bytes_to_pandas_df(raw).to_csv())
            for dataset in getattr(proto, "datasets", []) or []:
                parts.append(dataframe_util.convert_arrow_bytes_to_pandas_df(
                    dataset.data.data).to_csv())
        value = getattr(node, "value", None)
        if value is not None and not callable(value):
            try:
                parts.append(value.to_csv() if hasattr(value, "to_csv") else str(value))
            except Exception:
                parts.append(repr(value))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    parts.append(str(dict(at.session_state.filtered_state)) if hasattr(at.session_state, "filtered_state")
                 else "")
    return "\n".join(parts)


def assert_private(at):
    assert not at.exception, at.exception
    text = everything(at)
    for needle in NEEDLES:
        assert needle not in text, needle


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("window", ["all", "7d"])
def test_no_personal_data_on_any_page(page, window, env):
    at = signed_in(page, "ada", query={"window": window})
    assert_private(at)
    if "benchmarks" in page:
        at.number_input(key="bench_iterations").set_value(2)
        at.button(key="bench_run").click().run()
        assert_private(at)
    if "Maintenance" in page:
        for task in ("integrity", "sessions"):
            at.button(key=f"maint_run_{task}").click().run()
            assert_private(at)              # the dialog's preview
            at.button(key="maint_dialog_confirm").click().run()
            assert_private(at)              # the result and the log
