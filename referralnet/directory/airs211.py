"""Reader for the AIRS-style 211 CSV export (one row per agency, site or program).

A 211 export is one flat CSV. `TaxonomyLevelName` says what a row is and
`ParentAgencyNum` points from a site or program to its agency:

- `Agency` -> an HSDS organization, id `record_id(ResourceAgencyNum)`;
- `Program` / `ProgramAtSite` -> a service of the parent agency's organization,
  id `record_id(ResourceAgencyNum)`. A program with its own address (or
  coordinates) gets its own location; one without is offered at the agency's
  active sites, or at the agency's own address when it has none;
- `Site` -> a location of the parent agency's organization;
- an agency without programs (most agencies in an I&R-style export) gets one
  service describing what the agency itself offers, id
  `record_id(ResourceAgencyNum + ":service")`, offered at each of its active
  sites, or at the agency's own address when it has no active site.

Every other id is a uuid5 of the record number plus a suffix in the same
namespace, so re-importing the same file updates the same records.

Rules: `ExcludeFromDirectory=Yes` rows and everything under an excluded agency
are never imported (counted as excluded). `AgencyStatus` Inactive makes the
service inactive (a program of an inactive agency too; an inactive site is kept
as a location but no service is offered there); "Active, but do not refer" keeps
the service listed (active) but switches off `accepting_referrals`, our
"accepting referrals" flag, which search shows and which refuses new referrals.
`PhysicalAddressIsPrivate=Yes` marks the location confidential and its address
and coordinates are not imported at all.

AIRS codes (`TaxonomyCodes`, "BD-1800.2000 * YB-8000; ...") are kept as terms of
the "AIRS/211 LA County Taxonomy", linked to the service by attributes
(link_type `taxonomy` for service codes, `target_population` for the codes after
`*`), and mapped onto the SDOH domains through the `airs` rows of
seed_data/sdoh_crosswalk.csv (longest code prefix wins; target-population codes
count only when they name a need, e.g. YV-3000 Homeless People). Rows without
codes get domains from the crosswalk's keywords found in their name and description (as the
Ohana importer does with its names and keywords; 211 rows have no keyword column), matched at
the start of words so that 'rent' is not found in 'parent'.
"""
from __future__ import annotations

import csv
import html
import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from referralnet.directory import sdoh
from referralnet.directory.importer import ImportFailed, Row, TextFiles
from referralnet.directory.models import TaxonomyTerm
from referralnet.extensions import db

NAMESPACE = uuid.UUID("5d0c7f3e-2b1a-4c6e-8f29-211a1b5c0de5")
# A header with these columns is an AIRS/211 export, whatever the file is called.
SIGNATURE = {"ResourceAgencyNum", "TaxonomyLevelName", "ParentAgencyNum", "AgencyStatus"}
LEVELS = ("Agency", "Site", "Program", "ProgramAtSite")
STATUSES = {"active": "active", "inactive": "inactive", "active, but do not refer": "do-not-refer", "": "active"}
YES_NO = {"yes": True, "no": False, "": False}
TAXONOMY_NAME = "AIRS/211 LA County Taxonomy"
TAXONOMY_ID = str(uuid.uuid5(NAMESPACE, "taxonomy:airs"))
# Exports cut TaxonomyTerms/TaxonomyCodes at this many characters: the last item may be partial.
TRUNCATED_AT = 255
CODE_RE = re.compile(r"^[A-Z]{1,2}(-\d{4}(\.\d{4}(-\d{3}(\.\d{2})?)?)?)?$")
SECTIONS = {"B": "Basic Needs", "D": "Consumer Services", "F": "Criminal Justice and Legal Services",
            "H": "Education", "J": "Environment and Public Health/Safety", "L": "Health Care",
            "N": "Income Support and Employment", "P": "Individual and Family Life",
            "R": "Mental Health and Substance Abuse Services", "T": "Organizational/Community/International Services",
            "Y": "Target Populations"}
# Standard UTC offsets, for schedules of places whose ZIP code search cannot place (e.g. confidential ones).
_OFFSETS = {-5: "CT DC DE FL GA IN KY MA MD ME MI NC NH NJ NY OH PA RI SC VA VT WV", -6: "AL AR IA IL KS LA MN MO MS "
            "ND NE OK SD TN TX WI", -7: "AZ CO ID MT NM UT WY", -8: "CA NV OR WA", -9: "AK", -10: "HI", -4: "PR VI"}
STATE_OFFSETS = {state: offset for offset, states in _OFFSETS.items() for state in states.split()}


def record_id(num: str) -> str:
    """The HSDS id of a 211 record: uuid5 of its ResourceAgencyNum (plus a suffix such as ':service')."""
    return str(uuid.uuid5(NAMESPACE, num.strip()))


# --- detection --------------------------------------------------------------------------------

def is_airs_csv(path: Path, files: TextFiles | None = None) -> bool:
    """Whether a CSV file's header is that of a 211 export. Raises UnreadableFile when the file's
    encoding cannot be detected (so the operator hears about the encoding, not about the layout)."""
    return SIGNATURE <= set((files or TextFiles()).header(path))


def airs_files(path: Path, files: TextFiles | None = None) -> list[Path]:
    """The 211 export files at `path` (the file itself, or the matching CSVs of a folder)."""
    files = files or TextFiles()
    if path.is_file():
        return [path] if is_airs_csv(path, files) else []
    return [p for p in sorted(path.glob("*.csv")) if is_airs_csv(p, files)]


# --- small value parsers ----------------------------------------------------------------------

_BLOCK_TAGS = re.compile(r"<\s*(br|/p|p|/div|div|/tr|/li|li|/h\d)\b[^>]*>", re.I)


def plain_text(text: str | None) -> str | None:
    """HTML fragments ('<p>', '<br />', '&amp;') -> plain text with paragraphs kept as line breaks."""
    if not text or not text.strip():
        return None
    text = _BLOCK_TAGS.sub("\n", text)
    text = re.sub(r"<[^>]*>", " ", text)
    text = html.unescape(text).replace("\xa0", " ")
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() or None


