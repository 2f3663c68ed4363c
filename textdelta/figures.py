"""Figures a sentence states, written one way whatever way the text wrote them.

A rewrite keeps the figures of a story but often not their form: "1.2GW" for "1,200
megawatts", "£3.6bn" for "3.6 billion pounds", "850ft" for "260 metres", "6.12am" for
"06:12", "FL160" for "16,000 ft". Read as bare digits these look like other figures, and a
restatement looks like an update or another event. Each figure becomes one string: its value
in a base unit ("#1200000000W", "#3600000000", "#260m", "#06:12").

What is deliberately left out: single bare digits (mostly list numbers and "3-1" scores, and
usually written as words anyway), number words without a scale ("nine days"), and currencies
(a value in pounds and the same value in dollars are rarely both in one story, while "£20m"
and "20 million pounds" are common).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Metric units: factor to the base unit. Imperial ones are converted and rounded to two
# significant figures, as a writer converting them would ("850ft", "some 260 metres").
_METRIC: dict[str, tuple[float, str]] = {}
_IMPERIAL: dict[str, tuple[float, str]] = {}


def _units(table: dict[str, tuple[float, str]], names: str, factor: float, base: str) -> None:
    for name in names.split("|"):
        table[name] = (factor, base)


for _prefix, _factor in (("", 1.0), ("kilo", 1e3), ("mega", 1e6), ("giga", 1e9), ("tera", 1e12)):
    _units(_METRIC, f"{_prefix}watt|{_prefix}watts", _factor, "W")
    _units(_METRIC, f"{_prefix}watt-hour|{_prefix}watt-hours|{_prefix}watt hour|{_prefix}watt hours", _factor, "Wh")
for _symbol, _factor in (("k", 1e3), ("m", 1e6), ("g", 1e9), ("t", 1e12)):
    _units(_METRIC, f"{_symbol}w", _factor, "W")
    _units(_METRIC, f"{_symbol}wh", _factor, "Wh")
_units(_METRIC, "wh", 1.0, "Wh")
_units(_METRIC, "gram|grams", 1e-3, "kg")
_units(_METRIC, "kilogram|kilograms|kilogramme|kilogrammes|kg|kgs", 1.0, "kg")
_units(_METRIC, "tonne|tonnes|metric ton|metric tons", 1e3, "kg")
_units(_METRIC, "m|metre|metres|meter|meters", 1.0, "m")
_units(_METRIC, "kilometre|kilometres|kilometer|kilometers|km|kms", 1e3, "m")
_units(_METRIC, "centimetre|centimetres|centimeter|centimeters|cm", 1e-2, "m")
_units(_METRIC, "millimetre|millimetres|millimeter|millimeters|mm", 1e-3, "m")
_units(_METRIC, "hectare|hectares|ha", 1.0, "ha")
_units(_METRIC, "square kilometres|square kilometers|sq km|km2", 100.0, "ha")
_units(_METRIC, "km/h|kph|kmh|kilometres per hour|kilometers per hour", 1.0, "km/h")
_units(_METRIC, "litre|litres|liter|liters", 1.0, "l")
_units(_METRIC, "percent|per cent|%", 1.0, "%")
_units(_METRIC, "cent|cents|pence", 0.01, "")  # an amount: "86 cents" is "0.86 dollars", "$0.86"
_units(_METRIC, "dollar|dollars|euro|euros|pound|pounds|yen|yuan|francs", 1.0, "")  # "31.20 dollars" is "$31.20"
_units(_IMPERIAL, "foot|feet|ft", 0.3048, "m")
_units(_IMPERIAL, "mile|miles|mi", 1609.344, "m")
_units(_IMPERIAL, "yard|yards|yd", 0.9144, "m")
_units(_IMPERIAL, "inch|inches", 0.0254, "m")
_units(_IMPERIAL, "acre|acres", 0.40468564, "ha")
_units(_IMPERIAL, "square mile|square miles|sq mi", 258.998811, "ha")
_units(_IMPERIAL, "lb|lbs", 0.45359237, "kg")
_units(_IMPERIAL, "mph|miles per hour", 1.609344, "km/h")
_units(_IMPERIAL, "gallon|gallons", 3.785411784, "l")

_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
           "trillion": 1e12, "tn": 1e12, "tr": 1e12}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
                "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
                "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100}
_SCALE_WORDS = {"a": 1, "an": 1, "half a": 0.5, **NUMBER_WORDS}
# Vague amounts: no figure, but an update that turns "hundreds" into "more than a thousand"
# changes one (see counts).
_AMOUNT_WORDS = ("dozens", "scores", "hundreds", "thousands", "millions", "billions")


def _alternation(names: list[str]) -> str:
    # Longest first, so "megawatt-hours" is read before "megawatt" and "km" before "m".
    return "|".join(re.escape(n).replace(r"\ ", r"\s") for n in sorted(names, key=len, reverse=True))


_UNIT = _alternation([*_METRIC, *_IMPERIAL])
_CURRENCY = r"(?:US\$|A\$|C\$|[£$€¥])"
_NUMBER_WORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_FIGURE = re.compile(
    rf"(?P<currency>{_CURRENCY})?\s?"
    rf"(?<![\w.,:])(?P<number>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|\b(?:{_NUMBER_WORD})\b)"
    rf"(?:\s?-?(?P<scale>thousand|million|billion|trillion|mn|bn|tn|tr|k|m|b)(?![a-z]))?"
    rf"(?:\s?-?(?P<unit>{_UNIT})(?![a-z]))?"
    r"(?:\s?(?P<degrees>°\s?[CF]|degrees?\s(?:Celsius|centigrade|Fahrenheit|C|F)\b|(?-i:[CF])\b))?",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"(?<![\w.:,])(?P<hour>[01]?\d|2[0-3])(?:[:.](?P<minute>[0-5]\d))?\s?(?P<half>[ap])\.?m\.?(?![a-z])"
    r"|(?<![\w.:,])(?P<hour24>[01]?\d|2[0-3]):(?P<minute24>[0-5]\d)(?![\d:])",
    re.IGNORECASE,
)
_WORD_SCALE = re.compile(rf"\b(?P<count>{'|'.join(sorted(_SCALE_WORDS, key=len, reverse=True))})\s(?P<scale>thousand|million|billion|trillion)\b",
                         re.IGNORECASE)
_FLIGHT_LEVEL = re.compile(r"\bFL\s?(?P<level>\d{2,3})\b")
# A bare "m" after a number is metres where a size follows ("a 20m-high wave"); otherwise, as
# in "£20m" or "20m people", it is millions.
_LENGTH_CONTEXT = re.compile(
    r"\s?-?(?:high|tall|long|wide|deep|away|above|below|across|from|off|under|in\s(?:height|length|diameter)|"
    r"sprint|race|dash|hurdles|relay|freestyle|backstroke|breaststroke|butterfly|medley)\b",
    re.IGNORECASE,
)


# Quantities also written in imperial units are compared at two significant figures, both
# sides: "85mph" and "137km/h", "850ft" and "260 metres" are the same figure converted.
_MEASURED = {"m", "kg", "ha", "km/h", "l"}


def _format(value: float) -> str:
    if value == int(value) and abs(value) < 1e18:
        return str(int(value))
    return f"{value:.6g}"


def _two_figures(value: float) -> float:
    return float(f"{value:.2g}")


def unit_of(figure: str) -> str:
    """The base unit of a figure as `figures` writes it ("#26000ha" -> "ha"; "" for counts and
    amounts of money)."""
    return figure.lstrip("#0123456789.-e+")


# Two measured figures this close are one figure, converted and rounded by different hands.
CONVERSION_SLACK = 0.04


def same_measure(a: str, b: str) -> bool:
    """Two figures in one unit (not a count, an amount or a share) close enough to be one
    figure converted by hand ("1,900-mile" and "3,000-km" differ at two significant figures)."""
    unit = unit_of(a)
    if not unit or unit == "%" or unit != unit_of(b):
        return False
    x, y = float(a[1:-len(unit)]), float(b[1:-len(unit)])
    return abs(x - y) <= CONVERSION_SLACK * max(abs(x), abs(y))


@lru_cache(maxsize=65536)
def figures(text: str) -> frozenset[str]:
    """The figures of TEXT (already normalised: see normalize.normalize_text), each as
    '#<value><base unit>'; times of day as '#HH:MM'."""
    return frozenset(figure for _, figure in _read(_unbracket(text)))


# An editor's insertion into a quote reads as the words it inserts: "deserve 100 [percent] of
# me" is the "100 percent" another outlet printed. A footnote's number ("3.5[2] per cent") is
# no part of the figure it follows.
_INSERTION = re.compile(r"\[([^\[\]]{0,30})\]")


def _unbracket(text: str) -> str:
    if "[" not in text:
        return text
    return _INSERTION.sub(lambda m: m.group(1) if any(c.isalpha() for c in m.group(1)) else "", text)


def _read(text: str) -> list[tuple[tuple[int, int], str]]:
    """Each figure with where it is written."""
    out: list[tuple[tuple[int, int], str]] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for m in _TIME.finditer(text):
        if m.group("hour24") is not None:
            hour, minute = int(m.group("hour24")), int(m.group("minute24"))
        else:
            if int(m.group("hour")) > 12:
                continue  # "13pm" is no time
            hour, minute = int(m.group("hour")) % 12, int(m.group("minute") or 0)
            hour += 12 if m.group("half").lower() == "p" else 0
        out.append((m.span(), f"#{hour:02d}:{minute:02d}"))
        taken.append(m.span())
    for m in _FLIGHT_LEVEL.finditer(text):
        out.append((m.span(), "#" + _format(_two_figures(int(m.group("level")) * 100 * 0.3048)) + "m"))
        taken.append(m.span())
    for m in _WORD_SCALE.finditer(text):
        out.append((m.span(), "#" + _format(_SCALE_WORDS[m.group("count").lower()] * _SCALES[m.group("scale").lower()])))
        taken.append(m.span())
    for m in _FIGURE.finditer(text):
        if not free(*m.span("number")):
            continue
        figure = _figure(m, text)
        if figure:
            out.append((m.span(), figure))
    return out


def _figure(m: re.Match[str], text: str) -> str | None:
    digits = m.group("number").replace(",", "")
    scale, unit, degrees = (m.group(g) for g in ("scale", "unit", "degrees"))
    if not digits[0].isdigit():
        # "three centimetres" is the figure "3cm"; "three days" and "three of them" are not figures
        if not unit or scale:
            return None
        digits = str(NUMBER_WORDS[" ".join(digits.lower().split())])
    value = float(digits)
    if scale and scale.lower() == "m" and not m.group("currency") and not unit and _LENGTH_CONTEXT.match(text, m.end("scale")):
        scale, unit = None, "m"
    if scale and scale.lower() in ("b", "tr") and not m.group("currency"):
        return _bare(digits)  # "5b" is a grade or a model, not billions, unless it is money
    if scale:
        value *= _SCALES[scale.lower()]
    if degrees:
        if degrees.strip().upper().endswith(("F", "FAHRENHEIT")):
            value = (value - 32) * 5 / 9
        return "#" + _format(_two_figures(value)) + "C"
    if unit:
        key = " ".join(unit.lower().split())
        factor, base = _METRIC.get(key) or _IMPERIAL[key]
        value = round(value * factor, 9)
        return "#" + _format(_two_figures(value) if base in _MEASURED else value) + base
    if scale or m.group("currency"):
        return "#" + _format(value)
    return _bare(digits)


def _bare(digits: str) -> str | None:
    return "#" + digits.rstrip(".") if len(digits) >= 2 else None


_COUNT_WORD = re.compile(rf"\b(?:{_NUMBER_WORD}|{'|'.join(_AMOUNT_WORDS)})\b|(?<![\w.,:])\d(?![\w.,:])", re.IGNORECASE)


@lru_cache(maxsize=65536)
def counts(text: str) -> frozenset[str]:
    """Figures and also the numbers news style spells out or leaves vague ("six people",
    "hundreds of fish", "3 injured"): only for telling an update of a sentence from the same
    sentence, where its other words are the same and a changed number is the news."""
    text = _unbracket(text)
    read = _read(text)
    for (start, end), _ in read:
        text = text[:start] + " " * (end - start) + text[end:]
    found = {" ".join(m.group(0).lower().split()) for m in _COUNT_WORD.finditer(text)}
    return frozenset(figure for _, figure in read) | frozenset("#" + str(NUMBER_WORDS.get(w, w)) for w in found)
