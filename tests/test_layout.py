"""The layout: the modules stack in one direction, read from the code's own imports (those inside functions too);
the helpers' module, image_folder.py and sample_measures.py need no Keras; the contract between a script and
gan_runner.py is checked when a run starts; generate.py finds a script's own classes without a list of scripts."""

import ast
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, backend_env

sys.path.insert(0, os.path.join(ROOT, "tools"))
import check_copies  # noqa: E402

SCRIPTS = [name[:-3] for name in check_copies.SCRIPTS]
SHARED = ["gan_utils", "gan_runner", "generate", "evaluate", "image_folder", "dcgan_paper_models", "augmentation",
          "sample_measures"]


def imports(root, module):
    """The project's modules that `module` imports anywhere in its code: at the top, in functions, lazily."""
    with open(os.path.join(root, module + ".py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found & set(SCRIPTS + SHARED) - {module}


def graph(root=ROOT):
    return {module: imports(root, module) for module in SCRIPTS + SHARED}


def circle(edges):
    """A list of modules that import each other round in a circle, or None."""
    state = {}

    def visit(module, path):
        state[module] = "open"
        for other in sorted(edges[module]):
            if state.get(other) == "open":
                return path[path.index(other):] + [other]
            if other not in state:
                found = visit(other, path + [other])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(edges):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


@pytest.mark.keras_independent
def test_the_modules_import_each_other_in_one_direction():
    edges = graph()
    assert circle(edges) is None, " -> ".join(circle(edges))
    assert edges["gan_utils"] == set()  # the helpers' module imports nothing of the project
    for module in ("image_folder", "generate", "evaluate"):
        assert "gan_runner" not in edges[module], module
    assert not edges["gan_runner"] & set(SCRIPTS + ["generate"])  # it calls only what a script hands over
    assert not edges["evaluate"] & set(SCRIPTS)


@pytest.mark.keras_independent
def test_a_circle_is_found_even_through_an_import_inside_a_function(tmp_path):
    """The check above can fail: evaluate.py importing gan_runner.py inside a function closes a circle."""
    for module in SCRIPTS + SHARED:
        shutil.copy(os.path.join(ROOT, module + ".py"), tmp_path / (module + ".py"))
    path = tmp_path / "evaluate.py"
    path.write_text(path.read_text() + "\n\ndef later():\n    import gan_runner\n\n    return gan_runner\n")
    found = circle(graph(str(tmp_path)))
    assert found is not None and "gan_runner" in found and "evaluate" in found


@pytest.mark.keras_independent
def test_image_folder_the_helpers_and_the_sample_measures_import_without_keras():
    code = ("import sys, image_folder, gan_utils, sample_measures; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env=backend_env("tensorflow"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def script_without(name, tmp_path, old, new=""):
    """A copy of lsgan_mnist.py beside the shared modules, with `old` replaced by `new`."""
    for module in SHARED:
        shutil.copy(os.path.join(ROOT, module + ".py"), tmp_path / (module + ".py"))
    text = open(os.path.join(ROOT, "lsgan_mnist.py"), encoding="utf-8").read()
    assert text.count(old) == 1, old
    (tmp_path / name).write_text(text.replace(old, new))
    return tmp_path / name


@pytest.mark.parametrize("old, new, said", [
    # a name the runner needs, missing: named, with what it is
    ('COLLAPSE_WINDOW, COLLAPSE_THRESHOLD, COLLAPSE_RULE = 200, 0.001, "both discriminator losses below {}"',
     'COLLAPSE_WINDOW, COLLAPSE_THRESHOLD = 200, 0.001',
     "it hands gan_runner.py no COLLAPSE_RULE (the loss rule in words"),
    # misspelt: the name it has is said too
    ("def looks_collapsed(logs, threshold):", "def look_collapsed(logs, threshold):",
     "it hands gan_runner.py no looks_collapsed (looks_collapsed(logs, threshold): the loss rule, on one step's "
     "losses); it has look_collapsed: misspelt?"),
    # a function's name holding something else
    ('\nif __name__ == "__main__":', '\ndefine_run = "models"\nif __name__ == "__main__":',
     "its define_run is not a function"),
    # an optional name, misspelt: the runner would silently go without it
    ("MIN_BATCH_SIZE = 2", "MIN_BATCH_SIZ = 2", "it has MIN_BATCH_SIZ, which gan_runner.py does not read: "
                                                 "MIN_BATCH_SIZE misspelt?"),
])
def test_a_script_that_breaks_the_contract_is_told_in_one_line_before_anything_is_built(tmp_path, old, new, said):
    script = script_without("fifth_gan.py", tmp_path, old, new)
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, str(script), "--data", "nothing.npz", "--out", str(out)],
                            capture_output=True, text=True, cwd=tmp_path, env=backend_env("tensorflow"))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("lsgan_mnist.py: error:")]
    assert lines and said in lines[0], result.stderr
    assert not out.exists()