def normalize_url(text: str | None) -> str | None:
    """'www.x.org' -> 'http://www.x.org'; the first of several; None for anything that is not a web address."""
    text = re.sub(r"^(https?://)\s+", r"\1", (text or "").strip(), flags=re.I)
    if not text:
        return None
    first = text.split()[0].rstrip(".,;")
    if re.match(r"^https?://[^\s/]+\.[^\s/]+", first, re.I):
        return first
    if "@" not in first and re.match(r"^[\w-]+(\.[\w-]+)+(/\S*)?$", first):
        return "http://" + first
    return None


_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[A-Za-z]{2,}$")


def normalize_email(text: str | None) -> str | None:
    """The first email address in the field; None when there is none."""
    for part in re.split(r"[;,\s]+", (text or "").strip()):
        if _EMAIL.match(part):
            return part
    return None


_EXTENSION = re.compile(r"^(.*?)[\s,]*(?:ext\.?|extension|xt\.?|x)\s*(\d{1,6})\s*$", re.I)


def parse_phone(text: str | None) -> tuple[str, int | None] | None:
    """'(202) 555-0101 ext. 12' -> ('(202) 555-0101', 12); None when it is no phone number.
    N11 numbers (211, 311, 611, 711) are kept."""
    text = re.sub(r"\s+", " ", (text or "").strip())
    if not text:
        return None
    extension = None
    match = _EXTENSION.match(text)
    if match:
        text, extension = match.group(1).strip(), int(match.group(2))
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 7 or (len(digits) >= 6 and len(re.sub(r"[^0-9A-Za-z]", "", text)) >= 10):
        return text, extension  # vanity numbers ("(800) 200-TAXI") included
    if len(digits) == 3 and digits[1:] == "11":
        return digits, extension  # 211, 311, 611, 711 (relay), 911 -- also written "(   ) 711-"
    return None


def normalize_postal_code(text: str | None) -> str | None:
    raw = (text or "").strip()
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 9 and re.fullmatch(r"\d{5}-*\d{4}|\d{9}", raw):
        return f"{digits[:5]}-{digits[5:]}"
    return raw or None


# Language names as 211 records spell them -> (name we store, ISO 639 code). Chinese varieties keep
# code zh so that the search language filter ("Chinese") finds them.
LANGUAGES: dict[str, tuple[str, str | None]] = {
    "english": ("English", "en"), "american english": ("English", "en"), "spanish": ("Spanish", "es"),
    "chinese": ("Chinese", "zh"), "cantonese": ("Chinese (Cantonese)", "zh"),
    "mandarin": ("Chinese (Mandarin)", "zh"), "manderine": ("Chinese (Mandarin)", "zh"),
    "toisan": ("Chinese (Toisanese)", "zh"), "toisanese": ("Chinese (Toisanese)", "zh"),
    "taishanese": ("Chinese (Toisanese)", "zh"), "fujinese": ("Chinese (Fuzhounese)", "zh"),
    "tagalog": ("Tagalog", "tl"), "filipino": ("Tagalog", "tl"), "vietnamese": ("Vietnamese", "vi"),
    "russian": ("Russian", "ru"), "korean": ("Korean", "ko"), "japanese": ("Japanese", "ja"),
    "french": ("French", "fr"), "german": ("German", "de"), "arabic": ("Arabic", "ar"), "farsi": ("Farsi", "fa"),
    "persian": ("Farsi", "fa"), "hindi": ("Hindi", "hi"), "hindu": ("Hindi", "hi"), "portuguese": ("Portuguese", "pt"),
    "samoan": ("Samoan", "sm"), "tongan": ("Tongan", "to"), "urdu": ("Urdu", "ur"), "punjabi": ("Punjabi", "pa"),
    "amharic": ("Amharic", "am"), "amharie": ("Amharic", "am"), "oromo": ("Oromo", "om"),
    "tigrigna": ("Tigrinya", "ti"), "tigrinya": ("Tigrinya", "ti"), "tegrinyan": ("Tigrinya", "ti"),
    "tigrinyan": ("Tigrinya", "ti"), "somali": ("Somali", "so"), "swahili": ("Swahili", "sw"),
    "kiswahili": ("Swahili", "sw"), "polish": ("Polish", "pl"), "italian": ("Italian", "it"),
    "itallian": ("Italian", "it"), "hebrew": ("Hebrew", "he"), "dutch": ("Dutch", "nl"), "swedish": ("Swedish", "sv"),
    "norwegian": ("Norwegian", "no"), "tamil": ("Tamil", "ta"), "thai": ("Thai", "th"), "turkish": ("Turkish", "tr"),
    "ukrainian": ("Ukrainian", "uk"), "hungarian": ("Hungarian", "hu"), "bengali": ("Bengali", "bn"),
    "gujrati": ("Gujarati", "gu"), "gujarati": ("Gujarati", "gu"), "lao": ("Lao", "lo"), "khmer": ("Khmer", "km"),
    "cambodian": ("Khmer", "km"), "hmong": ("Hmong", "hmn"), "bosnian": ("Bosnian", "bs"),
    "serbo-croatian": ("Serbo-Croatian", "sh"), "albanian": ("Albanian", "sq"), "yoruba": ("Yoruba", "yo"),
    "ibo": ("Igbo", "ig"), "igbo": ("Igbo", "ig"), "efik": ("Efik", "efi"), "mende": ("Mende", "men"),
    "temne": ("Temne", "tem"), "creole": ("Creole", None), "taiwanese": ("Taiwanese", "nan"),
    "american sign language": ("American Sign Language", "ase"), "asl": ("American Sign Language", "ase"),
    "sign language": ("Sign language", "sgn"), "american sign": ("American Sign Language", "ase"),
}
_LANGUAGE_RE = re.compile(r"(?<![a-z])(" + "|".join(sorted((re.escape(k) for k in LANGUAGES), key=len, reverse=True))
                          + r")(?![a-z])", re.I)
_NOT_OFFERED = re.compile(r"^\s*(none|n/a|not available)\s*\.?\s*$", re.I)


