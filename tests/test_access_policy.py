"""The access policy as plain functions (issue 20): no Streamlit in dashboard/access_policy.py,
and each rule on plain values."""
import ast
from dataclasses import dataclass
from pathlib import Path

from dashboard import access_policy as policy

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Account:
    databases: tuple

    def may_open(self, name):
        return name in self.databases


@dataclass
class Location:
    name: str


def test_the_policy_imports_no_streamlit():
    tree = ast.parse((ROOT / "dashboard" / "access_policy.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.split(".")[0] == "streamlit"}


def test_who_is_looking():
    assert policy.who({"name": "ada", "role": "admin"}, True) == ("ada", "admin")
    assert policy.who(None, True) == (None, None), "accounts and nobody signed in: nobody"
    assert policy.who(None, False) == ("open: no team accounts", "admin"), "never an OS user"
    assert policy.who_line(*policy.who(None, False), False).startswith("Open: no team accounts")
    assert policy.who_line("vic", "viewer", True) == "Signed in as **vic** (viewer)"


def test_databases_an_account_may_open():
    choices = [Location("prod"), Location("staging")]
    assert policy.databases_for(None, choices) == choices
    assert policy.databases_for(Account(("staging",)), choices) == [choices[1]]
    assert policy.databases_for(Account(()), choices) == []


def test_maintenance_refusal():
    assert policy.maintenance_refusal("admin", False) is None
    assert policy.maintenance_refusal("admin", True) == policy.READ_ONLY_REFUSAL
    assert "admin role (you are viewer)" in policy.maintenance_refusal("viewer", False)
    assert "not signed in" in policy.maintenance_refusal(None, False)


def test_read_only_fails_closed():
    assert policy.read_only({}, "secrets.toml: cannot be parsed", {}) is True
    assert policy.read_only({"monitor": {"read_only": True}}, None, {}) is True
    assert policy.read_only({}, None, {"R2W_READ_ONLY": "1"}) is True
    assert policy.read_only({}, None, {}) is False


def test_client_address_trusts_the_proxy_only_when_told():
    assert policy.client("10.0.0.9", {}, "198.51.100.7") == "10.0.0.9"
    proxied = {"behind_proxy": True}
    assert policy.client("10.0.0.9", proxied, "203.0.113.1, 198.51.100.7") == "198.51.100.7"
    assert policy.client("10.0.0.9", proxied, None) == "10.0.0.9"
    assert policy.client(None, None, None) is None and policy.client("", {}, None) is None
