"""Query understanding without an index: the need lexicon, real words, spelling, crisis lines."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from referralnet.search.understanding import (
    STOP_WORDS, build_lexicon, closest_word, fold, is_real_word, lexicon, understand,
)

SEED = Path(__file__).resolve().parents[2] / "seed_data"


def needs_of(text: str) -> set[str]:
    return {need.id for _, need in understand(text).needs}


def test_the_lexicon_is_large_and_consistent():
    rows = list(csv.DictReader((SEED / "need_lexicon.csv").open(encoding="utf-8")))
    concepts = {r["concept"] for r in csv.DictReader((SEED / "need_concepts.csv").open(encoding="utf-8"))}
    assert sum(r["lang"] == "en" for r in rows) >= 400
    assert sum(r["lang"] == "es" for r in rows) >= 150
    assert {r["concept"] for r in rows} <= concepts  # every phrasing means a concept that exists
    lex = lexicon()
    assert len(lex.phrases) > 1000 and all(lex.needs[c].terms for c in concepts)


@pytest.mark.parametrize("text,need", [
    ("nowhere to sleep", "emergency-shelter"),
    ("can't pay the light bill", "utility-bill-help"),
    ("I cannot pay my light bills", "utility-bill-help"),  # other small words, plural
    ("garbage bill discount", "utility-bill-help"),  # a bill for a service as the water and sewer bills
    ("no puedo pagar el recibo de la basura", "utility-bill-help"),
    ("need a lawyer for court", "legal-aid"),
    ("help paying rent", "rent-assistance"),
    ("my landlord is evicting me", "tenant-legal-help"),
    ("evicted", "tenant-legal-help"),
    ("eviction", "tenant-legal-help"),
    ("cheap dentist", "dental-care"),
    ("cheap dentist", "low-cost"),
    ("dental", "dental-care"),
    ("no tengo para comer", "food-pantry"),
    ("comida", "food-pantry"),
    ("Ayuda para pagar la RENTA", "rent-assistance"),  # case and small words do not matter
    ("necesito un abogado de inmigración", "immigration-legal"),
    ("necesito un abogado de inmigracion", "immigration-legal"),  # without the accent
])
def test_everyday_phrasings_find_their_need(text, need):
    assert need in needs_of(text)


def test_small_words_carry_no_weight():
    plan = understand("I need help with my food for the kids")
    words = {w for clause in plan.clauses for w in clause.words}
    assert not words & {"i", "need", "help", "with", "my", "for", "the"}
    assert all(w not in STOP_WORDS for w in words)


def test_asking_a_question_is_no_need_of_its_own():
    """"Questions about my medicare" asks about medicare: "questions" matched a youth group for
    the "questioning" in its description above every Medicare counselor. Someone "questioning"
    still asks for that."""
    for text in ("questions about my medicare", "I have a question about medicare", "preguntas sobre medicare"):
        words = {w for clause in understand(text).clauses for w in clause.words}
        assert words == {"medicare"}, text
    assert "questioning" in {w for clause in understand("questioning youth").clauses for w in clause.words}


def test_words_outside_the_lexicon_are_clauses_of_their_own():
    plan = understand("okapi zebra")
    assert [c.text for c in plan.clauses] == ["okapi", "zebra"] and not plan.needs


def test_a_real_word_is_never_corrected():
    for text in ["cheap dentist", "clean clothes", "help paying rent", "comida", "ropa", "detox",
                 "wheelchair", "renta"]:
        assert understand(text, known=lambda w: False).corrected is None, text
    assert is_real_word("cheap") and is_real_word("paying") and is_real_word("comida")
    assert not is_real_word("sheltr") and not is_real_word("dentis")


def test_a_misspelt_word_is_corrected_to_a_word_the_lexicon_or_directory_knows():
    plan = understand("sheltr for my family")
    assert plan.corrections == {"sheltr": "shelter"} and plan.corrected.startswith("shelter")
    assert {"emergency-shelter", "family-shelter"} & {n.id for _, n in plan.needs}
    assert understand("dentis").corrected == "dentist"
    # A word only the directory has (a program's name) is a candidate too.
    plan = understand("okapy benefits", vocabulary=lambda: ["okapi"])
    assert plan.corrected == "okapi benefits"
    # ...and a word the directory has is never "corrected".
    assert understand("okapy", known=lambda w: w == "okapy").corrected is None


def test_closest_word_prefers_fewer_edits_then_the_more_common_word():
    assert closest_word("shleter", ["shelter", "sheltie"], weight=lambda w: 0) == "shelter"  # a swap is one edit
    assert closest_word("rant", ["rent", "rank"], weight=lambda w: {"rent": 5}.get(w, 0)) == "rent"
    assert closest_word("xqzvw", ["shelter"], weight=lambda w: 0) is None


def test_closest_word_weighs_only_the_candidates_tied_at_the_fewest_edits():
    # A weight may be a database query (the postgres backend's document frequency): one closest
    # candidate needs none, and a farther one is never weighed.
    weighed = []

    def weight(word):
        weighed.append(word)
        return {"rent": 5}.get(word, 0)

    assert closest_word("shleter", ["shelter", "sheltie", "shelters"], weight=weight) == "shelter"
    assert weighed == []
    assert closest_word("rant", ["rent", "rank", "rent"], weight=weight) == "rent"
    assert sorted(weighed) == ["rank", "rent"]


@pytest.mark.parametrize("text,line", [
    ("i want to kill myself", "988"),
    ("thinking about suicide", "988"),
    ("my husband hits me", "domestic-violence"),
    ("mi esposo me pega", "domestic-violence"),
    ("my friend took too many pills overdose", "overdose"),
    ("i think my neighbor's kid is being abused", "child-abuse"),
])
def test_crisis_queries_bring_their_crisis_line(text, line):
    assert line in [c.id for c in understand(text).crisis]


@pytest.mark.parametrize("text", ["food pantry", "help paying rent", "dentist", "ropa para niños"])
def test_other_queries_bring_no_crisis_line(text):
    assert understand(text).crisis == []


def test_explanations_say_what_lay_words_were_taken_to_mean():
    plan = understand("eviction")
    clause = plan.clauses[0]
    need = next(n for n in clause.needs if n.id == "tenant-legal-help")
    assert clause.explain(need) == "eviction → tenant legal help"
    assert clause.explain(None) == "eviction"


def test_a_lexicon_is_built_from_rows():
    lex = build_lexicon(
        [{"concept": "bikes", "label_en": "bicycles", "label_es": "bicicletas", "domains": "transportation-insecurity",
          "airs_codes": "BT-0500", "terms": "bicycle|bike repair"}],
        [{"lang": "en", "phrase": "need a bike", "concept": "bikes"},
         {"lang": "es", "phrase": "una bicicleta", "concept": "bikes"}],
        [{"id": "x", "concepts": "bikes", "name": "Bike line", "phone": "1", "text": "", "url": "", "description": ""}])
    plan = understand("I really need a bike", lex=lex)
    assert [(c.text, [n.id for n in c.needs]) for c in plan.clauses] == [("bike", ["bikes"])]
    assert understand("quiero una bicicleta", lex=lex).needs[0][1].codes == ("bt-0500",)
    assert [c.name for c in plan.crisis] == ["Bike line"]
    assert fold("Inmigración Ñandú") == "inmigracion nandu"


def test_saying_no_is_part_of_a_phrasing_never_a_clause_alone():
    assert "homeless-services" in needs_of("estoy sin casa")  # "sin casa" is not "casa"
    plan = understand("i don't have health insurance")
    assert [c.text for c in plan.clauses] == ["health insurance"]  # "don't" alone means nothing
    assert understand("no").clauses == [] or all(c.words for c in understand("no").clauses)


def test_a_narrow_phrasing_keeps_the_general_need_of_its_words():
    plan = understand("no tengo comida para mis hijos")
    related = {n.id for _, n in plan.related}
    assert "food-pantry" in {n.id for _, n in plan.needs} | related


def test_a_phrasing_widens_only_within_its_kind_of_need():
    plan = understand("food for my kids")
    domains = {d for _, n in plan.needs for d in n.domains}
    assert plan.related and all(domains & set(n.domains) for _, n in plan.related)


def test_spanish_stemming_is_safe_from_many_threads_at_once():
    """gunicorn's threads share the module: one shared snowball stemmer gave "string index out of
    range" (a 500 on /search) when two requests stemmed Spanish words at once (bench/load_bench.py)."""
    import sys
    import threading

    from referralnet.search.understanding import stem_es

    words = ["comida", "vivienda", "desalojo", "alquiler", "consejería", "inmigración", "trabajos",
             "despensas", "abogados", "refugios", "facturas", "transportes"] * 40
    expected = [stem_es(w) for w in words]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows at once
    failures = []

    def stem_all():
        try:
            if [stem_es(w) for w in words] != expected:
                failures.append("a different stem")
        except Exception as exc:  # noqa: BLE001 - what went wrong is the finding
            failures.append(repr(exc))

    try:
        threads = [threading.Thread(target=stem_all) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