def parse_languages(text: str | None) -> list[tuple[str, str | None]]:
    """'English, Spanish', 'Chinese (Cantonese, Mandarin)Spanish', 'English only' -> [(name, code), ...].

    Known language names are picked out of the text; remarks ('(limited)', 'interpreters
    available') are left for the caller to keep as text. 'None' gives no language.
    """
    text = (text or "").strip()
    if not text or _NOT_OFFERED.match(text):
        return []
    text = re.sub(r"(?<=[a-z)])(?=[A-Z])", ", ", text)  # "SpanishChinese (Cantonese)" run together
    found: list[tuple[str, str | None]] = []
    for match in _LANGUAGE_RE.finditer(text):
        entry = LANGUAGES[match.group(1).lower()]
        if entry == LANGUAGES["chinese"] and re.match(r"\s*\(\s*(cantonese|mandarin)", text[match.end():], re.I):
            continue  # "Chinese (Cantonese, Mandarin)": the varieties follow
        if entry not in found:
            found.append(entry)
    return found


# --- opening hours ----------------------------------------------------------------------------

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "wed": 2, "thursday": 3,
         "thurs": 3, "thur": 3, "thu": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6}
_HOURS_TOKEN = re.compile(r"""
    (?P<h24>(?:open\s+)?24[\s-]*hours?(?:\s*,?\s*(?:daily|a\s+day|7\s+days\s+a\s+week))?)(?![a-z])
  | (?P<day>monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues|thurs|thur|mon|tue|wed|thu|fri|sat|sun)s?
    (?![a-z])
  | (?P<daily>daily|every\s+day|7\s+days\s+a\s+week)(?![a-z])
  | (?P<closed>closed)(?![a-z])
  | (?P<time>(?P<hour>\d{1,2})(?:\s*:\s*(?P<minute>\d{2}))?\s*(?P<suffix>a\.?\s?m\.?|p\.?\s?m\.?|noon|midnight)?
      | (?P<word>noon|midnight))
  | (?P<range>-+|–|—|to(?![a-z])|through(?![a-z])|thru(?![a-z]))
  | (?P<sep>[\s,;:.&()]+|and(?![a-z]))
""", re.I | re.X)


@dataclass(frozen=True)
class OpeningHours:
    """Open from `opens_at` to `closes_at` (HH:MM, local) on each of `days` (MO..SU)."""
    days: tuple[str, ...]
    opens_at: str
    closes_at: str


def _clock(hour: int, minute: int, suffix: str | None) -> int | None:
    if minute > 59:
        return None
    if suffix == "noon":
        return 12 * 60 + minute if hour in (12, None) else None
    if suffix == "midnight":
        return 24 * 60
    if suffix in ("a", "p"):
        if not 1 <= hour <= 12:
            return None
        return (hour % 12 + (12 if suffix == "p" else 0)) * 60 + minute
    return hour * 60 + minute if hour <= 24 else None


def _span(start: tuple, end: tuple) -> tuple[int, int] | None:
    """Minutes after midnight for one 'start-end' pair of (hour, minute, suffix) times.

    Bare hours read as a working day: a bare start of 6-11 is morning, 12 noon, 1-5 afternoon;
    a bare end is the first of h:mm / h+12:mm after the start ('9-5', '8-4:30', '1-9'). A bare
    start before an end with am/pm shares it if that keeps the order ('1:30-4:30 pm', '9-12 pm')."""
    (sh, sm, ss), (eh, em, es) = start, end
    end_m = None
    if es:
        end_m = _clock(eh, em, es)
        if end_m is None:
            return None
        if end_m == 0:
            end_m = 24 * 60  # "9am-12am": until midnight
    if ss:
        start_m = _clock(sh, sm, ss)
    elif es in ("a", "p"):
        same = _clock(sh, sm, es)
        start_m = same if same is not None and same < end_m else _clock(sh, sm, "a" if es == "p" else "p")
    elif es:
        start_m = _clock(sh, sm, "a")  # "9 - noon"
    else:
        start_m = _clock(sh + 12 if 1 <= sh <= 5 else sh, sm, None)
    if start_m is None:
        return None
    if end_m is None:
        if eh > 24 or em > 59:
            return None
        later = [c for c in [eh * 60 + em] + ([(eh + 12) * 60 + em] if eh < 12 else []) if c > start_m]
        if not later:
            return None
        end_m = min(later)
    return start_m, end_m


def _fmt(minutes: int) -> str:
    if minutes >= 24 * 60:
        return "23:59"  # HSDS has no 24:00; 23:59 is read as "until midnight"
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_hours(text: str | None) -> list[OpeningHours] | None:
    """Free-text 211 hours -> weekly opening hours; None unless every word of the text is understood.

    Understands day lists and ranges before or after the times ('Monday-Friday, 9-5',
    '9:00 am - 5:00 pm, Monday - Friday', 'Mon - Fri 3:30pm - 9:00pm; Sat 10:00am - 4:00pm
    (Closed Sun)'), several spans a day ('9-12, 1-5'), 'Daily', 'closed', '24 hours daily' /
    'Open 24 hours', and one label after hours that apply to the same days ('Open 24 hours
    (Residential Facility)'). Anything else (dates, notes, 'by appointment', hours told apart by
    labels as in '9-5 (Office); 1-4 (Pantry)') is not guessed at: the caller keeps the text as a
    description.
    """
    text = re.sub(r"\s+", " ", (text or "")).strip()
    if not text:
        return None
    parsed = _parse_hours(text)
    note = re.match(r"^(.*\S)\s*\(([^()\d]*)\)$", text)
    if parsed is None and note and not re.search(r"appointment|closed|except|only|call", note.group(2), re.I):
        # One set of hours with a label: "Open 24 hours (Residential Facility)", "Daily, 8pm-8am (Shelter)".
        # With several sets a label tells them apart ("9-5 (Office); 1-4 (Pantry)"): not guessed.
        parsed = _parse_hours(note.group(1))
        if parsed is not None and len({h.days for h in parsed}) > 1:
            parsed = None
    return parsed


