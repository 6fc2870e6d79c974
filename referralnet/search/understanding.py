"""Query understanding: what a coordinator typed, as a patient said it, into a plan of clauses.

This layer knows nothing about the index. It turns text into a `QueryPlan`:

1. words are folded (case, accents: "inmigración" = "inmigracion") and split;
2. a word that is not a real word — neither in the general English and Spanish word lists
   (wordfreq), nor in the need lexicon, nor in the directory's own vocabulary — is corrected to
   the closest word the lexicon or the directory knows; a real word is never "corrected";
3. the need lexicon (seed_data/need_lexicon.csv, English and Spanish phrasings -> the concepts
   of seed_data/need_concepts.csv) is matched on word stems with the small words left out, so
   "can't pay my light bill" and "cannot pay the light bills" find the same entry, longest
   phrase first;
4. what is left becomes one clause per important word; common words ("my", "to", "the",
   "necesito") and words that only say "I want help" carry no weight.

Each clause is matched on its own and results rank by how many and which clauses they match
(the backend scores each clause; `service.py` combines them). A clause that came from the
lexicon says what it was taken to mean, which is how a result explains why it matched. Crisis
concepts (suicide, overdose, violence at home, child abuse) bring their hotline
(seed_data/crisis_lines.csv) above the results.
"""
from __future__ import annotations

import csv
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

import snowballstemmer
from whoosh.lang.porter import stem as porter_stem

SEED = Path(__file__).resolve().parents[2] / "seed_data"
LEXICON_FILE = SEED / "need_lexicon.csv"
CONCEPTS_FILE = SEED / "need_concepts.csv"
CRISIS_FILE = SEED / "crisis_lines.csv"

# A word is a real word when it is at least this common (Zipf scale: 3 = once per million words)
# in English or Spanish. Below ~2.5 the lists hold mostly typos, names and fragments.
REAL_WORD_ZIPF = 2.5
MAX_PHRASE_WORDS = 8
MODIFIER_WEIGHT = 0.5  # a clause whose needs have no SDOH domain (low cost, for children, walk-in...)

# Words that carry no meaning in a directory search. English and Spanish function words, and the
# words people use to ask for help in general ("need", "help", "looking for", "ayuda").
_STOP_TEXT = """
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm
i've if in into is it it's its itself let's me more most my myself of off on once only or other
ought our ours ourselves out over own same she she'd she'll she's should so some such than that
that's the their theirs them themselves then there there's these they they'd they'll they're
they've this those through to too under until up very was we we'd we'll we're we've were what
what's when when's where where's which while who who's whom why why's with would you you'd you'll
you're you've your yours yourself yourselves im ive also just really please get got getting need
needs needed want wants wanted looking look find finding someone somebody something somewhere
anyone anything any place places near nearby around area close help helps helping assistance assist
services service program programs resources resource support info information options option kind
type like go going able give trying try us our am will would lot lots currently right now today question questions
tonight asap urgent urgently de la el los las lo un una unos unas y e o u que en por para con sobre
mi mis me te se su sus tu tus nos le les al del es son está estan están estoy esta este estos esas
esos eso esa ese ya muy más mas pero como donde dónde cuando quien quién qué cual cuál hay ser
estar tener tengo tiene tienen necesito necesita necesitamos quiero quisiera busco buscando buscar
ayuda ayudar ayudarme puedo puede pueden poder alguien algo algún alguna algunos lugar lugares
cerca favor ahora hoy servicio servicios programa programas información informacion pregunta preguntas sí si yo él
ella ellos ellas nosotros usted ustedes hacer hago va van vas voy vamos ir fue fui era estaba ha han hemos había habia
"""

# Saying "no": part of a phrasing ("sin casa", "no food", "can't pay rent"), never a clause alone.
NEGATION = "no"
_NEGATIONS = frozenset("""
no not nor never without can't cannot cant couldn't couldnt don't dont doesn't doesnt didn't didnt won't wont
isn't isnt aren't arent wasn't wasnt weren't haven't havent hasn't hasnt hadn't ain't shouldn't wouldnt
wouldn't sin ni nunca tampoco
""".split())

