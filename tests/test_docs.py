"""The documentation holds: README.md and docs/ link only to files and headings that exist, the
command-line reference is the parsers' own `--help`, nothing cites a document the repository does
not hold, every setting the code reads is in docs/configuration.md, every health check and
threshold in docs/health-checks.md, and the examples marked `<!-- tested: NAME -->` run: the GRANTs
(tests/test_pg_cli.py runs them), the systemd units' and the crontab lines' commands (parsed here by
the command line's own parser), and the webhook payload (built here by the code that sends it)."""
import contextlib
import dataclasses
import io
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from r2w_db.cli import reference
from r2w_db.cli.main import build_parser
from r2w_db.engine import checks
from r2w_db.figures import health

from .doc_blocks import ROOT, all_blocks, blocks, grants_block, markers, pages

DOCS = ROOT / "docs"
CLI_MD = DOCS / "cli.md"
# names of documents the repository does not hold (and a feature documented that never worked)
UNHELD = ("DESIGN.md", "the schema document", "schema document", "../shared", "shared/seed",
          "embed_options=dark_theme", "dark_theme")
PROJECT = "/srv/r2w-monitor"
VENV_PYTHON = (f"{PROJECT}/.venv/bin/python", ".venv/bin/python")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".ini", ".cfg", ".sh", ".yml", ".yaml", ".json",
                 ".html", ".css", ".sql", ""}


# ----------------------------------------------------------------------------- links

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def prose_lines(text):
    """The page's lines outside fenced blocks, inline code blanked: where links and headings are."""
    out, fence = [], None
    for line in text.splitlines():
        stripped = line.lstrip()
        if fence is None and re.match(r"(```+|~~~+)", stripped):
            fence = re.match(r"(```+|~~~+)", stripped).group(1)
            out.append("")
        elif fence is not None:
            if stripped.startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line))
    return out


def slug(heading):
    """GitHub's anchor for a heading: links reduced to their text, lowercase, every character
    but letters, digits, spaces, '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(page):
    """Every heading's anchor on a page (a repeated heading gets -1, -2 ... as on GitHub)."""
    raw = page.read_text(encoding="utf-8")
    found, seen = set(), {}
    for line in _heading_lines(raw):
        match = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def _heading_lines(raw):
    # headings as written (code spans kept: their text is part of the anchor), outside fences
    kept = prose_lines(raw)
    return [line if kept[i].strip() else "" for i, line in enumerate(raw.splitlines())]


def linked_pages():
    return [*pages(), *sorted((ROOT / "bench").glob("*.md"))]


def broken_links(page):
    problems = []
    for number, line in enumerate(prose_lines(page.read_text(encoding="utf-8")), start=1):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):   # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}:{number}: {target}"
            if not file.exists():
                problems.append(f"{where}: no such file")
            elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
                problems.append(f"{where}: no heading #{anchor} in {file.relative_to(ROOT)}")
    return problems


@pytest.mark.parametrize("page", linked_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_to_a_file_and_a_heading(page):
    problems = broken_links(page)
    assert not problems, "\n".join(problems)


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "a.md").write_text("# Top `code` heading!\n\n## Two words\n\nsee [b](b.md), "
                                   "[top](#top-code-heading), [two](#two-words), [gone](#gone), "
                                   "`[not a link](nowhere.md)`\n\n```\n[nor this](x.md)\n```\n")
    problems = broken_links(tmp_path / "a.md")
    assert problems == ["a.md:5: b.md: no such file", "a.md:5: #gone: no heading #gone in a.md"]


def test_the_readme_links_to_every_docs_page_and_stays_short():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for line in prose_lines(readme) for target in LINK.findall(line)}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if f"docs/{p.name}" not in linked]
    assert missing == [], "README.md does not link to these docs pages"
    assert len(readme.splitlines()) <= 200


def set_up_lines(page):
    """The set-up lines of a page's first bash block that runs the tests (the dashboard's left out)."""
    block = next(b for b in blocks(page) if b.language == "bash" and "python -m pytest" in b.body)
    lines = [line.split("#")[0].strip() for line in block.body.splitlines()]
    return [line for line in lines if line and "streamlit run" not in line]


def test_ci_and_the_development_page_run_the_readmes_test_command():
    readme = set_up_lines(ROOT / "README.md")
    assert readme[0].startswith("python3 -m venv ") and readme[-1].endswith("python -m pytest")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert [line for line in ci if line in readme] == readme
    assert set_up_lines(DOCS / "development.md") == readme


# ----------------------------------------------------------------------------- the command line

