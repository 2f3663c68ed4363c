"""Run mypy over the package as it is installed.

The design card's top-level folders (flows/, storage/, seeds/) are installed as
newsdelta.flows, newsdelta.storage and newsdelta.seeds (a setuptools package-dir mapping). mypy
reads the source tree, not the import system, so it is pointed at a tree of symbolic links laid
out as the installed package: newsdelta/ with flows, storage and seeds inside it.

    python scripts/typecheck.py [extra mypy arguments]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"flows": "flows", "storage": "storage", "seeds": "seeds"}  # newsdelta.<key> is the folder <value>


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="newsdelta-typecheck-") as tmp:
        tree = Path(tmp)
        package = tree / "newsdelta"
        package.mkdir()
        for entry in (ROOT / "newsdelta").iterdir():
            if entry.name != "__pycache__":
                (package / entry.name).symlink_to(entry)
        for name, folder in MAPPED.items():
            (package / name).symlink_to(ROOT / folder)
        (tree / "textdelta").symlink_to(ROOT / "textdelta")
        command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                   "-p", "newsdelta", "-p", "textdelta", *sys.argv[1:]]
        return subprocess.run(command, cwd=tree, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
