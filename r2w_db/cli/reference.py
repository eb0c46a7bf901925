"""The command-line reference, docs/cli.md, generated from the argparse parsers so it cannot drift.

    python -m r2w_db.cli.reference > docs/cli.md

Every command (and every nested subcommand) gets a heading and its exact `--help` text, formatted
at a fixed width (COLUMNS=WIDTH) so the wrapping is the same on every machine.
"""
import argparse
import os
from contextlib import contextmanager

from r2w_db.cli.main import build_parser

WIDTH = 100
REGENERATE = "python -m r2w_db.cli.reference > docs/cli.md"


@contextmanager
def fixed_width(columns=WIDTH):
    """argparse wraps at the terminal's width (shutil reads COLUMNS): fix it while formatting."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


def _subcommands(parser):
    """[(name, help line, subparser)] of the parser's subcommands, in the order they were added."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            found += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def commands(parser=None, path=()):
    """[(path, help line, parser)]: the program itself, then every command depth first; `path` is
    the words after `python -m r2w_db` (("maintain",) ...)."""
    parser = parser or build_parser()
    found = [] if path else [(path, parser.description or "", parser)]
    for name, line, sub in _subcommands(parser):
        found.append((path + (name,), line, sub))
        found += commands(sub, path + (name,))
    return found


def help_text(parser):
    """The parser's `--help` output, at the fixed width."""
    with fixed_width():
        return parser.format_help()


def anchor(path):
    """The heading's anchor as GitHub makes it (lowercase, spaces to '-')."""
    return "-".join(path).lower() if path else "python--m-r2w_db"


def render(parser=None):
    """docs/cli.md as a string."""
    entries = commands(parser)
    lines = ["# The command line", "",
             f"Generated from the argparse parsers of `r2w_db/cli/`: do not edit; regenerate with "
             f"`{REGENERATE}` (tests/test_docs.py checks it matches `--help`).", "",
             "`python -m r2w_db [--db NAME|PATH|URL] COMMAND ...` (`--db` may also follow the "
             "command). Exit status: 0 ok, 1 a warning or a failure (one `error: ...` line on "
             "stderr), 2 a usage error; `health` also uses 2 (critical) and 3 (unknown). `--json` "
             "prints one JSON document (`watch --json`: one line per cycle).", ""]
    lines += [f"- [`{' '.join(path) or 'python -m r2w_db'}`](#{anchor(path)}): {line}"
              for path, line, _ in entries]
    for path, _, sub in entries:
        lines += ["", f"{'#' * min(2 + max(len(path) - 1, 0), 4)} {' '.join(path) or 'python -m r2w_db'}",
                  "", "```text", help_text(sub).rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


def main():
    print(render(), end="")


if __name__ == "__main__":
    main()