def test_the_cli_reference_is_generated_from_the_parsers():
    assert CLI_MD.read_text(encoding="utf-8") == reference.render(), (
        f"docs/cli.md is out of date: run `{reference.REGENERATE}`")


def documented_help():
    """{command words: the text of its fenced block} from docs/cli.md."""
    text = CLI_MD.read_text(encoding="utf-8")
    found = {}
    for match in re.finditer(r"^#{2,4} ([^\n]+)\n\n```text\n(.*?)\n```$", text, re.M | re.S):
        words = tuple(match.group(1).split())
        found[() if words == ("python", "-m", "r2w_db") else words] = match.group(2) + "\n"
    return found


def in_process_help(words):
    out = io.StringIO()
    with reference.fixed_width(), contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        build_parser().parse_args([*words, "--help"])
    assert done.value.code == 0
    return out.getvalue()


def test_every_command_is_documented_with_its_own_help():
    documented = documented_help()
    commands = [path for path, _, _ in reference.commands()]
    assert sorted(documented) == sorted(commands)
    assert {"init", "maintain", "watch", "bench", "health"} <= {p[0] for p in commands if p}
    for words in commands:
        assert documented[words] == in_process_help(words), " ".join(words)


@pytest.mark.parametrize("words", [(), ("maintain",), ("restore",)], ids=lambda w: " ".join(w) or "-")
def test_the_reference_is_what_the_real_command_prints(words):
    env = {**os.environ, "COLUMNS": str(reference.WIDTH)}
    done = subprocess.run([sys.executable, "-m", "r2w_db", *words, "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert documented_help()[words] == done.stdout


# ----------------------------------------------------------------------------- what is cited

def tracked_text_files():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    assert listed.returncode == 0, f"git ls-files: {listed.stderr}"
    for name in filter(None, listed.stdout.split("\0")):
        path = ROOT / name
        if path.suffix in TEXT_SUFFIXES and path.is_file():
            yield name, path


def test_nothing_cites_a_document_the_repository_does_not_hold():
    hits = []
    for name, path in tracked_text_files():
        if name == "tests/test_docs.py":
            continue
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        hits += [f"{name}: {word}" for word in UNHELD if word.lower() in text]
    assert not hits, "\n".join(hits)


# ----------------------------------------------------------------------------- settings and checks

def code_variables():
    """Every R2W_ variable named in the code (a name ending in '_' is a prefix: R2W_HEALTH_)."""
    names = set()
    for folder in ("r2w_db", "dashboard", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"R2W_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    names |= set(re.findall(r"R2W_[A-Z0-9_]+", (ROOT / "app.py").read_text(encoding="utf-8")))
    return names


def test_every_setting_the_code_reads_is_in_the_configuration_page():
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    names = code_variables()
    assert {"R2W_MONITOR_DB", "R2W_READ_ONLY", "R2W_BUSY_TIMEOUT_MS", "R2W_HEALTH_"} <= names
    missing = sorted(name for name in names if name not in page)
    assert missing == [], "docs/configuration.md does not name these settings"
    for word in ("DATABASE_URL", "R2W_DATABASES", "[history]", "[alerts]", "[team", "[databases.",
                 "[health]", "[monitor]"):
        assert word in page, word


def test_every_health_check_and_threshold_is_in_the_health_checks_page():
    page = (DOCS / "health-checks.md").read_text(encoding="utf-8")
    from r2w_db.backends.postgresql import server_checks

    keys = (*checks.APPLICATION, *checks.FILE, *server_checks.KEYS, *health.STATEMENT_CHECKS)
    assert [key for key in keys if f"`{key}`" not in page] == []
    fields = [f.name for f in dataclasses.fields(health.Thresholds)]
    assert [f for f in fields if f"`{f}`" not in page] == []
    assert f"{health.ENV_PREFIX}<FIELD>" in page or f"{health.ENV_PREFIX}" in page


# ----------------------------------------------------------------------------- examples that run

def marked_examples(kind):
    return [b for b in all_blocks() if b.tested and example_kind(b) == kind]


def example_kind(block):
    if block.language == "sql":
        return "sql"
    if block.language == "json":
        return "json"
    if re.search(r"^ExecStart=", block.body, re.M):
        return "unit"
    if any(CRON_LINE.match(line) for line in block.body.splitlines()):
        return "crontab"
    return "unknown"


def test_every_marker_sits_on_a_fenced_block_of_a_kind_that_runs():
    marked = {(b.page, b.line - 1) for b in all_blocks() if b.tested}
    stray = [f"{p.relative_to(ROOT)}:{n}: {name}" for p in pages() for n, name in markers(p)
             if (p, n) not in marked]
    assert stray == [], "a <!-- tested: NAME --> marker not directly before a fenced block"
    unknown = [b.where() for b in all_blocks() if b.tested and example_kind(b) == "unknown"]
    assert unknown == []
    assert {"sql", "unit", "crontab", "json"} <= {example_kind(b) for b in all_blocks() if b.tested}


def test_the_grants_are_marked_and_run_by_the_postgresql_tests():
    block = grants_block()   # tests/test_pg_cli.py runs exactly these, statement by statement
    assert block.tested == "grants" and block.page == DOCS / "postgresql.md", block.where()


def parses(module, words, where):
    """The arguments `python -m MODULE ...` gets are ones its parser accepts."""
    if module == "r2w_db":
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                build_parser().parse_args(words)
            except SystemExit:
                pytest.fail(f"{where}: python -m r2w_db {shlex.join(words)}: {err.getvalue()}")
        return
    assert module == "streamlit" and words[:2] == ["run", "app.py"], f"{where}: {module} {words}"
    from streamlit import config as st_config

    known = st_config.get_config_options()
    options, _, app_args = shlex.join(words[2:]).partition(" -- ")
    for option in re.findall(r"--([\w.]+)", options):
        assert option in known, f"{where}: streamlit has no option --{option}"
    assert app_args == "" or shlex.split(app_args)[0] == "--db", f"{where}: {app_args}"


def test_the_systemd_units_run_the_virtual_environments_python_with_arguments_that_parse():
    units = marked_examples("unit")
    assert units
    for block in units:
        assert f"WorkingDirectory={PROJECT}" in block.body, block.where()
        for line in re.findall(r"^ExecStart=(.*)$", block.body, re.M):
            words = shlex.split(line)
            assert words[0] == VENV_PYTHON[0] and words[1] == "-m", f"{block.where()}: {line}"
            parses(words[2], words[3:], block.where())


CRON_LINE = re.compile(r"^(@\w+|(?:[\d*/,-]+\s+){5})\s*(\S.*)$")
REDIRECT = re.compile(r"\s*\d*>>?\s*(?:&\d|\S+)")


def test_the_crontab_lines_cd_to_the_project_and_run_commands_that_parse():
    tables = marked_examples("crontab")
    assert tables
    jobs = 0
    for block in tables:
        for line in block.body.splitlines():
            if not line.strip() or line.lstrip().startswith("#") or re.match(r"^[A-Z_]+=", line):
                continue
            match = CRON_LINE.match(line)
            assert match, f"{block.where()}: not a crontab line: {line}"
            command = match.group(2)
            assert "%" not in command, f"{block.where()}: cron turns % into a newline: {line}"
            assert command.startswith(f"cd {PROJECT} && "), f"{block.where()}: {line}"
            for part in re.split(r"&&|\|\||;", REDIRECT.sub("", command))[1:]:
                words = shlex.split(part)
                while words and re.match(r"^[A-Z_]+=", words[0]):   # VAR=value before a command
                    words.pop(0)
                assert words[0] in VENV_PYTHON and words[1] == "-m", f"{block.where()}: {part}"
                parses(words[2], words[3:], block.where())
                jobs += 1
    assert jobs >= 5


def test_the_webhook_payload_is_the_one_the_watcher_sends():
    from datetime import datetime

    from r2w_db.watch import notify

    (block,) = [b for b in marked_examples("json") if b.tested == "webhook"]
    documented = json.loads(block.body)
    report = {"status": documented["status"], "database": documented["database"]}
    now = datetime.fromisoformat(documented["as_of"])
    assert notify.message(report, documented["checks"], now) == documented


def test_the_example_checkers_fail_on_a_bad_example(tmp_path):
    with pytest.raises(pytest.fail.Exception):
        parses("r2w_db", ["maintain", "no-such-task"], "example")
    with pytest.raises(AssertionError):
        parses("streamlit", ["run", "app.py", "--server.no_such_option", "1"], "example")
    page = tmp_path / "example.md"
    page.write_text("<!-- tested: unit -->\n```ini\nExecStart=/x\n```\n\n<!-- tested: cron -->\n"
                    "```\n*/5 * * * * cd /x && y\n```\n", encoding="utf-8")
    unit, cron = blocks(page)
    assert (unit.tested, example_kind(unit), cron.tested, example_kind(cron)) == (
        "unit", "unit", "cron", "crontab")
