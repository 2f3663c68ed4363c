"""Page furniture: what a page carries around its article that is not the article (bylines,
credits and captions, "Read more" links, lists of other headlines, newsletter and cookie
prompts, copyright lines, datelines and reading times, embed markup, labels such as "Share"
and "Advertisement", an outlet's recurring template text, a paragraph repeated on the page).

Extraction keeps some of it, and stored versions keep what extraction gave. Furniture is set
aside only from the content that counts: what a telling is matched on, what a finding quotes
and what a version diff shows. Each rule names a kind, so what was set aside can be shown and
checked by a person.

The rules are deliberately narrow: a line is furniture when its form says so (a short line
opening with "Reporting by", a bare URL, a line of markup), not when it merely mentions a
newsletter or a photograph. Long paragraphs are furniture only for the markers that never occur
in reporting (a copyright notice, raw embed markup). Other short lines without a sentence in
them (captions, list items, subheads set as paragraphs) stay content: the words are often the
article's own. They are not substance for an alert on their own (see `states_something`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import lru_cache

from textdelta.blocks import Block, Document
from textdelta.normalize import folded, text_key

# A paragraph longer than this is prose whatever its opening words: a rule that reads a line's
# opening ("Read more:", "By …") applies only up to here.
SHORT_WORDS = 40
# A dateline ("Updated 4:14 p.m.", "BUSINESS · 4 DAYS AGO", "4 Min Read") is a short line.
DATELINE_WORDS = 12
# A paragraph this short in capitals, not a sentence, is a section label ("CRIME", "WORLD NEWS").
LABEL_WORDS = 3
# Lines without closing punctuation up to this long, two or more in a row: a list of headlines.
HEADLINE_WORDS = 25
# A list of headlines: this many title-like lines in a row. Lists in articles (features,
# steps, findings) are written in sentence case and stay article text.
HEADLINE_RUN = 3
TITLE_CASE_SHARE = 0.75
# Scripts written without spaces have no words to count: characters stand in for them.
CJK_CHARS_PER_WORD = 2
ALPHABETIC_CHARS_PER_WORD = 4

# Sentence ends of Latin, CJK, Devanagari, Arabic and Urdu, Khmer, Myanmar, Ethiopic and Armenian
# text, then any closing quotes and brackets.
_END = re.compile(r"[.!?…。！？．।۔؟។။።։፧](?:[\s\"'”’»)\]」』）】]*)$|[\"”’»」』]$")
# Scripts written without spaces between words: Thai, Lao, Khmer and Myanmar (words of about
# four characters), Chinese and Japanese (about two).
_ALPHABETIC_RANGES = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
_UNSPACED_ALPHABETIC = re.compile(f"[{_ALPHABETIC_RANGES}]")
_UNSPACED_CJK = re.compile(f"[{_CJK_RANGES}]")
_UNSPACED = re.compile(f"[{_ALPHABETIC_RANGES}{_CJK_RANGES}]")
_WORD = re.compile(r"\w+", re.UNICODE)
_LETTER_WORD = re.compile(r"[^\W\d_][\w'’-]*")

_UI_LINES = frozenset(
    folded(s).rstrip(".:!") for s in (
        "advertisement", "advertising", "ad", "sponsored", "sponsored by", "sponsored content", "paid content", "promoted",
        "share", "share this", "share this article", "share this story", "share on facebook", "share on twitter", "tweet",
        "email", "print", "print article", "print this page", "order reprints", "reprints", "comments", "comment", "view comments",
        "show comments", "leave a comment", "thank you", "close", "menu", "by", "last updated", "updated", "skip to content", "skip to main content", "back to top",
        "continue reading", "read full article", "read the full story", "read more", "see more", "load more", "show more",
        "loading", "loading…", "explore further", "more", "related", "related articles", "related stories", "related content",
        "recommended", "recommended for you", "you may also like", "you might also like", "most read", "most popular",
        "trending", "trending now", "up next", "don't miss", "more from", "more stories", "top stories", "latest news",
        "listen", "listen to this article", "watch", "video", "photo", "photos", "gallery", "image", "caption",
        "this article has been sent to", "an error has occurred, please try again later", "story continues below advertisement",
        "article continues below", "scroll to continue", "subscribe", "sign up", "log in", "sign in", "register",
        "accept", "accept cookies", "manage cookies", "cookie settings", "feedback", "report an error", "send us feedback",
        "leave a reply", "leave a comment", "post a comment", "join the conversation", "cancel reply", "share via", "share on",
    )
)

UI_WORDS = 8  # the longest label in _UI_LINES
URL_LINE_WORDS = 5  # a line that is a URL and a few words around it ("Listen: http://…", "More AP NBA: https://…")
NOTICE_WORDS = 8  # a site notice ("Privacy Policy | Terms of Use") is a short line, not a sentence
# Substrings without which a rule cannot match (lower case): a paragraph with none of them skips it.
_EMBED_SIGNS = ("<", "[", "class=", "instgrm", "platform.twitter", "(@")
_COPYRIGHT_SIGNS = ("©", "(c)", "copyright", "reserved", "무단", "無断", "版权", "this copy is", "may not be", "distribution and use")
_PROMPT_SIGNS = ("sign up", " old", "subscribe", "newsletter", "register", "inbox", "click", "tap here", "app", "follow", "twitter",
                 "facebook", "instagram", " x", "youtube", "tiktok", "linkedin", "cookie", "enjoyed", "journalism", "member",
                 "subscriber", "log in", "sign in", "tip", "share", "listen", "watch the", "terms of", "privacy", "moderat",
                 "comment", "letter", "developing", "breaking", "check back", "to come", "they come", "updated as", "follows", "audio", "email address", "required fields", "archived",
                 "your thoughts", "all times", "unlimited", "hear from you", "send us", "email us", "message us", "contact us",
                 "write to us")
# Link lines: a label ("Read more", "Related", "Leggi anche su") followed by a colon, a bar, an
# arrow or nothing, then the headline it links to. "Related measures will…" is a sentence.
_LINK = re.compile(
    r"^\W*(?:(?:related(?: articles?| stories| coverage| content| news)?|read more|read also|also read|read next|see also|see more|"
    r"more on this(?: story)?|more from [^:]{1,40}|watch more|recommended(?: reading| for you)?|further reading|"
    r"don'?t miss|must read|you may also like|you might also like|explore further|up next|trending(?: now)?|latest|"
    r"leggi anche|lire aussi|à lire aussi|lesen sie auch|mehr zum thema|siehe auch|lea también|lee también|leia também|"
    r"veja também|zie ook|czytaj też|читайте также|continue reading(?: on| at)?|filed under|tags?|topics?|categories|listen|also|"
    r"read|more|watch)(?:\s+\w{1,4})?\s*(?:[:|›»>–—…-]|\.\.\.|$)|listen (?:live|now|again|back)\b|via [\w .&'-]{1,40}:$|"
    r"watch(?= [A-Z][\w ]{0,30}$))",
    re.IGNORECASE,
)
_PLATFORMS = r"(?:twitter|facebook|instagram|youtube|tiktok|linkedin|x|threads|bluesky|whatsapp|telegram)\b"
# Prompts call on the reader ("Follow us", "Sign up for our newsletter", "Click here"), or are a
# site's notices; reporting about a platform ("said on X", "changed its privacy policy") is not.
_PROMPT = re.compile(
    r"\b(?:sign up (?:here|now|today|for (?:our|the|free|a free)\b|to (?:our|receive|get)\b)|"
    r"subscribe (?:now|here|today|to (?:our|the [\w' ]{0,30}newsletter))|(?:sign up|subscribe|register)\b[^.]{0,60}newsletter|"
    r"newsletters? (?:here|delivered|straight)|get (?:our|the) [\w' ]{0,30}newsletter|in your inbox|to your inbox|"
    r"moderat\w+ (?:all )?comments|comments (?:are|will be) (?:moderated|reviewed|closed)|letters to the editor|"
    r"click here|tap here|download our app|follow (?:us|@\w+) (?:on|at)\b|follow @|"
    r"(?:follow|find|like|join) (?:us|our [\w ]{1,20}) on (?:twitter|facebook|instagram|x|youtube|tiktok|linkedin)\b|"
    r"we use cookies|cookie (?:policy|settings|preferences)|accept (?:all )?cookies|if you enjoyed this (?:article|story)|"
    r"support (?:our|independent) journalism|become a (?:subscriber|member today|member now)|already a subscriber|"
    r"have a (?:news )?tip\?|send us a tip|share it with a friend|share this (?:article|story)|listen to this article|"
    r"this is an archived (?:article|story)|^\W*this (?:article|story) is more than \w+ (?:years?|months?) old\W*$|your email address will not be published|required fields are marked|"
    r"this is a (?:developing|breaking) story|check back (?:later|soon|for)|updates as they come|"
    r"(?:story|article|page) will be updated|earlier (?:story|version) (?:follows|is below)|story follows below|audio player|"
    # Comment threads, live pages and paywalls speak to the reader too: "Post your thoughts below
    # in the comment section", "(0) comments", "All times are Eastern", "unlimited access".
    r"your (?:thoughts|comments?|views|opinions?) (?:below|in the comments?)\b|in the comments?(?: section)? below\W*$|"
    r"follow along (?:below|here|with us)\b|all times (?:are|in) (?:eastern|pacific|central|mountain|local|(?-i:[A-Z]{2,4}\b))|"
    r"(?:subscri\w*|buy now|join|sign up|members?)\b[^.]{0,60}\bfor unlimited (?:digital )?access\b|"
    r"we(?:'d| would)? (?:want|like|love) to hear from you\b|^\W*(?:send us|email us|message us|contact us|write to us)\b)|"
    r"^\W*(?:post|leave|share|add) your (?:thoughts|comments?|views|opinions?)(?: \w+){0,3} (?:below|here|with us|in the comments?)\b|"
    r"^\W*\d+\)?\s*comments?\W*$|"
    # A line that opens with an imperative to the reader: "Follow Newsbeat on Instagram", "Subscribe
    # to the … channel", "Follow AP's full coverage at https://…".
    r"^\W*(?:follow|subscribe to|like|find|join|watch|listen to) [^.]{0,80}?\bon " + _PLATFORMS + r"(?:(?:[\s,&]|and|or|\(@?\w+\))+"
    + _PLATFORMS + r")*\W*$|"
    r"^\W*subscribe to (?:the|our) [^.]{0,60}?(?:channel|newsletter|podcast)|^\W*follow\b[^.]{0,80}?https?://",
    re.IGNORECASE,
)
# Site notices that are short lines of their own ("Privacy Policy | Terms of Use", "Log in").
_NOTICE = re.compile(r"\b(?:privacy policy|terms of (?:use|service)|log in|sign in|subscribers? only|watch the (?:video|full))\b",
                     re.IGNORECASE)
_CREDIT = re.compile(
    r"^\W*(?:(?:additional |with )?reporting by|writing by|written by|editing by|edited by|compiled by|produced by|research by|"
    r"graphics? by|illustrations? by|(?:photos?|images?|pictures?|photographs?|video|footage|credits?|source|foto|bild|fuente)"
    r"(?: credits?| by)?\s*[:|/]|"
    r".{2,240}?\bcontributed (?:to )?(?:this )?(?:report|reporting|story|article)|"
    r"(?:write to|email|e-mail|contact|reach) [^.]{2,80}?(?:\S+@\S+\.\w+|\s@\w+|https?://|\(?\d{3}\)?[-. ]\d{3}[-.]\d{4})|"
    r"(?:this (?:story|article|report) (?:was|has been) (?:updated|corrected|produced|written|edited|originally published))|"
    r"(?:citation:)|(?-i:[A-Z][\w'’-]+(?: [A-Z][\w'’.-]+){1,3}) (?:reports|reported|writes|wrote) for (?:the )?(?-i:[A-Z])[^.]{1,60}?"
    r"(?:\d{4}|\.)\W*$|[\w .,']{0,40}\(?(?:CNN|AP|AFP|Reuters|Bloomberg|UPI|dpa)\)?\s*[–—-]+$|"
    # A caption that opens on its photographer's credit: "John Raoux/AP Nasa's new Moon rocket …"
    r"(?-i:[A-Z][\w'’-]+(?: [A-Z][\w'’.-]+){1,2}\s?/\s?(?:AP|AFP|Reuters|REUTERS|Getty Images|EPA|Bloomberg|PA|Shutterstock)\b)"
    r"(?!\s*[-–—:]))",  # "Hong Kong/AFP - Stocks fell …" is an agency's dateline on its report
    re.IGNORECASE,
)
_CAPTION_END = re.compile(
    r"(?:\((?:[^()]{0,60}\b(?:photo|image|picture|credit|via|file)\b[^()]{0,60}|AP|AFP|Reuters|Getty(?: Images)?|PA|EPA|AAP|dpa|"
    r"Xinhua|ANI|PTI|Bloomberg|Shutterstock|[^()]{0,60}(?:Associated Press|Getty Images|Reuters|AFP))\)|"
    r"\b(?:AP Photo|REUTERS|AFP|Getty Images|EPA|Bloomberg|PA Images?|Xinhua)\s*/\s*[\w .,'-]{1,60}|"
    r"/\s*(?:AP|AFP|Reuters|Getty(?: Images)?|EPA|Bloomberg|Shutterstock)|\b(?:Getty Images|Shutterstock|iStock|Alamy)|"
    r"\b(?:photo|image|picture|photograph|credit|foto)\s*(?::|by|©)\s*[\w .'&/-]{0,59}[\w'&/-])[^\w.!?]*$",
    re.IGNORECASE,
)
# A caption may run to a long sentence; it still ends on its picture's credit, written in forms
# that reporting does not end on ("… on March 15, 2019. PHOTO: REUTERS", "Photo credit should
# read: …", "(OceanGate Expeditions via AP, File)").
_CREDIT_END = re.compile(
    r"(?:\b(?:PHOTO|Photo|Photograph|Photos):\s*[A-Z][\w'&/-]*(?:[ -]+[A-Z/][\w'&/-]*){0,5}|"
    r"\b(?i:photo credit should read)\b.{1,80}|"
    r"\((?:[^()]{1,60}\bvia (?:AP|AFP|Reuters|Getty Images)\b[^()]{0,20}|AP Photo/[^()]{1,60})\))$"
)
# A name's words: capitalised ones and the particles names carry in lower case.
_NAME_WORD = r"[A-Z][\w.'’-]*|de|van|von|da|del|la|le|al|bin|and|&"
_BYLINE = re.compile(
    r"^\W*(?i:by|von|par|por|di|door|av|af)\s+(?:" + _NAME_WORD + r"|,|\s)+"
    r"(?:[,|–—-]+\s*[\w .'’&-]{0,60})?$|^\W*(?:staff reports?|staff writer|wire reports?|from wire reports|"
    r"(?:associated press|reuters|afp|bloomberg|cnn|bbc)(?: staff)?)\W*$"
)
# A writer's name and the time of publishing, set off by a bar: "Jeremy M. Lazarus | 5/12/2017, 6:04 a.m."
_NAMED_DATELINE = re.compile(r"^\W*[A-Z][\w.'’-]*(?:\s+(?:" + _NAME_WORD + r")){1,4}\s*[|·•]\s*(?P<when>.+)$")
# A long run of a site's prompts and notices: this many of them in one paragraph ("Sign up to get
# the inside scoop … By clicking “Sign Up”, you accept our Terms of Service and Privacy Policy").
PROMPT_RUN = 3
_REPORTED = re.compile(r"\b(?:said|says|told|according to|announced|reported|stated|added|wrote|explained)\b", re.IGNORECASE)  # reporting about sign-ups and policies attributes what it says
PROMPT_RUN_WORDS = 100
# "By Monday, …", "By 2030 …", "By then": when, not who.
_BY_WHEN = re.compile(r"^\W*by\s+(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|jan|feb|march|april|may|june|july|aug|sept|oct|nov|dec|"
                      r"\d|then|now|the (?:end|time|middle|start)|early|late|mid|noon|midnight|nightfall|dawn|evening|morning)",
                      re.IGNORECASE)
# Notices that never occur in reporting, whatever the paragraph's length.
_LICENCE = re.compile(r"this copy is for your personal,? non-commercial use|distribution and use of this material are governed", re.IGNORECASE)
_COPYRIGHT = re.compile(
    r"(?:^\W*(?:©|\(c\)\s*\d|copyright\s*(?:©|\(c\)|\d{4}|by\b))|\ball rights reserved\b|무단전재|無断転載|版权所有|"
    r"may not be (?:published|reproduced|redistributed|rewritten)|" + _LICENCE.pattern + ")",
    re.IGNORECASE,
)
_COPYRIGHT_LINE = re.compile(r"^\W*copyright\s+(?:[\w .,&'-]{1,40}\b\d{4}\b|(?:the )?(?:AP|AFP|Reuters|Associated Press|Agence France-Presse)\b)",
                             re.IGNORECASE)
# Embed markup that reached the text: a line that opens with a tag, or carries an embed's own
# signature. Reporting may quote markup ("posted <script> on the page"), so a tag inside prose
# is not enough.
_EMBED = re.compile(
    r"^\W{0,3}<\s*/?\s*[a-z][\w-]*(?:\s[^>]*)?/?>|"
    r"\bclass=[\"'][\w -]*(?:twitter-tweet|instagram-media|tiktok-embed)|\[/?(?:button|embed|caption|video|tweet|gallery)\b|"
    r"\binstgrm\.Embeds\b|\bplatform\.twitter\.com\b|"
    r"^\W{0,3}!\[[^\]]{0,300}\]\(\S+\)\W*$|"  # an image in Markdown: ![alt text](address)
    # An embedded post's signature left on a line of its own: "— Jane Roe (@jroe) January 26, 2020"
    r"^\s*[—–-]+\s*[^()\n]{1,60}\(@\w{1,30}\)\s*(?:on\s+)?[a-z]{3,9}\.? \d{1,2},? \d{4}\W*$",
    re.IGNORECASE,
)
_URL_ONLY = re.compile(r"^\W*(?:(?:https?://|www\.|pic\.twitter\.com/)\S+\s*)+$|^\W*\S+@\S+\.\w+(?:\s+\S+)?\W*$", re.IGNORECASE)
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+\.\w+|\bpic\.twitter\.com/\S+", re.IGNORECASE)
_MONTH = (r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?")
_DATELINE = re.compile(
    r"(?:\b\d+\s*(?:min(?:ute)?s?|mins?)\.?\s*(?:read|reading|de leitura|de lectura|lesezeit|lecture)\b|"
    r"\b(?:reading time|read time|tempo de leitura|tiempo de lectura|lesezeit|temps de lecture)\b|"
    r"\b\d+\s*(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\s+ago\b|"
    r"^\W*(?:published|posted|updated|last updated|first published|modified|created|date|dated)\b[\s:,]*(?:on|at)?\s*"
    r"(?:\w+[.,]*\s*){0,2}(?:\d|" + _MONTH + r")|"
    r"^\W*(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*)?(?:\d{1,2}\s+" + _MONTH + r"|" + _MONTH + r"\s+\d{1,2})(?:,?\s+\d{4})?"
    r"(?:[\s,|·•-]+\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?)?\W*$|"
    r"^\W*\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?\s*(?:[A-Z]{2,4}\s*)?[\d/.-]{0,10}\b|"
    r"^\W*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\W*\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|^\W*(?:기사입력|入力|更新日|更新|発表)\s*[:：]?\s*[\[(]?\s*\d)",
    re.IGNORECASE,
)


_DATE_TOKENS = re.compile(
    r"\b(?:" + _MONTH + r"|(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?|[ap]\.?m\.?|(?-i:[A-Z]{2,4})|published|posted|"
    r"updated|last|first|modified|on|at|ago|min|mins|minutes?|hours?|days?|read)\b",
    re.IGNORECASE,
)


def word_count(text: str) -> int:
    """Words; characters of scripts written without spaces (Chinese, Japanese, Thai…) count by a
    typical word length, also where spaces set off the numbers and Latin words among them: a
    60-character Japanese sentence is not a short line."""
    if not _UNSPACED.search(text):
        return len(text.split())
    spaced = sum(1 for token in text.split() if not _UNSPACED.search(token))
    estimate = len(_UNSPACED_CJK.findall(text)) // CJK_CHARS_PER_WORD + len(_UNSPACED_ALPHABETIC.findall(text)) // ALPHABETIC_CHARS_PER_WORD
    return max(len(text.split()), spaced + estimate)


def in_capitals(text: str) -> bool:
    """Written in capitals: its letters that have a case (most of its letters) are all upper
    case. Scripts without case (Korean, Chinese, Arabic) are never in capitals."""
    letters = [c for c in text if c.isalpha()]
    cased = [c for c in letters if c.lower() != c.upper()]
    return len(cased) >= max(1, len(letters) // 2) and all(c.isupper() for c in cased)


def is_sentence(text: str) -> bool:
    """The line ends as a sentence ends (closing quotes and brackets aside)."""
    return bool(_END.search(text.strip()))


@lru_cache(maxsize=16384)
def furniture_kind(text: str, kind: str = "paragraph") -> str | None:
    """Which kind of furniture this block is on its own, or None when it may be article text.
    Headings are judged by the same rules, except that capitals make a paragraph a headline
    linking elsewhere but not a heading (subheads are often set in capitals)."""
    stripped = text.strip()
    if not stripped:
        return "ui"
    words = word_count(stripped)
    low = stripped.casefold()
    # Cheap substring tests first: most paragraphs are prose and pass every rule, and the
    # regular expressions below cost more than extraction's own work on a block.
    if words <= UI_WORDS and folded(stripped).rstrip(".:!…").strip() in _UI_LINES:
        return "ui"
    if any(sign in low for sign in _EMBED_SIGNS) and _EMBED.search(stripped):
        return "embed"
    if any(sign in low for sign in _COPYRIGHT_SIGNS) and _COPYRIGHT.search(stripped) \
            and (words <= SHORT_WORDS or _LICENCE.search(stripped)):
        return "copyright"
    if words <= NOTICE_WORDS and not _ends_like_statement(stripped) and _COPYRIGHT_LINE.match(stripped):
        return "copyright"  # "copyright Inexhibit 2019 - ISSN …"
    if words > SHORT_WORDS:
        if words <= PROMPT_RUN_WORDS and any(sign in low for sign in _PROMPT_SIGNS) \
                and len(_PROMPT.findall(stripped)) + len(_NOTICE.findall(stripped)) >= PROMPT_RUN and not _REPORTED.search(stripped):
            return "prompt"
        return None
    if ("http" in low or "www." in low or "@" in low or "pic.twitter" in low) and (_URL_ONLY.match(stripped) or (words <= 15 and _URL.search(stripped)
                                                                                       and word_count(_URL.sub(" ", stripped)) <= URL_LINE_WORDS)):
        return "link"
    link = _LINK.match(stripped) or (_LINK.match(stripped[1:]) if stripped.startswith(("[", "(")) else None)
    if link and not (link.group(0).lstrip("[( ").lower().startswith("latest") and _kicker_on_prose(stripped[link.end():])):
        return "link"
    if _CREDIT.match(stripped):
        return "credit"
    if words <= 20 and _BYLINE.match(stripped) and not _ends_like_statement(stripped) and not _BY_WHEN.match(stripped):
        return "byline"
    if words <= DATELINE_WORDS and ("|" in stripped or "·" in stripped or "•" in stripped) \
            and (named := _NAMED_DATELINE.match(stripped)) and _only_dates(named.group("when")):
        return "byline"
    if any(sign in low for sign in _PROMPT_SIGNS) and _PROMPT.search(stripped):
        return "prompt"
    if words <= NOTICE_WORDS and not is_sentence(stripped) and _NOTICE.search(stripped):
        return "prompt"
    if words <= 16 and ("©" in stripped or _CAPTION_END.search(stripped)):
        return "caption"
    if ("photo" in low or "via" in low) and _CREDIT_END.search(stripped):  # no final full stop: not a sentence
        return "caption"
    if words <= DATELINE_WORDS and (_DATELINE.search(stripped) or _only_dates(stripped)) and not _ends_like_prose(stripped):
        return "dateline"
    if kind != "heading" and words <= LABEL_WORDS and in_capitals(stripped) \
            and not is_sentence(stripped):
        return "ui"  # a section label in capitals ("CRIME", "WORLD NEWS") above the article
    if kind != "heading" and words >= 3 and in_capitals(stripped) \
            and (not is_sentence(stripped) or words <= DATELINE_WORDS):
        return "headlines"  # a headline in capitals between paragraphs links to another story
    return None


# "Latest" before a long sentence is a kicker on the article's own lede ("LATEST NEWS – At least
# 22 people have died after …"), not a link: the headlines a link line names are short and do
# not end as sentences do. ("Read more:" before a sentence still points elsewhere.)
KICKER_SENTENCE_WORDS = 12


def _kicker_on_prose(rest: str) -> bool:
    return is_sentence(rest) and word_count(rest) >= KICKER_SENTENCE_WORDS


def _date_residue(text: str) -> list[str]:
    """The words of a line once its dates, times and dateline labels are taken out."""
    return [w for w in _WORD.findall(_DATE_TOKENS.sub(" ", text)) if not w.isdigit()]


def _ends_like_statement(text: str) -> bool:
    """Ends as a sentence that says something: "By Dana Whitfield." is rare, "By the numbers."
    is a heading; a byline with a verb and a full stop is a sentence."""
    return is_sentence(text) and word_count(text) > 5


def _ends_like_prose(text: str) -> bool:
    """A dateline pattern inside a real sentence ("Published in May, the report found …") is
    reporting: words remain once the dates, times and dateline labels are taken out."""
    return is_sentence(text) and len(_date_residue(text)) >= 4


def _only_dates(text: str) -> bool:
    """Nothing but dates, times and their labels ("Nov 18, 2022, 3:33 PM | Updated: 3:34 pm")."""
    return any(c.isdigit() for c in text) and not _date_residue(text)


def _headline_like(text: str) -> bool:
    """A line written as a headline: no closing punctuation, a few words, and in title case
    (most longer words capitalised) or in capitals."""
    stripped = text.strip()
    if is_sentence(stripped) or not 4 <= word_count(stripped) <= HEADLINE_WORDS:
        return False
    long_words: list[str] = [w for w in _LETTER_WORD.findall(stripped) if len(w) >= 4]
    if not long_words:
        return False
    return sum(1 for w in long_words if w[0].isupper()) / len(long_words) >= TITLE_CASE_SHARE


def mark_furniture(blocks: Sequence[Block], templates: Collection[str] = ()) -> list[str | None]:
    """For each block, the kind of furniture it is, or None for article text. Besides each
    block's own form: a run of two or more headline-like lines (no closing punctuation) is a
    list of headlines, a paragraph seen before on the page is a repeat, and a paragraph whose
    text key is in `templates` is the outlet's template text."""
    marks: list[str | None] = [furniture_kind(b.text, b.kind) for b in blocks]
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        if marks[i] is not None or block.kind == "heading":
            continue
        key = text_key(block.text)
        if key in templates:
            marks[i] = "template"
        elif key in seen:
            marks[i] = "repeat"
        seen.add(key)
    run: list[int] = []
    for i, block in enumerate([*blocks, Block("paragraph", "end.")]):
        if i < len(blocks) and block.kind == "paragraph" and marks[i] in (None, "fragment", "headlines") and _headline_like(block.text):
            run.append(i)
            continue
        if len(run) >= HEADLINE_RUN:
            for j in run:
                marks[j] = "headlines"
        run = []
    return marks


