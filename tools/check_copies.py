"""Check that the code the scripts share is the same everywhere, as lsgan_mnist.py has it.

Two kinds of declared copy:
- In each training script, everything from the line that starts with SHARED_RULE to the end
  of the file is a copy of lsgan_mnist.py's, line for line.
- Elsewhere, a copy of one definition is marked on the line above it (above its decorators),
  as the transformers library marks its copies:

      # Copied from lsgan_mnist.NAME
      # Copied from lsgan_mnist.NAME with old->new, other->another

  NAME is a top-level function, class or constant of lsgan_mnist.py. The copy must equal it,
  once each `old` is replaced by its `new`, in order. A function or class that equals
  lsgan_mnist.py's of the same name without saying so is reported too: copies nobody declared
  drift unseen. (Constants are hyperparameters: equal by the tutorials' choice, not copies.)

    python tools/check_copies.py           # report every copy that drifted; exit status 1 if any
    python tools/check_copies.py --fix     # rewrite the drifted copies from lsgan_mnist.py
"""

import argparse
import ast
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGINAL = "lsgan_mnist.py"
SCRIPTS = ("wgan_mnist7.py", "dcgan_mnist.py", "dcgan_cifar10.py")
OTHERS = ("generate.py",)
SHARED_RULE = "# ---- From here on, the same in every script"
MARKER = re.compile(r"^# Copied from lsgan_mnist\.(\w+)(?: with (.+))?$")


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


def shared_part(lines):
    """The index of the SHARED_RULE line, or None."""
    return next((k for k, line in enumerate(lines) if line.startswith(SHARED_RULE)), None)


def check(root=ROOT, fix=False):
    """Problems found, as lines 'file:line: what'; with fix, the drifted copies are rewritten."""
    with open(os.path.join(root, ORIGINAL), encoding="utf-8") as f:
        original = f.readlines()
    sources, original_rule = definitions(original), shared_part(original)
    problems = []
    for name in SCRIPTS + OTHERS:
        path = os.path.join(root, name)
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
        rule = shared_part(lines)
        edits = []
        if name in SCRIPTS and rule is None:
            problems.append(f"{name}: no line starting with {SHARED_RULE!r}")
        elif name in SCRIPTS and lines[rule:] != original[original_rule:]:
            changed = next((k for k, (a, b) in enumerate(zip(lines[rule:], original[original_rule:])) if a != b),
                           min(len(lines) - rule, len(original) - original_rule))
            problems.append(f"{name}:{rule + changed + 1}: the shared part differs from lsgan_mnist.py's "
                            f"(its line {original_rule + changed + 1})")
            edits.append((rule, len(lines) - 1, "".join(original[original_rule:])))
        for copy, (first, last) in definitions(lines).items():
            marker = MARKER.match(lines[first - 1].strip()) if first else None
            if marker is None:
                if copy in sources and not copy.isupper() and (rule is None or first < rule) and "".join(
                        lines[first : last + 1]) == "".join(original[sources[copy][0] : sources[copy][1] + 1]):
                    problems.append(f"{name}:{first + 1}: {copy} is a copy of lsgan_mnist.{copy}; declare it")
                continue
            source = marker.group(1)
            if source not in sources:
                problems.append(f"{name}:{first}: lsgan_mnist.py has no {source}")
                continue
            start, end = sources[source]
            expected = "".join(original[start : end + 1])
            for old, new in replacements(marker.group(2)):
                expected = expected.replace(old, new)
            if "".join(lines[first : last + 1]) != expected:
                problems.append(f"{name}:{first + 1}: {copy} differs from lsgan_mnist.{source}")
                edits.append((first, last, expected))
        if fix and edits:
            for first, last, expected in sorted(edits, reverse=True):
                lines[first : last + 1] = [expected]
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(lines)
    return problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fix", action="store_true", help="rewrite each drifted copy from lsgan_mnist.py")
    p.add_argument("--root", default=ROOT, help="the project's folder")
    args = p.parse_args(argv)
    problems = check(args.root, fix=args.fix)
    for problem in problems:
        print(problem)
    if args.fix:
        left = check(args.root)
        print(f"rewrote {len(problems) - len(left)} copies" + (f"; {len(left)} problems left" if left else ""))
        return 1 if left else 0
    print(f"{len(problems)} problems" if problems else "every copy is the same as lsgan_mnist.py's")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
