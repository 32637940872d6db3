"""The README starts (short, pointing into docs/), and the manual holds together: every relative
link and picture resolves, no page names a machine's own paths or keeps a placeholder."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

# [text](target) and ![alt](target), the target up to a space (a title) or the closing bracket.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
MACHINE_PATHS = ("/work/", "/home/", "/tmp/", "../shared")


def links(text: str) -> list[str]:
    """Every link and image target of a Markdown text, code blocks and code spans left out."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


def is_relative(target: str) -> bool:
    return not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("#")


def test_the_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


def test_the_manual_has_its_pages():
    assert len(list(DOCS.glob("*.md"))) >= 5


def test_the_link_reader_finds_links_and_pictures():
    # The check below is only as good as this reader: it must see both kinds, and skip code.
    text = "see [a](docs/a.md#x) and ![b](b.png)\n`[c](c.md)`\n```\n[d](d.md)\n```\n[e](https://e.org)"
    assert links(text) == ["docs/a.md#x", "b.png", "https://e.org"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_picture_resolves(page):
    found = [t for t in links(page.read_text(encoding="utf-8")) if is_relative(t)]
    missing = [t for t in found if not (page.parent / t.split("#")[0]).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_the_readme_links_into_the_manual():
    targets = {t.split("#")[0] for t in links(README.read_text(encoding="utf-8")) if is_relative(t)}
    assert {"docs/workbook.md", "docs/check.md", "docs/class.md", "docs/mnist.md", "docs/api.md"} <= targets


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_page_names_a_machine_path_or_keeps_a_placeholder(page):
    text = page.read_text(encoding="utf-8")
    assert not [p for p in MACHINE_PATHS if p in text]
    comments = re.findall(r"<!--.*?-->", text, re.S)
    assert all(c.startswith("<!-- api-example") for c in comments), comments
