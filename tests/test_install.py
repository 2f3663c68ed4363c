"""The package as a user installs it: a regular (not editable) wheel in a fresh virtual
environment installs only names we own, and the demo and the evaluation run from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    [built] = out.glob("newsdelta-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtual environment holding the wheel; its dependencies are borrowed from the test
    environment through a .pth line (installing them again would only re-download Prefect).
    Path lines in a .pth file do not run that directory's own .pth files, so the editable
    install of the test environment stays out of it."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "_borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    yield venv


def test_the_wheel_installs_no_generic_top_level_name(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist() if not name.split("/", 1)[0].endswith(".dist-info")}
        names = archive.namelist()
    assert tops == {"newsdelta", "textdelta"}
    for packaged in ("newsdelta/flows/ingest.py", "newsdelta/storage/repo.py", "newsdelta/storage/migrations/env.py",
                     "newsdelta/seeds/site/harbor-times/feed.xml", "newsdelta/evaluation/data/generated.jsonl",
                     "newsdelta/alerts/templates/slack.json.j2", "textdelta/data/zipf.json",
                     "textdelta/data/minilm-l6-v2-int8.onnx", "textdelta/data/tokenizer.json", "textdelta/data/MODEL-LICENSE.md",
                     "textdelta/data/LICENSE-Apache-2.0.txt"):
        assert packaged in names
    assert any(n.startswith("newsdelta/seeds/texts/000_") for n in names), "the seed texts ship with the package"


def test_evaluate_and_demo_run_from_the_installed_wheel(fresh: Path, prefect_server: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDELTA_", "PYTHON"))}
    env.update(PREFECT_API_URL=prefect_server, NEWSDELTA_HOME=str(tmp_path / "home"))
    run = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 600}
    where = subprocess.run([str(fresh / "bin" / "python"), "-c", "import importlib.util as u, newsdelta, textdelta; "
                            "print(newsdelta.__file__); print(textdelta.__file__); "
                            "print([n for n in ('flows', 'storage', 'seeds') if u.find_spec(n)])"], check=True, **run)
    package, text, generic = where.stdout.splitlines()
    assert package.startswith(str(fresh)) and text.startswith(str(fresh)), "the wheel's copy is the one imported"
    assert generic == "[]"

    helped = subprocess.run([str(fresh / "bin" / "newsdelta"), "evaluate", "--help"], **run)
    assert helped.returncode == 0 and "--fit" in helped.stdout
    evaluated = subprocess.run([str(fresh / "bin" / "newsdelta"), "evaluate", "--json"], **run)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["seeds"]["same_story_accuracy"] == 1.0 and report["seeds"]["new_paragraph_f1"] == 1.0
    assert report["test"]["cases"] > 200, "the labelled data came with the package"
    grouping = report["grouping"]  # the multi-event set, run through the installed ingest over local HTTP
    assert grouping["articles"] == 48 and grouping["pairwise_precision"] >= 0.95 and grouping["ari"] >= 0.9

    demo = subprocess.run([str(fresh / "bin" / "newsdelta"), "demo", "--data-dir", str(tmp_path / "demo")], **run)
    assert demo.returncode == 0, demo.stderr
    assert "Signal Chat Controversy Overshadows Trip" in demo.stdout and demo.stdout.count("=== ALERT") == 1