# Everyday words that name the same thing, matched as one when the lexicon is looked up ("my kid
# is being abused" finds "child being abused"). Both phrasings and queries go through this.
_SAME = {
    "child": "kid kids children childs son sons daughter daughters toddler toddlers baby babies infant "
             "infants grandchild grandchildren grandkids",
    "nino": "nina ninos ninas hijo hija hijos hijas bebe bebes nene nena chamaco chamacos",
    "doctor": "doc docs doctors physician physicians",
    "medicine": "meds medication medications medicines",
    "apartment": "apt apartments",
    "mom": "mother mum mommy",
    "dad": "father daddy",
    "wife": "husband spouse partner boyfriend girlfriend bf gf",
    "esposo": "esposa marido pareja novio novia",
    "phone": "cellphone cell telephone",
}
CANONICAL = {word: canon for canon, words in _SAME.items() for word in words.split()}
CANONICAL.update({word: NEGATION for word in _NEGATIONS})

_WORD_RE = re.compile(r"[a-z0-9]+(?:['’][a-z]+)*")


def fold(text: str) -> str:
    """Lower case, accents and typographic apostrophes removed ("Inmigración" -> "inmigracion")."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'").lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ñ", "n")


def words_of(text: str) -> list[str]:
    return _WORD_RE.findall(fold(text))


STOP_WORDS = frozenset(fold(w) for w in _STOP_TEXT.split())

_ES_STEMMERS = threading.local()  # a snowball stemmer keeps the word it works on: one per thread


def stem_en(word: str) -> str:
    return porter_stem(word.replace("'", ""))


def stem_es(word: str) -> str:
    """The Spanish snowball stem; safe from any number of threads (gunicorn's threads share the module)."""
    stemmer = getattr(_ES_STEMMERS, "stemmer", None)
    if stemmer is None:
        stemmer = _ES_STEMMERS.stemmer = snowballstemmer.stemmer("spanish")
    return stemmer.stemWord(word)


# By language, each word's stem remembered (pure functions of the word): building the lexicon stems
# ~20,000 words, most of them several times (half of its ~0.5 s), and searches repeat words too.
STEMMERS: dict[str, Callable[[str], str]] = {"en": lru_cache(maxsize=50_000)(stem_en),
                                             "es": lru_cache(maxsize=50_000)(stem_es)}


def content_words(text: str) -> list[str]:
    return [w for w in words_of(text) if w not in STOP_WORDS]


# --- the lexicon -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """A service concept: how agencies describe what meets a need."""

    id: str
    label_en: str
    label_es: str
    domains: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()  # AIRS taxonomy code prefixes, lower case
    terms: tuple[str, ...] = ()  # words and short phrases agencies use


@dataclass(frozen=True)
class CrisisLine:
    id: str
    name: str
    phone: str
    text: str  # how to text them ("Text 988"), may be empty
    url: str
    description: str
    name_es: str = ""
    description_es: str = ""


@dataclass
class Lexicon:
    needs: dict[str, Need]
    # (language, stems of the phrase's content words) -> the needs that phrasing means
    phrases: dict[tuple[str, tuple[str, ...]], tuple[Need, ...]]
    crisis: dict[str, CrisisLine]  # need id -> its crisis line
    vocabulary: frozenset[str]  # folded words of every phrasing and term (never "misspelt")
    max_words: int = MAX_PHRASE_WORDS

    def phrase_key(self, language: str, phrase: str) -> tuple[str, ...]:
        stem = STEMMERS[language]
        return tuple(stem(CANONICAL.get(w, w)) for w in content_words(phrase))


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip().lower() for p in (value or "").split("|") if p.strip()))


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The need lexicon and the crisis lines."""
    return build_lexicon(_read_csv(CONCEPTS_FILE), _read_csv(LEXICON_FILE), _read_csv(CRISIS_FILE))


@lru_cache(maxsize=1)
def need_concepts() -> dict[str, Need]:
    """The lexicon's concepts alone (`lexicon().needs`, from the same file by the same code), without
    its phrasings: what the index-time concept tags need (concepts.py). Building the whole lexicon
    stems ~20,000 words (~0.3 s), on a rebuild's serial path before it forks."""
    return _needs(_read_csv(CONCEPTS_FILE))


def _needs(concept_rows: Iterable[dict]) -> dict[str, Need]:
    needs: dict[str, Need] = {}
    for row in concept_rows:
        cid = row["concept"].strip()
        needs[cid] = Need(cid, row.get("label_en", "").strip() or cid.replace("-", " "),
                          row.get("label_es", "").strip(), _split(row.get("domains")),
                          tuple(c.lower() for c in _split(row.get("airs_codes"))), _split(row.get("terms")))
    return needs


