"""The code the scripts share is the same everywhere (tools/check_copies.py), and the check fails
when one copied line drifts, which --fix repairs."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import check_copies  # noqa: E402

FILES = ("lsgan_mnist.py", "generate.py") + check_copies.SCRIPTS


def test_every_copy_in_the_project_is_the_same_as_lsgan_mnist():
    assert check_copies.check(ROOT) == []


@pytest.fixture
def project(tmp_path):
    for name in FILES:
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    return tmp_path


def edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return text


@pytest.mark.parametrize("name, old, new", [
    # a line of the shared part (main's exit status for a full disk) in one script
    ("wgan_mnist7.py", 'the files written before are intact", 1)', 'the files written before are intact", 0)'),
    # a declared copy of one class, above the shared part
    ("dcgan_cifar10.py", "return self._not_trained(self.weights)", "return self.weights"),
    # a declared copy in generate.py
    ("generate.py", "if c == 1:\n        images = 1.0 - images", "if c == 3:\n        images = 1.0 - images"),
])
def test_a_drifted_copy_fails_the_check_and_fix_repairs_it(project, name, old, new):
    original = edit(project / name, old, new)
    problems = check_copies.check(str(project))
    assert len(problems) == 1 and problems[0].startswith(f"{name}:"), problems
    command = [sys.executable, os.path.join(ROOT, "tools", "check_copies.py"), "--root", str(project)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 1 and f"{name}:" in result.stdout
    result = subprocess.run(command + ["--fix"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert (project / name).read_text() == original
    assert check_copies.check(str(project)) == []


def test_a_copy_nobody_declared_is_reported(project):
    """generate.py's Parser, its marker removed: the same code, no longer declared."""
    text = edit(project / "generate.py", "# Copied from lsgan_mnist.Parser\n", "")
    line = text.splitlines().index("class Parser(argparse.ArgumentParser):")  # 1-based, once the marker is gone
    assert check_copies.check(str(project)) == [f"generate.py:{line}: Parser is a copy of lsgan_mnist.Parser; declare it"]


def test_a_missing_shared_part_is_reported(project):
    """Without its rule, the shared part is code nobody declared a copy: each piece is named."""
    edit(project / "dcgan_mnist.py", check_copies.SHARED_RULE, "# ---- the rest")
    problems = check_copies.check(str(project))
    assert problems[0] == f"dcgan_mnist.py: no line starting with {check_copies.SHARED_RULE!r}"
    assert any("main is a copy of lsgan_mnist.main; declare it" in p for p in problems[1:])


TUTORIAL = ["define_generator", "define_gan", "load_real_samples", "generate_real_samples", "generate_latent_points",
            "generate_fake_samples", "summarize_performance", "plot_history", "train"]


@pytest.mark.parametrize("name", ["lsgan_mnist.py"] + list(check_copies.SCRIPTS))
def test_each_script_opens_with_the_tutorial_in_its_order_in_at_most_300_lines(name):
    import ast

    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        lines = f.readlines()
    banner = next(k for k, line in enumerate(lines) if line.startswith("# %% ---- Running from the command line"))
    assert banner <= 300, f"{name}: the tutorial part is {banner} lines"
    defined = [node.name for node in ast.parse("".join(lines[:banner])).body
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    critic = "define_critic" if name == "wgan_mnist7.py" else "define_discriminator"
    order = [critic] + TUTORIAL
    assert [n for n in defined if n in order] == order  # the tutorials' names, in the tutorials' order
    assert sum(line.startswith("# %%") for line in lines) >= 6  # cells: imports, models, data, reports, training, CLI
