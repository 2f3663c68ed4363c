"""What the sentence model costs, printed, run by hand (a benchmark, not a test).

    python benchmarks/semantic.py [--pairs 20] [--json]

Pairs of real articles of about 1,000 words from ../shared (the hand-checked bodies of the
scrapinghub set), each compared with a copy of itself whose sentences are all sent to the
model (`Thresholds.settled` above 1: the worst case, a heavy paraphrase that no sentence's words
settle). Reported: the model's load time and resident memory; `compare` of two ~1,000-word
articles with nothing cached (median, p95), and again with both sides' sentences cached; the
model's milliseconds per sentence and per 1,000 words. One thread, as in the pipeline.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT.parent / "shared/data/articles/scrapinghub/ground-truth.json"


def long_articles(count: int) -> list[list[str]]:
    raw = json.loads(TRUTH.read_text("utf-8"))
    out = []
    for item in sorted(raw.values(), key=lambda i: i["url"]):
        paragraphs = [p.strip() for p in item["articleBody"].split("\n") if len(p.strip()) > 40]
        words = sum(len(p.split()) for p in paragraphs)
        if 800 <= words <= 1300:
            out.append(paragraphs)
    return out[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from textdelta import Block, Document, Thresholds, clear_caches, compare
    from textdelta.semantic import MiniLMEmbedder

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    model = MiniLMEmbedder()
    load_s = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    articles = long_articles(args.pairs)
    every_sentence = replace(Thresholds(), settled=1.01)
    cold, warm, words, sentences, model_s = [], [], [], [], 0.0
    for paragraphs in articles:
        old = Document.from_blocks([Block("paragraph", p) for p in paragraphs])
        new = Document.from_blocks([Block("paragraph", p + " ") for p in paragraphs])
        fresh = MiniLMEmbedder()  # nothing cached
        clear_caches()
        t = time.perf_counter()
        compare(old, new, every_sentence, fresh)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        compare(old, new, every_sentence, fresh)
        warm.append(time.perf_counter() - t)
        words.append(sum(len(p.split()) for p in paragraphs))
        sentences.append(fresh.encoded)
        t = time.perf_counter()
        model.embed([f"{p} ({len(sentences)})" for p in paragraphs])  # model time alone, uncached texts
        model_s += time.perf_counter() - t
    result = {
        "pairs": len(articles), "words_per_article_median": statistics.median(words),
        "load_s": round(load_s, 2), "rss_model_mb": round(rss_after - rss_before, 1),
        "compare_cold_ms": {"p50": round(1000 * statistics.median(cold), 1), "p95": round(1000 * sorted(cold)[int(0.95 * (len(cold) - 1))], 1)},
        "compare_warm_ms": {"p50": round(1000 * statistics.median(warm), 1), "p95": round(1000 * sorted(warm)[int(0.95 * (len(warm) - 1))], 1)},
        "sentences_embedded_per_pair_median": statistics.median(sentences),
        "model_ms_per_1000_words": round(1000 * model_s / (sum(words) / 1000), 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"sentence model: load {result['load_s']} s, +{result['rss_model_mb']} MB resident")
    print(f"compare of two ~{result['words_per_article_median']}-word articles, every sentence asked of the model "
          f"({result['sentences_embedded_per_pair_median']} sentences embedded per pair):")
    print(f"  nothing cached: p50 {result['compare_cold_ms']['p50']} ms, p95 {result['compare_cold_ms']['p95']} ms (target <= 1000 ms)")
    print(f"  both sides cached: p50 {result['compare_warm_ms']['p50']} ms, p95 {result['compare_warm_ms']['p95']} ms (target <= 20 ms)")
    print(f"  the model alone: {result['model_ms_per_1000_words']} ms per 1,000 words")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