def build_lexicon(concept_rows: Iterable[dict], phrase_rows: Iterable[dict],
                  crisis_rows: Iterable[dict] = ()) -> Lexicon:
    needs = _needs(concept_rows)
    lex = Lexicon(needs, {}, {}, frozenset())
    phrases: dict[tuple[str, tuple[str, ...]], list[Need]] = {}
    vocabulary: set[str] = set()

    def add(language: str, phrase: str, need: Need) -> None:
        key = lex.phrase_key(language, phrase)
        if not key or len(key) > MAX_PHRASE_WORDS or all(k == NEGATION for k in key):
            return
        vocabulary.update(words_of(phrase))
        bucket = phrases.setdefault((language, key), [])
        if need not in bucket:
            bucket.append(need)

    for row in phrase_rows:
        need = needs.get(row["concept"].strip())
        language = row.get("lang", "en").strip() or "en"
        if need is not None and language in STEMMERS:
            add(language, row["phrase"], need)
    for need in needs.values():
        for term in need.terms:
            vocabulary.update(words_of(term))
    for row in crisis_rows:
        line = CrisisLine(row["id"].strip(), row["name"].strip(), row["phone"].strip(), row.get("text", "").strip(),
                          row.get("url", "").strip(), row.get("description", "").strip(),
                          row.get("name_es", "").strip(), row.get("description_es", "").strip())
        for cid in _split(row.get("concepts")):
            lex.crisis.setdefault(cid, line)
    lex.phrases = {k: tuple(v) for k, v in phrases.items()}
    lex.vocabulary = frozenset(vocabulary)
    return lex


# --- real words and spelling ---------------------------------------------------------------------


@lru_cache(maxsize=50_000)
def is_real_word(word: str) -> bool:
    """True for a word of general English or Spanish (wordfreq's lists), or a number."""
    if word.isdigit() or len(word) <= 2:
        return True
    return _zipf(word) >= REAL_WORD_ZIPF


