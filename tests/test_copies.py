"""Each script is its tutorial plus what is its own; the run machinery is gan_runner.py's alone. The
code the scripts copy is the same as its original (tools/check_copies.py), and the check fails when
one copied line drifts, which --fix repairs."""

import os
import shutil
import subprocess
import sys

import pytest

import gan_runner
from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import check_copies  # noqa: E402

FILES = check_copies.SCRIPTS + check_copies.OTHERS + ("gan_runner.py", "gan_utils.py")


def test_every_copy_in_the_project_is_the_same_as_its_original():
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
    # a line of a script's copy of gan_utils.save_atomically
    ("wgan_mnist7.py", "        os.replace(tmp, path)", "        os.rename(tmp, path)"),
    # a declared copy of one class of lsgan_mnist.py's tutorial
    ("dcgan_cifar10.py", "return self._not_trained(self.weights)", "return self.weights"),
    # lsgan_mnist.py's own copy of gan_utils.grid_pixels
    ("lsgan_mnist.py", "if c == 1 and (GREY_REVERSED", "if c == 3 and (GREY_REVERSED"),
    # the standalone main every script shares
    ("dcgan_mnist.py", 'return gan_runner.main(globals(), argv)', 'return gan_runner.main(globals(), [])'),
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
    """wgan_mnist7.py's save_model, its marker removed: the same code, no longer declared."""
    text = edit(project / "wgan_mnist7.py", "# Copied from gan_runner.save_model\n", "")
    line = text.splitlines().index("def save_model(model, path):")  # 1-based, once the marker is gone
    assert check_copies.check(str(project)) == [
        f"wgan_mnist7.py:{line}: save_model is a copy of gan_runner.save_model; declare it"]


def test_generate_and_evaluate_import_what_they_share_instead_of_copying_it(project):
    """A copy of gan_utils.Parser pasted into generate.py is reported, declared or not: it imports it."""
    helpers = (project / "gan_utils.py").read_text()
    parser = helpers[helpers.index("class Parser("):helpers.index("def positive(")]
    (project / "generate.py").write_text((project / "generate.py").read_text() + "\n\n" + parser)
    problems = check_copies.check(str(project))
    assert len(problems) == 1 and "generate.py:" in problems[0] and "Parser is a copy of gan_utils.Parser" in problems[0]
    edit(project / "generate.py", "class Parser(", "# Copied from gan_utils.Parser\nclass Parser(")
    problems = check_copies.check(str(project))
    assert len(problems) == 1 and "Parser: import it from gan_utils.py instead of copying it" in problems[0]
    import gan_utils
    import generate

    assert generate.Parser is gan_utils.Parser is gan_runner.Parser and generate.save_grid is gan_utils.save_grid


@pytest.mark.parametrize("name", check_copies.SCRIPTS)
def test_each_script_is_its_tutorial_plus_what_is_its_own(name):
    """At most 450 lines; at most 150 lines of its functions and classes identical to another script's
    (declared copies included); the run machinery lives in gan_runner.py alone."""
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        text = f.read()
    assert len(text.splitlines()) <= 450
    assert check_copies.identical_lines(ROOT)[name] <= 150
    for machinery in ("class Checkpoint", "def prepare_backend", "def resume_settings", "class StopOnSignal",
                      "class CollapseGuard", "def check_out_dir", "def add_run_flags"):
        assert machinery not in text, machinery


TUTORIAL = ["define_generator", "define_gan", "load_real_samples", "generate_real_samples", "generate_latent_points",
            "generate_fake_samples", "summarize_performance", "plot_history", "train"]


@pytest.mark.parametrize("name", check_copies.SCRIPTS)
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
