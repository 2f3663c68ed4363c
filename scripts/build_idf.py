"""Build textdelta/data/zipf.json: how common each stemmed English word is (Zipf scale, from
the wordfreq package's English list), so that rarity weights need no corpus at run time.

Run with wordfreq installed (a build-time tool only, not a dependency):
    pip install wordfreq && python scripts/build_idf.py [--words 80000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from textdelta.terms import stem

OUT = Path(__file__).resolve().parents[1] / "textdelta/data/zipf.json"


def main() -> None:
    from wordfreq import top_n_list, zipf_frequency  # build-time only

    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=80000)
    args = parser.parse_args()
    table: dict[str, float] = {}
    for word in top_n_list("en", args.words):
        if not word.isalpha():
            continue
        key = stem(word)
        table[key] = max(table.get(key, 0.0), zipf_frequency(word, "en"))
    OUT.write_text(json.dumps({"source": f"wordfreq {args.words} most frequent English words", "zipf": dict(sorted(table.items()))}, separators=(",", ":")), "utf-8")
    print(f"{len(table)} stems -> {OUT}")


if __name__ == "__main__":
    main()