def _parse_hours(text: str) -> list[OpeningHours] | None:
    tokens: list[tuple[str, object]] = []
    pos = 0
    while pos < len(text):
        match = _HOURS_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            return None
        pos = match.end()
        kind = "time" if match.group("time") else match.lastgroup
        if kind == "sep":
            continue
        if kind == "day":
            tokens.append(("day", _DAYS[match.group("day").lower()]))
        elif kind == "time":
            word = (match.group("word") or "").lower()
            suffix = (match.group("suffix") or "").lower().replace(".", "").replace(" ", "")
            suffix = {"am": "a", "pm": "p", "noon": "noon", "midnight": "midnight"}.get(suffix or word)
            hour = int(match.group("hour")) if match.group("hour") else (12 if word == "noon" else 0)
            tokens.append(("time", (hour, int(match.group("minute") or 0), suffix)))
        else:
            tokens.append((kind, None))

    # Elements: D (days), T (open spans), C (closed).
    elements: list[list] = []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        following = tokens[i + 1:i + 3]
        if kind in ("day", "daily"):
            if kind == "daily":
                days = list(range(7))
            elif len(following) == 2 and following[0][0] == "range" and following[1][0] == "day":
                last = following[1][1]
                days = [(value + k) % 7 for k in range((last - value) % 7 + 1)]
                i += 2
            else:
                days = [value]
            if elements and elements[-1][0] == "D":
                elements[-1][1].extend(days)
            else:
                elements.append(["D", days])
        elif kind in ("time", "h24"):
            if kind == "h24":
                span = (0, 24 * 60)
            elif len(following) == 2 and following[0][0] == "range" and following[1][0] == "time":
                span = _span(value, following[1][1])
                if span is None:
                    return None
                i += 2
            else:
                return None  # a lone time ("Wednesday, 9pm")
            if elements and elements[-1][0] == "T":
                elements[-1][1].append(span)
            else:
                elements.append(["T", [span]])
        elif kind == "closed":
            elements.append(["C", None])
        # a range between neither two days nor two times is punctuation ("Mondays - 5:00-9:30")
        i += 1

    if not elements:
        return None
    if len(elements) == 1 and elements[0][0] == "T" and elements[0][1] == [(0, 24 * 60)]:
        elements = [["D", list(range(7))], elements[0]]  # "Open 24 hours"
    # "Monday-Friday, 9-5" or "9:00 am - 5:00 pm, Monday - Friday": the first days or times
    # (after any leading "Closed Sunday") say which way round the pairs go.
    first = 0
    while [e[0] for e in elements[first:first + 2]] == ["C", "D"]:
        first += 2
    days_first = first < len(elements) and elements[first][0] == "D"
    spans_by_day: dict[int, list[tuple[int, int]]] = defaultdict(list)
    closed: set[int] = set()
    i = 0
    while i < len(elements):
        pair = [e[0] for e in elements[i:i + 2]]
        if pair == ["C", "D"] or (days_first and pair == ["D", "C"]):
            closed.update(elements[i + (1 if pair[0] == "C" else 0)][1])
        elif days_first and pair == ["D", "T"] or not days_first and pair == ["T", "D"]:
            days, spans = (elements[i][1], elements[i + 1][1]) if days_first else (elements[i + 1][1], elements[i][1])
            for day in days:
                spans_by_day[day].extend(spans)
        else:
            return None
        i += 2
    if not spans_by_day or closed & set(spans_by_day):
        return None
    by_span: dict[tuple[int, int], list[int]] = defaultdict(list)
    for day in sorted(spans_by_day):
        for span in sorted(set(spans_by_day[day])):
            by_span[span].append(day)
    return [OpeningHours(tuple(DAY_CODES[d] for d in days), _fmt(opens), _fmt(closes))
            for (opens, closes), days in sorted(by_span.items(), key=lambda kv: (kv[1][0], kv[0]))]


# --- AIRS codes -------------------------------------------------------------------------------

def code_level(code: str) -> int:
    """How deep an AIRS code is: B=1, BD=2, BD-1800=3, BD-1800.2000=4, BD-1800.2000-620=5, ...620.05=6."""
    letters, _, rest = code.partition("-")
    return len(letters) + len([p for p in re.split(r"[.-]", rest) if p])


def parent_code(code: str) -> str | None:
    if "-" not in code:
        return code[0] if len(code) == 2 else None
    trimmed = re.sub(r"[.-][^.-]+$", "", code)
    return trimmed


@dataclass
class TaxonomyItem:
    code: str
    path: list[str] | None  # the term's name path, when known
    targets: list[tuple[str, str | None]] = field(default_factory=list)  # (code, name)


def parse_taxonomy(codes_text: str | None, terms_text: str | None) -> list[TaxonomyItem]:
    """Pair `TaxonomyCodes` with `TaxonomyTerms` ('Basic Needs - Food - ... - Food Pantries * Older Adults').

    Items are paired by position when the counts agree; otherwise each code takes the next
    term whose depth and section fit it. A term cut short by the export's 255-character limit
    (the last one of a full field) gives no name; codes cut short are dropped.
    """
    codes_text, terms_text = (codes_text or "").strip(), (terms_text or "").strip()
    code_items = [c.strip() for c in codes_text.split(";") if c.strip()]
    term_items = [t.strip() for t in terms_text.split(";") if t.strip()]
    if code_items and len(codes_text) >= TRUNCATED_AT:
        last = [p.strip() for p in code_items[-1].split("*")]
        if not all(CODE_RE.match(p) for p in last):
            code_items.pop()
    terms_cut = len(terms_text) >= TRUNCATED_AT or terms_text.endswith("-")
    parsed_terms: list[tuple[list[str], list[str]] | None] = []
    for index, item in enumerate(term_items):
        if terms_cut and index == len(term_items) - 1:
            parsed_terms.append(None)
            continue
        main, *targets = [p.strip() for p in item.split("*")]
        path = [p.strip() for p in main.split(" - ")]
        parsed_terms.append(None if any(not p for p in path) else (path, targets))

    def fits(code: str, term) -> bool:
        return term is not None and len(term[0]) == code_level(code) and term[0][0] == SECTIONS.get(code[0])

    out: list[TaxonomyItem] = []
    pointer = 0
    positional = len(code_items) == len(term_items)
    for index, item in enumerate(code_items):
        main, *target_codes = [p.strip() for p in item.split("*")]
        if not CODE_RE.match(main):
            continue
        term = None
        if positional:
            term = parsed_terms[index] if fits(main, parsed_terms[index]) else None
        else:
            for j in range(pointer, len(parsed_terms)):
                if fits(main, parsed_terms[j]):
                    term, pointer = parsed_terms[j], j + 1
                    break
        target_names = term[1] if term is not None and len(term[1]) == len(target_codes) else [None] * len(target_codes)
        targets = [(c, n or None) for c, n in zip(target_codes, target_names) if CODE_RE.match(c)]
        out.append(TaxonomyItem(main, term[0] if term else None, targets))
    return out