def content_blocks(doc: Document, templates: Collection[str] = ()) -> Document:
    """The document without its furniture: what is matched, quoted and diffed. A heading left
    with nothing under it but furniture goes too."""
    marks = mark_furniture(doc.blocks, templates)
    if not any(marks):
        return doc
    kept: list[Block] = []
    for i, (block, mark) in enumerate(zip(doc.blocks, marks, strict=True)):
        if mark is None and not (block.kind == "heading" and _over_furniture_only(doc.blocks, marks, i)):
            kept.append(block)
    return Document.from_blocks(kept, title=doc.title)


def _over_furniture_only(blocks: Sequence[Block], marks: list[str | None], heading: int) -> bool:
    """The heading had paragraphs on the page, all of them furniture (a "Related" box)."""
    under = []
    for block, mark in zip(blocks[heading + 1:], marks[heading + 1:], strict=True):
        if block.kind == "heading":
            break
        under.append(mark)
    return bool(under) and all(m is not None for m in under)


def template_keys(blocks: Sequence[Block]) -> set[str]:
    """The keys under which a page's paragraphs count toward its outlet's template text: each
    distinct paragraph that its own form does not already mark as furniture."""
    return {text_key(b.text) for b in blocks if b.kind == "paragraph" and furniture_kind(b.text, b.kind) is None}


QUESTION_WORDS = 12
_QUESTION_ONLY = re.compile(r"^(?:\d{1,2}[.)]\s*)?[^.!?\"“”]*\?$")  # one sentence, a question, nobody quoted
# A sentence that states something has at least this many words.
STATEMENT_WORDS = 6
UNMARKED_SENTENCE_CHARS = 30


def states_something(text: str) -> bool:
    """A paragraph with a sentence in it that states something: enough words, ending as a
    sentence ends, and not in capitals. Not a heading, a caption, a label or a fragment."""
    stripped = text.strip()
    if _QUESTION_ONLY.match(stripped) and word_count(stripped) <= QUESTION_WORDS:
        return False  # a question on its own states nothing: an explainer's subhead ("What is the case about?")
    ends = is_sentence(stripped) or len(_UNSPACED.findall(stripped)) >= UNMARKED_SENTENCE_CHARS  # Thai and Lao mark no sentence end
    return (ends and word_count(stripped) >= STATEMENT_WORDS and not in_capitals(stripped)
            and furniture_kind(stripped) is None)
