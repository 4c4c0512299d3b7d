"""The README's table of contents and links stay true as sections move: every ``(#anchor)`` is
a heading's GitHub anchor, and every relative link names a file in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {github_anchor(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [link for link in LINK.findall(text) if "://" not in link]


def test_github_anchor_follows_githubs_rule() -> None:
    """Backticks and colons vanish, spaces become hyphens."""
    assert github_anchor("Develop: `func start` and VS Code") == "develop-func-start-and-vs-code"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_link_resolves(path: Path) -> None:
    """Same-page anchors name a heading; relative links name a file (and its heading)."""
    broken = []
    for link in _links(path):
        target, _, anchor = link.partition("#")
        document = (path.parent / target).resolve() if target else path
        if not document.exists() or (
            anchor and document.suffix == ".md" and anchor not in _anchors(document)
        ):
            broken.append(link)
    assert not broken, broken