@lru_cache
def airs_crosswalk() -> list[tuple[str, str]]:
    """(AIRS code prefix, SDOH domain code) rows of the crosswalk, longest prefix first."""
    terms = sdoh.sdoh_terms()
    with sdoh.CROSSWALK_FILE.open(newline="", encoding="utf-8") as fh:
        rows = [(r["match"].strip().upper(), r["sdoh_code"].strip()) for r in csv.DictReader(fh)
                if r["scheme"] == "airs"]
    unknown = {code for _, code in rows} - set(terms)
    if unknown:
        raise RuntimeError(f"sdoh_crosswalk.csv names unknown SDOH codes: {', '.join(sorted(unknown))}")
    return sorted(rows, key=lambda r: -len(r[0]))


def airs_domain(code: str) -> str | None:
    """The SDOH domain of one AIRS code: the crosswalk row with the longest matching prefix.
    A prefix matches whole code parts: 'BD' and 'B' match 'BD-1800', 'BD-18' matches nothing."""
    code = code.strip().upper()
    for prefix, domain in airs_crosswalk():
        if code.startswith(prefix) and (len(code) == len(prefix) or len(prefix) == 1
                                        or code[len(prefix)] in "-."):
            return domain
    return None


def classify_codes(codes: list[str]) -> list[str]:
    found: list[str] = []
    for code in codes:
        domain = airs_domain(code)
        if domain and domain not in found:
            found.append(domain)
    return found


# --- the reader -------------------------------------------------------------------------------

@dataclass
class AirsReading:
    """What `read_airs211` produced: rows for `import_rows`, rows it skipped, and summary lines."""
    rows: list[Row]
    skipped: Counter
    notes: list[str]


@dataclass
class _Record:
    line: int
    file: str
    values: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return (self.values.get(key) or "").strip()

    @property
    def num(self) -> str:
        return self["ResourceAgencyNum"]

    @property
    def level(self) -> str:
        return self["TaxonomyLevelName"]

    @property
    def source(self) -> str:
        return f"{self.file} row {self.line}"

    def where(self, column: str) -> str:
        return f"{self.source}, column '{column}'"


def _read_file(path: Path, errors: list[str], files: TextFiles) -> list[_Record]:
    return [_Record(line_no, path.name, values) for line_no, values in files.records(path, errors)]


def _check(record: _Record, errors: list[str], seen: dict[str, str]) -> bool:
    """Validate the columns this reader interprets itself; errors name file, row and column."""
    ok = True
    if not record.num:
        errors.append(f"{record.where('ResourceAgencyNum')}: is required")
        return False
    if record.num in seen:
        errors.append(f"{record.where('ResourceAgencyNum')}: {record.num} appears again ({seen[record.num]})")
        ok = False
    seen[record.num] = record.source
    if record.level not in LEVELS:
        errors.append(f"{record.where('TaxonomyLevelName')}: {record.level!r} is not one of {', '.join(LEVELS)}")
        ok = False
    if record["AgencyStatus"].lower() not in STATUSES:
        errors.append(f"{record.where('AgencyStatus')}: {record['AgencyStatus']!r} is not one of Active, "
                      f"Inactive, 'Active, but do not refer'")
        ok = False
    for column in ("ExcludeFromDirectory", "PhysicalAddressIsPrivate"):
        if record[column].lower() not in YES_NO:
            errors.append(f"{record.where(column)}: {record[column]!r} is not Yes or No")
            ok = False
    for column, limit in (("Latitude", 90), ("Longitude", 180)):
        value = record[column]
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            errors.append(f"{record.where(column)}: {value!r} is not a number")
            ok = False
            continue
        if not -limit <= number <= limit or number != number:
            errors.append(f"{record.where(column)}: {value} is outside -{limit}..{limit}")
            ok = False
    if record.level != "Agency" and not record["ParentAgencyNum"]:
        errors.append(f"{record.where('ParentAgencyNum')}: a {record.level} row needs its agency's number")
        ok = False
    return ok


