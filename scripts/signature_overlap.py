"""How many signature terms (the candidate index keys) the two texts of each labelled case
share, by kind of case: what MIN_SHARED_TERMS in newsdelta/stages/match.py is set from.

    python scripts/signature_overlap.py
"""

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsdelta.evaluation import load_cases
from textdelta.terms import article_terms

by = defaultdict(list)
for c in load_cases():
    a = set(article_terms(c.old.title, "\n".join(b.text for b in c.old.blocks)))
    b = set(article_terms(c.new.title, "\n".join(b.text for b in c.new.blocks)))
    by[(c.kind, c.same_story)].append(len(a & b))
for (kind, same), v in sorted(by.items()):
    v.sort()
    print(f"{kind:15} same_story={same!s:5} n={len(v):4}  min {v[0]:2}  p10 {v[len(v) // 10]:2}  median {v[len(v) // 2]:2}  max {v[-1]:2}")
