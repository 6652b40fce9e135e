"""The README and docs/: every relative link and #anchor leads somewhere, the README stays a front
door (short, the set-up commands on its first screen), and each script's docstring names its page."""

import glob
import os
import re

import pytest

from conftest import ROOT

PAGES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slugs(path):
    """The #anchors GitHub gives a Markdown file's headings (lower case, punctuation dropped,
    spaces to hyphens, -1, -2 ... for repeats)."""
    seen, anchors, fenced = {}, set(), False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                fenced = not fenced
            if fenced or not line.startswith("#"):
                continue
            text = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def links(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)  # code blocks hold commands, not links
    return LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=[os.path.relpath(p, ROOT) for p in PAGES])
def test_every_relative_link_and_anchor_exists(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(full):
            broken.append(f"{target}: no such file")
        elif anchor and (not full.endswith(".md") or anchor not in slugs(full)):
            broken.append(f"{target}: no heading #{anchor} in {os.path.relpath(full, ROOT)}")
    assert not broken, "\n".join(broken)


def test_the_readme_is_a_front_door():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert len(lines) <= 200
    first_screen = "\n".join(lines[:40])
    assert "pip install -r requirements.txt" in first_screen and "python -m pytest tests" in first_screen


@pytest.mark.parametrize("script", ["lsgan_mnist", "wgan_mnist7", "dcgan_mnist", "dcgan_cifar10", "cgan_mnist"])
def test_each_script_docstring_points_to_its_page(script):
    with open(os.path.join(ROOT, f"{script}.py"), encoding="utf-8") as f:
        docstring = f.read().split('"""')[1]
    assert f"docs/{script}.md" in docstring
    assert os.path.isfile(os.path.join(ROOT, "docs", f"{script}.md"))
