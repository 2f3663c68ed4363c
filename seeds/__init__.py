"""The offline demo's outlets: the two founding articles (`texts/`, the user's seed documents:
an original report and a rewrite at another outlet that adds a section on the Signal chat
controversy) published as an HTML page and an RSS feed per outlet (`site/`, built from the
texts by `build.py`), served on 127.0.0.1 by `server.py`."""

from importlib import resources


def seed_text(prefix: str) -> str:
    """The text of the seed document whose file name starts with `prefix` ("000_" or "002_")."""
    for entry in (resources.files(__name__) / "texts").iterdir():
        if entry.name.startswith(prefix) and entry.name.endswith(".txt"):
            return entry.read_text("utf-8")
    raise FileNotFoundError(f"no seed text {prefix}*.txt")