@lru_cache(maxsize=50_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return max(zipf_frequency(word, "en"), zipf_frequency(word, "es"))


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (adjacent swaps count once), giving up above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def max_edits(word: str) -> int:
    return 1 if len(word) <= 4 else 2


def closest_word(word: str, candidates: Iterable[str], weight: Callable[[str], float]) -> str | None:
    """The candidate with the fewest edits from `word` (at most 1 for short words, 2 otherwise),
    the more common one on a tie; candidates must share the first letter or be a swap away.

    Only the candidates tied at the fewest edits are weighed: a weight may cost a database query
    (the postgres backend's document frequency), and one closest candidate needs none."""
    limit = max_edits(word)
    close: dict[str, int] = {}
    for cand in candidates:
        if cand == word or abs(len(cand) - len(word)) > limit or len(cand) < 3:
            continue
        if cand[0] != word[0] and not (len(word) > 1 and cand[:2] == word[1::-1]):
            continue
        dist = _edit_distance(word, cand, limit)
        if dist <= limit:
            close[cand] = dist
    if not close:
        return None
    fewest = min(close.values())
    tied = [cand for cand, dist in close.items() if dist == fewest]
    return tied[0] if len(tied) == 1 else min(tied, key=lambda cand: (-weight(cand), cand))


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """One part of what was asked: the words typed, and what the lexicon took them to mean."""

    text: str  # the words of the query it stands for, as typed (corrected)
    words: tuple[str, ...]  # the content words to look for literally
    needs: tuple[Need, ...] = ()
    weight: float = 1.0
    # What some of its words mean on their own ("comida" in "comida para mis hijos"): weaker
    # alternatives, so a narrow phrasing does not hide the general need.
    related: tuple[Need, ...] = ()

    def explain(self, need: Need | None = None) -> str:
        """"eviction → tenant legal help" (staff read English; the lexicon's Spanish labels are there
        for a Spanish interface), or the words alone when they matched as typed."""
        if need is None:
            return self.text
        label = need.label_en
        return self.text if fold(label) == fold(self.text) else f"{self.text} → {label}"


@dataclass
class QueryPlan:
    text: str  # as typed
    clauses: list[Clause] = field(default_factory=list)
    corrected: str | None = None  # the text with misspelt words corrected; None when nothing was
    corrections: dict[str, str] = field(default_factory=dict)
    crisis: list[CrisisLine] = field(default_factory=list)

    @property
    def needs(self) -> list[tuple[Clause, Need]]:
        return [(c, n) for c in self.clauses for n in c.needs]

    @property
    def related(self) -> list[tuple[Clause, Need]]:
        return [(c, n) for c in self.clauses for n in c.related]

    def key(self) -> tuple:
        return tuple((c.words, tuple(n.id for n in c.needs), c.weight, tuple(n.id for n in c.related))
                     for c in self.clauses)


def understand(text: str, known: Callable[[str], bool] = lambda w: False,
               vocabulary: Callable[[], Iterable[str]] = lambda: (),
               weight: Callable[[str], float] = lambda w: 0.0, lex: Lexicon | None = None) -> QueryPlan:
    """The plan for `text`.

    `known(word)`: whether the directory's index has the word (so it is not misspelt);
    `vocabulary()`: the directory's words a misspelt word may be corrected to; `weight(word)`:
    how common a candidate is (ties go to the more common one).
    """
    lex = lex or lexicon()
    plan = QueryPlan(text)
    raw = words_of(text)
    if not raw:
        return plan
    corrected = []
    for w in raw:
        fixed = w
        if w not in STOP_WORDS and not w.isdigit() and w not in lex.vocabulary and not known(w) \
                and not is_real_word(w):
            cand = closest_word(w, _candidates(lex, vocabulary), lambda c: weight(c) + _zipf(c)
                                + (1.0 if c in lex.vocabulary else 0.0))
            if cand:
                fixed = cand
                plan.corrections[w] = cand
        corrected.append(fixed)
    if plan.corrections:
        plan.corrected = " ".join(corrected)
    tokens = [w for w in corrected if w not in STOP_WORDS]
    if not tokens:  # only small words ("help"): look for them as they are
        tokens = [w for w in corrected if len(w) > 1][:4]
    plan.clauses = _clauses(lex, tokens)
    seen = set()
    for _, need in plan.needs:
        line = lex.crisis.get(need.id)
        if line is not None and line.id not in seen:
            seen.add(line.id)
            plan.crisis.append(line)
    return plan


def _candidates(lex: Lexicon, vocabulary: Callable[[], Iterable[str]]) -> Iterable[str]:
    yield from lex.vocabulary
    yield from vocabulary()


def _clauses(lex: Lexicon, tokens: list[str]) -> list[Clause]:
    """Longest lexicon phrasings first (in either language), then one clause per word left."""
    canonical = [CANONICAL.get(t, t) for t in tokens]
    stems = {lang: [stem(t) for t in canonical] for lang, stem in STEMMERS.items()}

    def needs_at(start: int, size: int) -> list[Need]:
        out: list[Need] = []
        for lang in STEMMERS:
            for need in lex.phrases.get((lang, tuple(stems[lang][start:start + size])), ()):
                if need not in out:
                    out.append(need)
        return out

    taken = [False] * len(tokens)
    spans: dict[int, tuple[int, list[Need]]] = {}
    for size in range(min(lex.max_words, len(tokens)), 0, -1):
        for start in range(0, len(tokens) - size + 1):
            if any(taken[start:start + size]):
                continue
            needs = needs_at(start, size)
            if needs:
                spans[start] = (size, needs)
                for i in range(start, start + size):
                    taken[i] = True
    out: list[Clause] = []
    i = 0
    while i < len(tokens):
        if i in spans:
            size, needs = spans[i]
            # What its words mean on their own, within the kinds of need (SDOH domains) the
            # phrasing means: "food for my kids" keeps food pantries, not child support.
            domains = {d for n in needs for d in n.domains}
            related: list[Need] = []
            for sub in range(size - 1, 0, -1):
                for start in range(i, i + size - sub + 1):
                    related.extend(n for n in needs_at(start, sub) if n not in needs and n not in related
                                   and (not domains or domains & set(n.domains)))
            words = tuple(t for t in tokens[i:i + size] if CANONICAL.get(t) != NEGATION)
            # A word that only qualifies the need ("cheap", "for kids") weighs less than the need.
            weight = MODIFIER_WEIGHT if all(not n.domains for n in needs) else 1.0
            out.append(Clause(" ".join(tokens[i:i + size]), words, tuple(needs), weight, tuple(related)))
            i += size
        else:
            if CANONICAL.get(tokens[i]) != NEGATION and tokens[i] not in (c.text for c in out):
                out.append(Clause(tokens[i], (tokens[i],)))
            i += 1
    return out
