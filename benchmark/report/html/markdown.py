"""The report's own Markdown files (claims.md, the tables) read back as blocks for the page.

Why read the Markdown instead of recomputing: the tables' cells (mean ± sd, intervals, marks,
"(≥ identity)", pending/failed) are formatted once, by benchmark/report/tables.py and claims.py;
the page shows exactly those cells, so the page and the .md files can never disagree. The files
are ours, so only the subset our writers emit is read: an HTML comment header (the provenance,
stated once on the page instead), `#` headings, tabulate's pipe tables with their alignment
row, `* ` bullets (a table's notes) and plain paragraphs; inline `code`, **bold** and
[links](target). Anything else is shown as a paragraph, as text, never as raw HTML.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def inline(text: str) -> Markup:
    """Escape `text`, then render code spans, bold and links (the text of code spans is left
    as written)."""
    out = []
    for i, part in enumerate(_CODE.split(text)):
        if i % 2:
            out.append(f"<code>{escape(part)}</code>")
            continue
        html = str(escape(part))
        html = _BOLD.sub(r"<strong>\1</strong>", html)
        html = _LINK.sub(r'<a href="\2">\1</a>', html)
        out.append(html)
    return Markup("".join(out))


@dataclass
class Block:
    """kind: 'heading' (level, text), 'table' (header, align, rows), 'list' (items), 'para'."""

    kind: str
    text: str = ""
    level: int = 0
    header: list[str] = field(default_factory=list)
    align: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _alignment(cell: str) -> str:
    cell = cell.strip()
    if cell.startswith(":") and cell.endswith(":"):
        return "center"
    return "right" if cell.endswith(":") else "left"


def _table(lines: list[str]) -> Block:
    header = _cells(lines[0])
    rule = lines[1] if len(lines) > 1 and set(lines[1]) <= set("|:- ") else None
    body = lines[2:] if rule else lines[1:]
    align = [_alignment(c) for c in _cells(rule)] if rule else ["left"] * len(header)
    return Block("table", header=header, align=align, rows=[_cells(line) for line in body])


def parse(text: str) -> list[Block]:
    """Blocks of one of the report's Markdown files, in order (the comment header dropped)."""
    if text.startswith("<!--"):
        text = text.split("-->", 1)[1] if "-->" in text else ""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.lstrip().startswith("|"):
            start = i
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                i += 1
            blocks.append(_table(lines[start:i]))
        elif line.startswith("* ") or line.startswith("- "):
            items = []
            while i < len(lines) and (lines[i].startswith("* ") or lines[i].startswith("- ")):
                items.append(lines[i][2:].strip())
                i += 1
            blocks.append(Block("list", items=items))
        elif match := _HEADING.match(line):
            blocks.append(Block("heading", text=match[2].strip(), level=len(match[1])))
            i += 1
        else:
            start, i = i, i + 1  # the first line always: a '#word' line is text, not a heading
            while i < len(lines) and lines[i].strip() and not lines[i].lstrip().startswith(("|", "* ", "#")):
                i += 1
            blocks.append(Block("para", text=" ".join(s.strip() for s in lines[start:i])))
    return blocks
