"""The Markdown the repository holds, read the way the docs tests need it: the pages, their fenced
blocks, and the examples marked to run (`<!-- tested: NAME -->` on the line before a fenced block)."""
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!--\s*tested:\s*([\w-]+)\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w-]*)")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int          # 1-based line of the opening fence
    language: str
    body: str
    tested: str = ""   # the marker's name, if the block is marked to run

    def where(self):
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages():
    """README.md and every docs/ page."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page):
    """The fenced blocks of a page, in order, with the marker on the line before each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, end = opening.group(1), i + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        marker = MARKER.match(lines[i - 1]) if i else None
        found.append(Block(page, i + 1, opening.group(2), "\n".join(lines[i + 1:end]) + "\n",
                           marker.group(1) if marker else ""))
        i = end + 1
    return found


def all_blocks():
    return [block for page in pages() for block in blocks(page)]


def markers(page):
    """(line, name) of every marker on a page, whether a fenced block follows it or not."""
    lines = page.read_text(encoding="utf-8").splitlines()
    return [(n + 1, m.group(1)) for n, line in enumerate(lines) if (m := MARKER.match(line))]


def grants_block():
    """The documented PostgreSQL roles and GRANTs: the sql block that creates r2w_monitor."""
    found = [b for b in all_blocks() if b.language == "sql" and "CREATE ROLE r2w_monitor" in b.body]
    assert len(found) == 1, f"one documented GRANT block expected, found {[b.where() for b in found]}"
    return found[0]


def grant_statements(dbname):
    """The documented GRANT block, statement by statement, for database `dbname`."""
    code = "\n".join(line.split("--")[0] for line in grants_block().body.splitlines())
    return [s.strip().replace("resume2website", dbname) for s in code.split(";") if s.strip()]
