"""Check that the code the training scripts copy is the same everywhere as in its original.

Each training script is standalone for its tutorial, so it keeps its own copies of what its
tutorial calls: tutorial pieces written once in lsgan_mnist.py (the Composite model, the sampling
helpers, ...) and the few helpers whose originals are in gan_utils.py (the atomic save, the grid
picture) and gan_runner.py (per_batch, save_model). A copy is marked on the line above it (above its decorators), as the
transformers library marks its copies:

    # Copied from lsgan_mnist.NAME
    # Copied from gan_utils.NAME with old->new, other->another

NAME is a top-level function, class or constant of that module. The copy must equal it, once
each `old` is replaced by its `new`, in order. A function or class that equals an original of the
same name without saying so is reported too: copies nobody declared drift unseen. (Constants are
hyperparameters: equal by the tutorials' choice, not copies.) Everything else a script needs is
imported from gan_runner.py or gan_utils.py; generate.py, evaluate.py and image_folder.py import gan_utils.py,
so they keep no copies.

    python tools/check_copies.py           # report every copy that drifted; exit status 1 if any
    python tools/check_copies.py --fix     # rewrite the drifted copies from their originals
"""

import argparse
import ast
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGINALS = ("lsgan_mnist", "gan_utils", "gan_runner", "augmentation")  # the modules copies are made from
SCRIPTS = ("lsgan_mnist.py", "wgan_mnist7.py", "dcgan_mnist.py", "dcgan_cifar10.py", "cgan_mnist.py", "diffaugment_gan.py")
OTHERS = ("generate.py", "evaluate.py", "image_folder.py", "dcgan_paper_models.py", "augmentation.py",
          "sample_measures.py")  # they import: any copy is reported
MARKER = re.compile(r"^# Copied from (\w+)\.(\w+)(?: with (.+))?$")


def definitions(lines):
    """{name: (first line, last line)} (0-based, decorators included) of a module's top-level
    functions, classes and single-name assignments."""
    spans = {}
    for node in ast.parse("".join(lines)).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            name = node.name
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        else:
            continue
        first = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
        spans[name] = (first, node.end_lineno - 1)
    return spans


def replacements(text):
    """'a->b, c->d' as [("a", "b"), ("c", "d")]."""
    pairs = [part.split("->") for part in text.split(",")] if text else []
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"bad replacements {text!r}: write old->new, old->new")
    return [(old.strip(), new.strip()) for old, new in pairs]


def read(root, module):
    with open(os.path.join(root, module + ".py"), encoding="utf-8") as f:
        lines = f.readlines()
    return lines, definitions(lines)


def check(root=ROOT, fix=False):
    """Problems found, as lines 'file:line: what'; with fix, the drifted copies are rewritten."""
    originals = {module: read(root, module) for module in ORIGINALS}
    problems = []
    for name in SCRIPTS + OTHERS:
        module = name[:-3]
        lines, spans = read(root, module)
        edits = []
        for copy, (first, last) in spans.items():
            marker = MARKER.match(lines[first - 1].strip()) if first else None
            if marker is None:
                for source in reversed(ORIGINALS):  # the helpers first: lsgan_mnist.py copies some of their originals
                    source_lines, sources = originals[source]
                    if source != module and copy in sources and not copy.isupper() and "".join(
                            lines[first : last + 1]) == "".join(source_lines[sources[copy][0] : sources[copy][1] + 1]):
                        problems.append(f"{name}:{first + 1}: {copy} is a copy of {source}.{copy}; declare it")
                        break
                continue
            source, original = marker.group(1), marker.group(2)
            if name in OTHERS:
                problems.append(f"{name}:{first + 1}: {copy}: import it from {source}.py instead of copying it")
                continue
            if source not in originals or source == module:
                problems.append(f"{name}:{first}: copies are made from {' or '.join(ORIGINALS)}, not {source}")
                continue
            source_lines, sources = originals[source]
            if original not in sources:
                problems.append(f"{name}:{first}: {source}.py has no {original}")
                continue
            start, end = sources[original]
            expected = "".join(source_lines[start : end + 1])
            for old, new in replacements(marker.group(3)):
                expected = expected.replace(old, new)
            if "".join(lines[first : last + 1]) != expected:
                problems.append(f"{name}:{first + 1}: {copy} differs from {source}.{original}")
                edits.append((first, last, expected))
        if fix and edits:
            for first, last, expected in sorted(edits, reverse=True):
                lines[first : last + 1] = [expected]
            with open(os.path.join(root, name), "w", encoding="utf-8") as f:
                f.writelines(lines)
    return problems


def identical_lines(root=ROOT):
    """{script: lines of its top-level functions and classes identical to one of another script}: what
    the scripts repeat of each other, declared copies included (the issue's measure, counted with ast)."""
    found = {}
    for name in SCRIPTS:
        lines, spans = read(root, name[:-3])
        tree = ast.parse("".join(lines)).body
        found[name] = {"".join(lines[spans[n.name][0] : spans[n.name][1] + 1]): spans[n.name][1] - spans[n.name][0] + 1
                       for n in tree if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return {name: sum(size for text, size in mine.items() if any(text in found[other] for other in found
                                                                  if other != name))
            for name, mine in found.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fix", action="store_true", help="rewrite each drifted copy from its original")
    p.add_argument("--root", default=ROOT, help="the project's folder")
    args = p.parse_args(argv)
    problems = check(args.root, fix=args.fix)
    for problem in problems:
        print(problem)
    if args.fix:
        left = check(args.root)
        print(f"rewrote {len(problems) - len(left)} copies" + (f"; {len(left)} problems left" if left else ""))
        return 1 if left else 0
    print(f"{len(problems)} problems" if problems else "every copy is the same as its original")
    for name, size in identical_lines(args.root).items():
        print(f"{name}: {size} lines of functions and classes identical to another script's")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
