"""The README and docs/: every relative link and #anchor leads somewhere, the README stays a front
door (short, the set-up commands on its first screen), each script's docstring names its page,
and every training command in a code block has flags its script takes."""

import glob
import importlib
import os
import re
import sys

import pytest

import gan_runner
from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import check_copies  # noqa: E402

SCRIPTS = [name[:-3] for name in check_copies.SCRIPTS]  # the training scripts, listed once for every test
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


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_script_docstring_points_to_its_page(script):
    with open(os.path.join(ROOT, f"{script}.py"), encoding="utf-8") as f:
        docstring = f.read().split('"""')[1]
    assert f"docs/{script}.md" in docstring
    assert os.path.isfile(os.path.join(ROOT, "docs", f"{script}.md"))


COMMAND = re.compile(r"^python (" + "|".join(SCRIPTS) + r")\.py(.*?)(?:\s+#.*)?$")


def training_commands():
    """(page, script, its flags) for each training command in the README's and docs' code blocks."""
    found = []
    for page in PAGES:
        with open(page, encoding="utf-8") as f:
            blocks = re.findall(r"```(?:bash)?\n(.*?)```", f.read(), flags=re.S)
        for line in "\n".join(blocks).splitlines():
            match = COMMAND.match(line.strip())
            if match:
                found.append((os.path.relpath(page, ROOT), match.group(1), match.group(2).split()))
    return found


def test_every_training_command_in_the_docs_has_flags_its_script_takes(capsys):
    """A renamed or misspelt flag in a copied line fails here, not on a user's machine: each command's flags
    are read by the script's own parser (nothing runs)."""
    commands, wrong = training_commands(), []
    assert len(commands) > 20
    for page, name, argv in commands:
        script = gan_runner.Script(vars(importlib.import_module(name)))
        try:
            gan_runner.parse_args(script, argv)
        except SystemExit:
            wrong.append(f"{page}: python {name}.py {' '.join(argv)}: {capsys.readouterr().err.strip()}")
    assert not wrong, "\n".join(wrong)
