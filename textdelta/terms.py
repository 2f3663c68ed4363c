"""Terms that survive paraphrase: stemmed content words weighted by rarity, names, numbers.

A rewrite changes function words, word order and phrasing; it keeps names, figures and most
of the rare content words. Everything that scores similarity works on these terms.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import snowballstemmer

from textdelta.figures import figures
from textdelta.normalize import normalize_text

STOPWORDS = frozenset(
    """
    a about above according across after afterwards again against all almost alone along already
    also although always am among amongst an and another any anyhow anyone anything anyway anywhere
    are around as at back be became because become becomes becoming been before beforehand behind
    being below beside besides between beyond both but by can cannot could did do does doing done
    down due during each either else elsewhere enough even ever every everyone everything everywhere
    except few for former formerly from further had has have having he hence her here hereafter
    hereby herein hers herself him himself his how however i if in indeed into is it its itself
    just last latter least less made make many may me meanwhile might more moreover most mostly much
    must my myself namely neither never nevertheless next no nobody none nor not nothing now nowhere
    of off often on once one only onto or other others otherwise our ours ourselves out over own
    per perhaps please put rather re same say says said see seem seemed seeming seems several she
    should since so some somehow someone something sometime sometimes somewhere still such than that
    the their theirs them themselves then thence there thereafter thereby therefore therein thereupon
    these they this those though through throughout thus to together too toward towards under until
    up upon us very via was we well were what whatever when whence whenever where whereafter whereas
    whereby wherein whereupon wherever whether which while whither who whoever whole whom whose why
    will with within without would yet you your yours yourself yourselves also told added stated
    including like new year years week day time mr mrs ms
    """.split()
)

_STEMMER = snowballstemmer.stemmer("english")
# Words in any script (letters, then letters, digits or apostrophes), or numbers.
_TOKEN = re.compile(r"[^\W\d_][\w'’]*|\d[\d,.]*\d|\d")
# Scripts written without spaces between words: indexed by overlapping character pairs.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ACRONYM_DOTS = re.compile(r"\b((?:[A-Za-z]\.){2,})")
_QUOTED = re.compile(r'"([^"]{12,}?)"')
_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "twelve": "12", "twenty": "20", "fifty": "50", "hundred": "100",
}
NUMBER_WEIGHT = 6.0
NAME_BONUS = 1.3


@dataclass(frozen=True)
class IdfTable:
    """Rarity weights from how common a word is in English (Zipf scale: 7 is "the", 3 is rare).

    A word the table does not know (most names) counts as rarest: names are what a rewrite
    keeps and what tells two stories apart.
    """

    zipf: dict[str, float]
    unknown_zipf: float = 1.5
    ceiling: float = 7.5

    def weight(self, term: str) -> float:
        if term.startswith("#"):
            return NUMBER_WEIGHT
        return max(0.25, self.ceiling - self.zipf.get(term, self.unknown_zipf))


@lru_cache(maxsize=1)
def default_idf() -> IdfTable:
    """Weights from the shipped table built by scripts/build_idf.py (no corpus at run time)."""
    raw = json.loads(resources.files("textdelta.data").joinpath("zipf.json").read_text("utf-8"))
    return IdfTable(zipf=dict(raw["zipf"]))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def tokens(text: str) -> list[tuple[str, bool]]:
    """(term, is_name) for each content token; numbers become '#<digits>'."""
    text = normalize_text(text)
    text = _ACRONYM_DOTS.sub(lambda m: m.group(1).replace(".", ""), text)
    out: list[tuple[str, bool]] = []
    for i, raw in enumerate(_TOKEN.findall(text)):
        for term, name in _word_terms(raw):
            out.append((term, name == _ALWAYS or (name == _INSIDE and i > 0)))
    return out


# Whether a word's term counts as a name: never, always (all capitals), or when capitalised
# anywhere but at the start of the text (where every word is).
_NEVER, _ALWAYS, _INSIDE = "never", "always", "inside"


@lru_cache(maxsize=131072)
def _word_terms(raw: str) -> tuple[tuple[str, str], ...]:
    """The terms of one token, cached per token: a text's words are mostly words met before,
    and reading them again cost more than the rest of tokenising (about half of it)."""
    if raw[0].isdigit():
        return (("#" + raw.replace(",", "").rstrip("."), _NEVER),)
    word = raw.replace("’", "'")
    if _UNSPACED.match(word):
        chars = [c for c in word if _UNSPACED.match(c)]
        return tuple(("".join(chars[k : k + 2]), _NEVER) for k in range(max(1, len(chars) - 1)))
    if word in ("US", "USA"):  # "U.S." after dot removal; lower-cased it would be the stopword "us"
        return (("usa", _ALWAYS),)
    if word.lower().endswith("'s"):
        word = word[:-2]
    lower = word.lower().strip("'")
    if lower in _NUMBER_WORDS:
        return (("#" + _NUMBER_WORDS[lower], _NEVER),)
    if len(lower) < 2 or lower in STOPWORDS:
        return ()
    name = (_ALWAYS if word.isupper() else _INSIDE) if word[0].isupper() else _NEVER
    return ((stem(lower), name),)


_WEEKDAYS_MONTHS = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "june", "july", "august", "september", "october", "november", "december",
}


def facts(text: str) -> set[str]:
    """Figures and days a sentence asserts: a rewrite keeps them, a different event changes them."""
    text = normalize_text(text)
    out = set(figures(text))
    out |= {w for w in re.findall(r"[a-z]+", text.lower()) if w in _WEEKDAYS_MONTHS}
    return out


@lru_cache(maxsize=65536)
def analyse(text: str) -> tuple[tuple[tuple[str, float], ...], frozenset[str], frozenset[str]]:
    """One tokenising pass for what alignment needs of a sentence: its weighted terms, the terms
    written as names, and its facts. Cached by text: a story's sentences are compared again
    every time a new telling arrives."""
    idf = default_idf()
    weights: dict[str, float] = {}
    names = set()
    for term, is_name in tokens(text):
        w = idf.weight(term) * (NAME_BONUS if is_name else 1.0)
        if w > weights.get(term, 0.0):
            weights[term] = w
        if is_name:
            names.add(term)
    return tuple(weights.items()), frozenset(names), frozenset(facts(text))


def quotations(text: str) -> set[str]:
    """Normalised quoted passages: quotes are copied verbatim from outlet to outlet."""
    return {" ".join(q.lower().split()) for q in _QUOTED.findall(normalize_text(text))}


def signature_terms(text: str, limit: int = 40, idf: IdfTable | None = None) -> list[str]:
    """The rarest terms, names and numbers of a text: what a rewrite is most likely to keep.

    Used as the keys of the candidate index, so that finding which stored stories a new
    article may belong to touches only short posting lists.
    """
    idf = idf or default_idf()
    counts: dict[str, float] = {}
    for term, is_name in tokens(text):
        if term.startswith("#") and len(term) < 3:
            continue  # single digits are everywhere
        w = idf.weight(term) * (NAME_BONUS if is_name else 1.0)
        counts[term] = counts.get(term, 0.0) + w
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [term for term, _ in ranked[:limit]]


LEDE_PARAGRAPHS = 3  # a news story puts its event (who, what, where, when) in its first paragraphs
LEDE_TERMS = 20


def article_terms(title: str, text: str, limit: int = 40) -> list[str]:
    """The signature terms an article is indexed under and looks up its story with: the rarest
    terms of its title and first paragraphs (the event), then those of the whole text. The
    lede's terms come first so that what a telling adds, however much, cannot crowd the event
    out of its signature: a republication that carries the original and twenty sections of its
    own still shares the original's lede terms."""
    lede = "\n".join([line for line in text.split("\n") if line.strip()][:LEDE_PARAGRAPHS])
    first = signature_terms(f"{title}\n{lede}", LEDE_TERMS)
    chosen = set(first)
    rest = [t for t in signature_terms(f"{title}\n{text}", limit) if t not in chosen]
    return first + rest[: limit - len(first)]
