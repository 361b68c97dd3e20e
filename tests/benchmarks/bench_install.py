"""Building one small project's environment with pip and with uv, cold and warm cache.

    .venv/bin/python tests/benchmarks/bench_install.py [--repeat 1] [--installers pip uv]

Writes a small project that depends on real PyPI packages (``requests``, ``attrs``,
``pytest``, with their own dependencies), and builds its environment the way
``citrace mine`` does, in the sandbox, with the fallback recipe (virtualenv, then
``install -e .[test]``): once with empty download caches (cold), then again with the caches
the first build filled (warm), for each installer. Prints the seconds side by side, with the
ratio pip / uv. The caches are private to the benchmark (``CITRACE_BUILD_CACHE_DIR``), and pip
reads no configuration file, so both installers fetch from PyPI alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from recipes.ci.fallback import fallback_recipe  # noqa: E402
from recipes.planner import build  # noqa: E402
from recipes.runners import installers  # noqa: E402 - after the path is set
from recipes.runners.installers import BuildOptions  # noqa: E402

PROJECT = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "benchdemo"
version = "1.0"
dependencies = ["requests", "attrs"]

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools]
packages = ["benchdemo"]
""",
    "benchdemo/__init__.py": "def double(x):\n    return 2 * x\n",
    "tests/test_benchdemo.py": "import benchdemo\n\n\ndef test_double():\n"
                               "    assert benchdemo.double(2) == 4\n",
}


def main() -> int:
    args = _arguments()
    os.environ["PIP_CONFIG_FILE"] = os.devnull  # the machine's pip.conf adds mirrors
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL"):
        os.environ.pop(name, None)
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="citrace-bench-install-") as scratch:
        root = Path(scratch)
        project = _write_project(root / "project")
        for installer in args.installers:
            results[installer] = {"cold": [], "warm": []}
            for round_ in range(args.repeat):
                caches = root / f"cache-{installer}-{round_}"
                os.environ["CITRACE_BUILD_CACHE_DIR"] = str(caches)
                for temperature in ("cold", "warm"):
                    work = root / f"work-{installer}-{round_}-{temperature}"
                    seconds = _build(project, work, installer)
                    results[installer][temperature].append(seconds)
                    print(f"  {installer} {temperature} round {round_ + 1}: {seconds:.1f} s",
                          flush=True)
    _report(results, args.repeat)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds per installer")
    parser.add_argument("--installers", nargs="+", choices=installers.INSTALLERS,
                        default=list(installers.INSTALLERS))
    return parser.parse_args()


def _write_project(root: Path) -> Path:
    for name, text in PROJECT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _build(project: Path, work: Path, installer: str) -> float:
    recipe = fallback_recipe(project)
    assert recipe is not None, "no interpreter accepts the benchmark project"
    started = time.monotonic()
    env = build(recipe, project, work_dir=work, log_path=work.parent / f"{work.name}.log",
                timeout=1200, options=BuildOptions(installer=installer))
    elapsed = time.monotonic() - started
    if env.recipe.installer != installer:  # a fallback would make the row meaningless
        raise SystemExit(f"{installer} fell back: {env.recipe.installer_fallbacks}")
    return elapsed


def _report(results: dict[str, dict[str, list[float]]], repeat: int) -> None:
    print(f"\nenvironment of one project (requests, attrs, pytest), median of {repeat}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'cache':>5}  " + "  ".join(f"{name + ' s':>7}" for name in results)
          + ("  pip/uv" if {"pip", "uv"} <= set(results) else ""))
    for temperature in ("cold", "warm"):
        medians = {name: statistics.median(r[temperature]) for name, r in results.items()}
        row = f"{temperature:>5}  " + "  ".join(f"{m:>7.1f}" for m in medians.values())
        if {"pip", "uv"} <= set(medians):
            row += f"  {medians['pip'] / medians['uv']:>6.1f}x"
        print(row)


if __name__ == "__main__":
    sys.exit(main())