class _Builder:
    """Turns validated 211 records into HSDS rows, with stable ids and deduplication."""

    def __init__(self, warnings: list[str], state_by_city: dict[str, str]):
        self.rows: list[Row] = []
        self.warnings = warnings
        self.state_by_city = state_by_city
        self.emitted: set[tuple[str, str]] = set()
        self.terms: dict[str, dict] = {}  # code -> taxonomy_term values
        self.term_names: dict[str, Counter] = defaultdict(Counter)
        self.term_paths: dict[str, Counter] = defaultdict(Counter)
        self.stats = Counter()

    def emit(self, table: str, values: dict, source: str) -> str:
        key = (table, values["id"])
        if key not in self.emitted:
            self.emitted.add(key)
            self.rows.append(Row(table, values, source))
        return values["id"]

    # the hierarchy ---------------------------------------------------------------------------
    def agency(self, agency: _Record, sites: list[_Record], programs: list[_Record]) -> None:
        """An agency: its organization, its sites, and its programs (or the one service of its own)."""
        org_id = record_id(agency.num)
        name = agency["PublicName"] or agency["AlternateName"] or f"Agency {agency.num}"
        self.emit("organization", {
            "id": org_id, "name": name, "alternate_name": agency["AlternateName"] or None,
            "description": plain_text(agency["AgencyDescription"]) or name,  # required by HSDS
            "email": normalize_email(agency["EmailAddressMain"]), "website": normalize_url(agency["WebsiteAddress"]),
        }, agency.source)
        self.phone("organization_id", org_id, agency.num, agency)

        active_sites: list[tuple[str, _Record | None]] = []
        for site in sites:
            loc_id = self.location(site.num, site, site["PublicName"] or name, org_id)
            self.hours("location_id", loc_id, site.num, site)
            self.languages("location_id", loc_id, site.num, site)
            self.phone("location_id", loc_id, site.num, site)
            if STATUSES[site["AgencyStatus"].lower()] == "inactive":
                self.stats["inactive sites"] += 1
            else:
                active_sites.append((loc_id, site))

        def places() -> list[tuple[str, _Record | None]]:
            """Where a service without an address of its own is offered: the agency's active sites,
            else the agency's own address (made into a location only when used)."""
            if active_sites:
                return active_sites
            if not (agency["PhysicalAddress1"] or agency["Latitude"]):
                return []
            key = agency.num + ":location"
            if ("location", record_id(key)) not in self.emitted:
                self.hours("location_id", self.location(key, agency, name, org_id), key, agency)
            return [(record_id(key), None)]

        agency_status = STATUSES[agency["AgencyStatus"].lower()]
        if not programs:
            key = agency.num + ":service"
            service_id = self.service(agency, key, org_id, name, agency_status)
            where = places()
            self.offer(service_id, key, where, agency)
            if not where:
                self.hours("service_id", service_id, key, agency)
        for program in programs:
            status = STATUSES[program["AgencyStatus"].lower()]
            if agency_status == "inactive":
                status = "inactive"  # an agency that closed takes its programs with it
            elif agency_status == "do-not-refer" and status == "active":
                status = "do-not-refer"
            program_name = program["PublicName"] or program["AlternateName"] or name
            service_id = self.service(program, program.num, org_id, program_name, status)
            self.phone("service_id", service_id, program.num, program)
            self.hours("service_id", service_id, program.num, program)
            if program["PhysicalAddress1"] or program["Latitude"]:
                loc_key = program.num + ":location"
                loc_id = self.location(loc_key, program, program_name, org_id)
                self.emit("service_at_location", {"id": record_id(f"{program.num}@{loc_key}"),
                                                  "service_id": service_id, "location_id": loc_id}, program.source)
            else:
                self.offer(service_id, program.num, places(), agency)

    def service(self, record: _Record, key: str, org_id: str, name: str, status: str) -> str:
        """A service from an agency or program row: details, languages, coverage, taxonomy."""
        service_id = record_id(key)
        languages = record["LanguagesOffered"]
        self.emit("service", {
            "id": service_id, "organization_id": org_id, "name": name,
            "alternate_name": record["AlternateName"] or None,
            "description": plain_text(record["AgencyDescription"]),
            "url": normalize_url(record["WebsiteAddress"]), "email": normalize_email(record["EmailAddressMain"]),
            "status": "inactive" if status == "inactive" else "active",
            "accepting_referrals": status == "active",
            "eligibility_description": plain_text(record["Eligibility"]),
            # "English; Spanish; TDD (call to request interpreters)": the remarks a coordinator needs
            "interpretation_services": languages if re.search(r"interpret|translat|language line|sign|tdd|tty",
                                                              languages, re.I) else None,
        }, record.source)
        self.stats["services inactive" if status == "inactive" else "services not accepting referrals"
                   if status == "do-not-refer" else "services active"] += 1
        self.languages("service_id", service_id, key, record)
        self.coverage(service_id, key, record)
        self.taxonomy(service_id, key, record, name)
        return service_id

    def offer(self, service_id: str, service_key: str, places: list[tuple[str, _Record | None]],
              agency: _Record) -> None:
        """service_at_location rows; a site without hours of its own follows the agency's."""
        for loc_id, site in places:
            sal_key = f"{service_key}@{site.num if site is not None else agency.num + ':location'}"
            eligibility = site["Eligibility"] if site is not None else ""
            sal_id = self.emit("service_at_location", {
                "id": record_id(sal_key), "service_id": service_id, "location_id": loc_id,
                "description": f"Eligibility at this site: {eligibility}" if eligibility else None,
            }, (site or agency).source)
            if site is not None and not site["HoursOfOperation"] and agency["HoursOfOperation"]:
                self.hours("service_at_location_id", sal_id, sal_key, agency)

    # locations -------------------------------------------------------------------------------
    def location(self, key: str, record: _Record, name: str, organization_id: str | None) -> str:
        """A location (with address and phone-free details) from a row's physical address."""
        private = YES_NO[record["PhysicalAddressIsPrivate"].lower()]
        loc_id = record_id(key)
        self.emit("location", {
            "id": loc_id, "organization_id": organization_id, "name": name, "location_type": "physical",
            "latitude": None if private else record["Latitude"] or None,
            "longitude": None if private else record["Longitude"] or None,
            "url": normalize_url(record["WebsiteAddress"]) if record.level == "Site" else None,
            "external_identifier": key, "external_identifier_type": "AIRS/211 ResourceAgencyNum",
            "address_confidential": private,
        }, record.source)
        if private:
            self.stats["confidential locations"] += 1
        elif record["PhysicalAddress1"]:
            self.address(loc_id, key, record)
        return loc_id

    def address(self, loc_id: str, key: str, record: _Record) -> None:
        city = record["PhysicalCity"]
        state = record["PhysicalStateProvince"] or self.state_by_city.get(city.lower())
        postal = normalize_postal_code(record["PhysicalPostalCode"])
        missing = [c for c, v in (("PhysicalCity", city), ("PhysicalStateProvince", state),
                                  ("PhysicalPostalCode", postal)) if not v]
        if missing:
            self.warnings.append(f"{record.source}: address without {', '.join(missing)}; street address not "
                                 f"imported")
            self.stats["addresses incomplete"] += 1
            return
        self.emit("address", {
            "id": record_id(key + ":address"), "location_id": loc_id, "address_1": record["PhysicalAddress1"],
            "address_2": record["PhysicalAddress2"] or None, "city": city, "state_province": state,
            "postal_code": postal, "country": "US", "address_type": "physical",
        }, record.source)

    # schedules -------------------------------------------------------------------------------
    def hours(self, owner_column: str, owner_id: str, key: str, record: _Record) -> None:
        text = re.sub(r"\s+", " ", record["HoursOfOperation"]).strip()
        if not text:
            return
        parsed = parse_hours(text)
        offset = STATE_OFFSETS.get(record["PhysicalStateProvince"].upper())
        if parsed is None:
            self.stats["hours kept as text"] += 1
            self.emit("schedule", {"id": record_id(f"{key}:schedule:0"), owner_column: owner_id,
                                   "description": text, "timezone": offset}, record.source)
            return
        self.stats["hours parsed"] += 1
        for index, hours in enumerate(parsed):
            self.emit("schedule", {
                "id": record_id(f"{key}:schedule:{index}"), owner_column: owner_id, "freq": "WEEKLY",
                "wkst": "MO", "byday": ",".join(hours.days), "opens_at": hours.opens_at,
                "closes_at": hours.closes_at, "timezone": offset, "description": text,
            }, record.source)

    # service details -------------------------------------------------------------------------
    def languages(self, owner_column: str, owner_id: str, key: str, record: _Record) -> None:
        for name, code in parse_languages(record["LanguagesOffered"]):
            self.emit("language", {"id": record_id(f"{key}:language:{name}"), owner_column: owner_id,
                                   "name": name, "code": code}, record.source)

    def phone(self, owner_column: str, owner_id: str, key: str, record: _Record) -> None:
        raw = record["Phone1Number"]
        if not raw:
            return
        parsed = parse_phone(raw)
        if parsed is None:
            self.warnings.append(f"{record.where('Phone1Number')}: {raw!r} is not a phone number; not imported")
            return
        number, extension = parsed
        self.emit("phone", {"id": record_id(f"{key}:phone"), owner_column: owner_id, "number": number,
                            "extension": extension, "type": (record["Phone1Type"] or "voice").lower()},
                  record.source)

    def taxonomy(self, service_id: str, key: str, record: _Record, name: str) -> None:
        items = parse_taxonomy(record["TaxonomyCodes"], record["TaxonomyTerms"])
        service_codes = []
        for item in items:
            self.term(item.code, item.path)
            service_codes.append(item.code)
            self.attribute(service_id, key, "taxonomy", item.code, record)
            for code, target_name in item.targets:
                self.term(code, None, last_only=target_name)
                self.attribute(service_id, key, "target_population", code, record)
        domains = classify_codes(service_codes + [c for i in items for c, _ in i.targets if c.startswith("Y")])
        if not items:
            domains = keyword_domains(f"{name} {plain_text(record['AgencyDescription']) or ''}")
            if domains:
                self.stats["services classified by keywords"] += 1
        else:
            self.stats["services with AIRS codes"] += 1
        for domain in domains:
            self.emit("attribute", {"id": record_id(f"{key}:sdoh:{domain}"), "link_id": service_id,
                                    "link_entity": "service", "link_type": "sdoh_domain",
                                    "taxonomy_term_id": sdoh.sdoh_terms()[domain]["id"]}, record.source)

    def term(self, code: str, path: list[str] | None, last_only: str | None = None) -> None:
        """Remember a code (and every ancestor code, named from the path where it gives the names)."""
        chain = [code]
        while parent_code(chain[-1]):
            chain.append(parent_code(chain[-1]))
        for depth, ancestor in enumerate(chain):
            self.terms.setdefault(ancestor, {"id": record_id(f"taxonomy_term:{ancestor}"), "code": ancestor})
            if path and len(path) == len(chain):
                names = path[:len(path) - depth]
                self.term_names[ancestor][names[-1]] += 1
                self.term_paths[ancestor][" - ".join(names)] += 1
        if last_only:
            self.term_names[code][last_only] += 1

    def attribute(self, service_id: str, key: str, link_type: str, code: str, record: _Record) -> None:
        self.emit("attribute", {"id": record_id(f"{key}:{link_type}:{code}"), "link_id": service_id,
                                "link_entity": "service", "link_type": link_type,
                                "taxonomy_term_id": record_id(f"taxonomy_term:{code}")}, record.source)

    def coverage(self, service_id: str, key: str, record: _Record) -> None:
        text = record["CoverageArea"]
        if not text:
            return
        parts = [p.strip() for p in re.split(r"[;,]", text) if p.strip()]
        if any(len(p) > 60 for p in parts) or re.search(r"\d{3}", text):
            parts = [text]  # a sentence ("Determine by calling ..."), not a list of places
        for area in parts:
            self.emit("service_area", {"id": record_id(f"{key}:area:{area}"), "service_id": service_id,
                                       "name": area, "extent": area, "extent_type": "text"}, record.source)

    def taxonomy_rows(self, source: str) -> list[Row]:
        """The AIRS taxonomy and its terms (with their ancestors), each named by its most common
        full name. A code this file names nowhere keeps the name an earlier import gave it, so
        importing two exports in turn does not rename terms back and forth."""
        rows = [Row("taxonomy", {"id": TAXONOMY_ID, "name": TAXONOMY_NAME,
                                 "description": "The AIRS/211 LA County Taxonomy of Human Services, as used by "
                                                "211 information and referral exports (codes such as BD-1800.2000).",
                                 "uri": "https://211taxonomy.org/"}, source)]
        unnamed = [v["id"] for c, v in self.terms.items() if not self.term_paths.get(c)]
        known: dict[str, tuple[str, str]] = {}
        for start in range(0, len(unnamed), 500):
            for term in db.session.scalars(select(TaxonomyTerm).where(TaxonomyTerm.id.in_(unnamed[start:start + 500]))):
                known[term.id] = (term.name, term.description)
        for code in sorted(self.terms):
            names, paths = self.term_names.get(code), self.term_paths.get(code)
            term_id = self.terms[code]["id"]
            if paths:
                name, description = names.most_common(1)[0][0], f"{paths.most_common(1)[0][0]} ({code})"
            elif term_id in known:
                name, description = known[term_id]
            elif names:
                name, description = names.most_common(1)[0][0], f"{names.most_common(1)[0][0]} ({code})"
            else:
                name, description = code, f"AIRS/211 code {code}"
            parent = parent_code(code)
            rows.append(Row("taxonomy_term", {
                **self.terms[code], "name": name, "description": description,
                "parent_id": record_id(f"taxonomy_term:{parent}") if parent else None,
                "taxonomy": TAXONOMY_NAME, "taxonomy_id": TAXONOMY_ID, "language": "en",
            }, source))
        return rows


