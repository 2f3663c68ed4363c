"""What setting page furniture aside costs beside extraction: extract_article alone, then
extract_article plus textdelta.furniture's marks (the rules, with the per-page repeat check),
over the 181 hand-checked pages of ../shared, per page. A benchmark, not a test: it prints.

    python benchmarks/furniture.py [--rounds 3] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from pathlib import Path

from newsdelta.errors import ExtractionError
from newsdelta.stages.extract import extract_article
from textdelta import Document
from textdelta.furniture import furniture_kind, mark_furniture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    args = parser.parse_args()
    pages_dir = args.shared / "data" / "articles" / "scrapinghub"
    truth = json.loads((pages_dir / "ground-truth.json").read_text("utf-8"))
    pages = [(item["url"], gzip.decompress((pages_dir / "html" / f"{key}.html.gz").read_bytes())) for key, item in sorted(truth.items())]
    extract_s, filter_s = [], []
    for _ in range(args.rounds):
        furniture_kind.cache_clear()  # each round pays for the rules as a new page would
        t_extract = t_filter = 0.0
        for url, html in pages:
            start = time.process_time()
            try:
                extracted = extract_article(html, url)
            except ExtractionError:
                continue
            middle = time.process_time()
            mark_furniture(Document.from_dicts(extracted.blocks).blocks)
            t_extract += middle - start
            t_filter += time.process_time() - middle
        extract_s.append(t_extract)
        filter_s.append(t_filter)
    extract, filtering = statistics.median(extract_s), statistics.median(filter_s)
    print(f"{len(pages)} pages, {args.rounds} rounds (median, CPU time)")
    print(f"extraction          {1000 * extract / len(pages):7.2f} ms/page")
    print(f"furniture marks     {1000 * filtering / len(pages):7.2f} ms/page")
    print(f"extraction + marks  {1000 * (extract + filtering) / len(pages):7.2f} ms/page  ({100 * filtering / extract:.1f}% more than extraction)")


if __name__ == "__main__":
    main()