def test_the_runner_writes_nothing_into_a_script(tmp_path, mnist_npz):
    """A run on a folder draws grey as it is: told to train() (reverse_grey), not written into the script."""
    import numpy as np
    from PIL import Image

    import lsgan_mnist

    folder = tmp_path / "digits"
    folder.mkdir()
    with np.load(mnist_npz) as data:
        for k, image in enumerate(data["x_train"][:32]):
            Image.fromarray(image).save(folder / f"{k}.png")
    before = dict(vars(lsgan_mnist))
    seen = {}
    train = lsgan_mnist.train

    def spy(*args, **kwargs):
        seen.update(kwargs, GREY_REVERSED=lsgan_mnist.GREY_REVERSED)  # as the script wrote it, during the run too
        return train(*args, **kwargs)

    lsgan_mnist.train = spy
    try:
        argv = ["--data", str(folder), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "16"]
        assert lsgan_mnist.main(argv) == 0
    finally:
        lsgan_mnist.train = train
    assert seen["reverse_grey"] is False and seen["GREY_REVERSED"] is True
    after = dict(vars(lsgan_mnist))
    names = {k for k in before if not k.startswith("__")}
    assert {k for k in after if not k.startswith("__")} == names and all(after[k] is before[k] for k in names)


def test_generate_finds_a_new_scripts_own_class_without_a_list(tmp_path):
    """A fifth script beside generate.py, with a registered class of its own in a saved model: generate.py loads
    the model (and refuses it as not a generator), where Keras alone cannot."""
    for module in SHARED:
        shutil.copy(os.path.join(ROOT, module + ".py"), tmp_path / (module + ".py"))
    (tmp_path / "fifth_gan.py").write_text(
        "import keras\n\n\n"
        "@keras.saving.register_keras_serializable(package='fifth')\n"
        "class Halve(keras.constraints.Constraint):\n"
        "    def __call__(self, w):\n        return w * 0.5\n\n\n"
        "def define_critic():\n"
        "    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),\n"
        "                             keras.layers.Dense(1, kernel_constraint=Halve())])\n\n\n"
        "def main(argv=None):\n    import gan_runner\n\n    return gan_runner.main(globals(), argv)\n")
    save = "import fifth_gan; fifth_gan.define_critic().save('critic.h5')"
    env = dict(backend_env("tensorflow"), PYTHONPATH=str(tmp_path))  # the copies, not this checkout
    assert subprocess.run([sys.executable, "-c", save], cwd=tmp_path, env=env).returncode == 0
    plain = subprocess.run([sys.executable, "-c", "import keras; keras.models.load_model('critic.h5')"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert plain.returncode != 0  # Keras alone does not know the class
    result = subprocess.run([sys.executable, str(tmp_path / "generate.py"), "critic.h5"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "critic.h5: not a generator (it maps (8, 8, 1) to (1,)" in result.stderr.strip().splitlines()[-1]