@lru_cache
def _keyword_rows() -> list[tuple[re.Pattern, str]]:
    with sdoh.CROSSWALK_FILE.open(newline="", encoding="utf-8") as fh:
        return [(re.compile(r"(?<![a-z])" + re.escape(r["match"].lower())), r["sdoh_code"])
                for r in csv.DictReader(fh) if r["scheme"] == "keyword"]


def keyword_domains(text: str) -> list[str]:
    """SDOH domains from the crosswalk's keywords, matched at the start of a word ('rent' is not in 'parent')."""
    text = (text or "").lower()
    found: list[str] = []
    for pattern, domain in _keyword_rows():
        if pattern.search(text) and domain not in found:
            found.append(domain)
    return found


def read_airs211(path: Path, warnings: list[str], files: TextFiles | None = None) -> AirsReading:
    """Turn a 211 export (a CSV file, or the 211 CSVs of a folder) into HSDS rows.

    Raises ImportFailed, naming file, row and column, if any row has a value this reader cannot use.
    """
    text_files = files or TextFiles()
    files = airs_files(path, text_files)
    errors: list[str] = []
    records: list[_Record] = []
    for file in files:
        records.extend(_read_file(file, errors, text_files))
    seen: dict[str, str] = {}
    valid = [r for r in records if _check(r, errors, seen)]
    if errors:
        raise ImportFailed("The 211 export has values this importer cannot use; nothing was changed.", errors)

    by_num = {r.num: r for r in valid}
    excluded: Counter = Counter()
    skipped: Counter = Counter()
    agencies: list[_Record] = []
    sites: dict[str, list[_Record]] = defaultdict(list)
    programs: dict[str, list[_Record]] = defaultdict(list)
    for r in valid:
        if YES_NO[r["ExcludeFromDirectory"].lower()]:
            excluded[r.level] += 1
            continue
        if r.level == "Agency":
            agencies.append(r)
            continue
        agency = _agency_of(r, by_num)
        if agency is None:
            warnings.append(f"{r.where('ParentAgencyNum')}: agency {r['ParentAgencyNum']} is not in the file; "
                            f"{r.level.lower()} row skipped")
            skipped["location" if r.level == "Site" else "service"] += 1
        elif YES_NO[agency["ExcludeFromDirectory"].lower()]:
            excluded[r.level] += 1  # everything under an excluded agency stays out
        else:
            (sites if r.level == "Site" else programs)[agency.num].append(r)

    b = _Builder(warnings, _states_by_city(valid))
    for agency in agencies:
        b.agency(agency, sites[agency.num], programs[agency.num])
    if not b.rows:
        raise ImportFailed("The 211 export holds no rows to import.",
                           [f"{', '.join(f.name for f in files)}: every row is excluded or skipped"])

    rows = b.taxonomy_rows(files[0].name if len(files) == 1 else path.name) if b.terms else []
    doc = sdoh.sdoh_document()
    for table, key in (("taxonomy", "taxonomies.csv"), ("taxonomy_term", "taxonomy_terms.csv")):
        for i, record in enumerate(doc[key]):
            rows.append(Row(table, dict(record), f"seed_data/sdoh_domains.json {key}[{i}]"))
    rows.extend(b.rows)

    s = b.stats
    notes = [
        f"211 export: {len(valid)} rows read from {', '.join(f.name for f in files)}",
        f"  excluded (ExcludeFromDirectory=Yes, or under an excluded agency): {sum(excluded.values())}"
        + (f" ({', '.join(f'{n} {lvl}' for lvl, n in sorted(excluded.items()))})" if excluded else ""),
        f"  skipped (agency not in the file): {sum(skipped.values())}",
        f"  services: {s['services active']} active, {s['services inactive']} inactive, "
        f"{s['services not accepting referrals']} active but not accepting referrals",
        f"  inactive sites (kept as locations, no service offered there): {s['inactive sites']}",
        f"  confidential locations (no address or coordinates imported): {s['confidential locations']}",
        f"  opening hours: {s['hours parsed']} parsed into weekly schedules, {s['hours kept as text']} kept as text",
        f"  services with AIRS codes: {s['services with AIRS codes']}; without codes, classified by keywords: "
        f"{s['services classified by keywords']}",
    ]
    return AirsReading(rows, skipped, notes)


def _agency_of(record: _Record, by_num: dict[str, _Record]) -> _Record | None:
    """The agency a site or program belongs to (following a ProgramAtSite's parent up if need be)."""
    current, hops = record, 0
    while current is not None and current.level != "Agency" and hops < 5:
        current, hops = by_num.get(current["ParentAgencyNum"]), hops + 1
    return current if current is not None and current.level == "Agency" else None


def _states_by_city(records: list[_Record]) -> dict[str, str]:
    """City -> its most common state in the file, for the few addresses that leave the state out."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        if r["PhysicalCity"] and r["PhysicalStateProvince"]:
            votes[r["PhysicalCity"].lower()][r["PhysicalStateProvince"]] += 1
    return {city: counter.most_common(1)[0][0] for city, counter in votes.items()}
