"""Recipes compared at equal wall-clock time on a folder: each trains for the same minutes, one after another
(never two at once: on a few cores they slow each other unevenly), its generator saved at fixed minutes
(--save-every-minutes, --max-minutes), every saved generator scored by evaluate.py's SWD against the folder, and
the table and the grids written side by side.

    python benchmarks/minutes.py --data ../shared/data/twemoji64 --minutes 5,10,15 --seed 1 --out bench/icons-s1 \\
        --run "line=dcgan_cifar10.py --image-size 64 --models dcgan-paper --epochs 100000" \\
        --run "new=diffaugment_gan.py --epochs 100000"

A run is NAME=SCRIPT FLAGS, in the repository's folder; --data, --seed, --out and the minute flags are added.
--minutes are whole multiples of the first (5,10,15: saved every 5, stopped after 15). Minutes count from each
run's first step, compiling included, after its data is loaded (the folder is decoded once, into the cache,
before the first run). In --out: NAME/ (each run's folder and its log.txt), table.md (SWD at each minute, steps
reached), grids.png (a column per run, a row per minute: the same 64 latent points, generate.py --seed 0).
A run already in --out (its log.txt ends with a stop line) is not trained again: the table is rebuilt. Runs go on
through a likely collapse (--no-stop-on-collapse), the step the guard flagged it at in the table.
"""

import argparse
import csv
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = re.compile(r"minute ([\d.]+): the generator of step (\d+): (\S+)")  # anywhere: a progress bar may precede


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the folder of images every run trains on and is scored against")
    p.add_argument("--run", action="append", required=True, metavar="NAME=SCRIPT FLAGS", help="a recipe; repeat")
    p.add_argument("--minutes", default="5,10,15", help="when to save and score; the last is each run's length")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n", type=int, default=2000, help="generated images per SWD score")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    args.minutes = [float(m) for m in args.minutes.split(",")]
    if any(abs(m / args.minutes[0] - round(m / args.minutes[0])) > 1e-9 for m in args.minutes):
        p.error("--minutes: each a whole multiple of the first")
    args.run = [tuple(part.strip() for part in run.split("=", 1)) for run in args.run]
    if any(len(run) != 2 or not run[0] for run in args.run):
        p.error("--run NAME=SCRIPT FLAGS")
    return args


def train(name, command, args):
    """One run, alone; from its log, {minute mark: (step, generator path)} (the first save at or after each mark,
    the stop's at the last) and the step the collapse guard flagged, or None."""
    folder = os.path.join(args.out, name)
    log = os.path.join(folder, "log.txt")
    if not (os.path.exists(log) and "stopped after" in open(log, encoding="utf-8").read()):
        argv = [sys.executable, *shlex.split(command), "--data", args.data, "--seed", str(args.seed),
                "--out", folder, "--save-every-minutes", f"{args.minutes[0]:g}", "--max-minutes",
                f"{args.minutes[-1]:g}", "--no-stop-on-collapse", "--overwrite"]
        print(f"{name}: {shlex.join(argv[1:])}", flush=True)
        os.makedirs(folder, exist_ok=True)
        with open(log, "w", encoding="utf-8") as f:
            status = subprocess.run(argv, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
        if status != 0:
            sys.exit(f"{name}: exit status {status}; see {log}")
    with open(log, encoding="utf-8") as f:
        text = f.read()
    saved = [(float(minute), int(step), path) for minute, step, path in MARK.findall(text)]
    marks = {mark: next((s, p) for minute, s, p in saved if minute >= mark) for mark in args.minutes[:-1]}
    last = re.findall(r"at step (\d+) of \d+; checkpoint in .*?; the generator of step \d+: (\S+);", text)
    marks[args.minutes[-1]] = (int(last[-1][0]), last[-1][1])
    flagged = re.findall(r"^step (\d+): likely collapse", text, re.M)
    return marks, (int(flagged[0]) if flagged else None)


def score(name, marks, args):
    """{mark: SWD} of the run's saved generators, by evaluate.py --metric swd against the folder (it scores no real
    images of a folder against each other: the table has no floor)."""
    out = os.path.join(args.out, name, "scores")
    paths = [path for _, path in marks.values()]
    subprocess.run([sys.executable, "evaluate.py", *paths, "--data", args.data, "--metric", "swd", "--n",
                    str(args.n), "--out", out, "--overwrite"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "scores.csv"), encoding="utf-8") as f:
        rows = {os.path.abspath(row["model"]): row for row in csv.DictReader(f)}
    return {mark: float(rows[os.path.abspath(path)]["swd"]) for mark, (_, path) in marks.items()}


def grids(results, args):
    """grids.png: a column per run, a row per mark, each cell generate.py's 8x8 grid of the same latent points."""
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    fig = Figure(figsize=(4 * len(results), 4 * len(args.minutes)))
    for col, (name, marks, _, _) in enumerate(results):
        for row, mark in enumerate(args.minutes):
            step, path = marks[mark]
            picture = os.path.join(args.out, name, f"grid_{mark:g}min.png")
            subprocess.run([sys.executable, "generate.py", path, "--grid", "8", "--seed", "0", "--out", picture],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            ax = fig.add_subplot(len(args.minutes), len(results), row * len(results) + col + 1)
            ax.imshow(imread(picture))
            ax.set_title(f"{name}, {mark:g} min (step {step})", fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "grids.png"), dpi=80)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    args.out, args.data = os.path.abspath(args.out), os.path.abspath(args.data)
    results = []
    for name, command in args.run:
        marks, flagged = train(name, command, args)
        results.append((name, marks, score(name, marks, args), flagged))
    head = "| run | " + " | ".join(f"{m:g} min" for m in args.minutes) + " | collapse guard |"
    lines = [head, "|" + " --- |" * (len(args.minutes) + 2)]
    for name, marks, swd, flagged in results:
        cells = [f"{swd[m]:.1f} (step {marks[m][0]})" for m in args.minutes]
        cells.append(f"flagged at step {flagged}" if flagged else "not flagged")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    commands = "\n".join(f"- {name}: {command}" for name, command in args.run)
    text = (f"SWD (evaluate.py --metric swd, x 1e3, n={args.n}) against {args.data}, seed {args.seed}; lower is "
            f"better\n\n" + "\n".join(lines) + f"\n\n{commands}\n")
    with open(os.path.join(args.out, "table.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    grids(results, args)
    print(f"wrote {os.path.join(args.out, 'table.md')} and grids.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
