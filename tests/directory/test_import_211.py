"""The AIRS/211 CSV export importer on the real San Francisco and DC 211 exports."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from referralnet.directory import models as m
from referralnet.directory.airs211 import (
    OpeningHours, airs_domain, normalize_url, parse_hours, parse_languages, parse_phone, parse_taxonomy,
    plain_text, record_id,
)
from referralnet.directory.hsds import TABLES
from referralnet.directory.importer import ImportFailed, detect_format, import_path
from referralnet.directory.sdoh import sdoh_terms

SF = "datasets/sf-211/sf_211_directory_subset.csv"
DC = "datasets/sf-211/dc_211_directory_subset.csv"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")


def counts(db) -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t.model)) for t in TABLES}


def domains_of(db, service_id: str) -> set[str]:
    by_term = {t["id"]: code for code, t in sdoh_terms().items()}
    ids = db.session.scalars(select(m.Attribute.taxonomy_term_id).where(
        m.Attribute.link_id == service_id, m.Attribute.link_type == "sdoh_domain"))
    return {by_term[i] for i in ids}


def airs_codes_of(db, service_id: str) -> dict[str, str]:
    rows = db.session.execute(select(m.TaxonomyTerm.code, m.TaxonomyTerm.name).join(
        m.Attribute, m.Attribute.taxonomy_term_id == m.TaxonomyTerm.id).where(
        m.Attribute.link_id == service_id, m.Attribute.link_type == "taxonomy"))
    return dict(rows.all())


# --- San Francisco: agencies and sites, few programs ------------------------------------------

def test_sf_export_imports_and_reimports_unchanged(db, shared):
    report = import_path(shared / SF)
    db.session.commit()
    # 841 agencies, 13 of them excluded; 20 agencies have programs, the others get one service.
    assert report.created["organization"] == 828
    assert report.created["service"] == 831
    assert db.session.get(m.Organization, record_id("10596470")).name == "611"
    notes = "\n".join(report.notes)
    assert "excluded (ExcludeFromDirectory=Yes, or under an excluded agency): 153" in notes
    assert "confidential locations (no address or coordinates imported): 20" in notes

    # Excluded agencies, their sites and programs, and excluded sites are not there at all.
    for num in ("10600832", "10599214"):
        assert db.session.get(m.Organization, record_id(num)) is None
        assert db.session.get(m.Service, record_id(num + ":service")) is None
    for num in ("10595203", "10600833"):  # excluded site; site of an excluded agency
        assert db.session.get(m.Location, record_id(num)) is None
    assert db.session.get(m.Service, record_id("10607610")) is None  # program of an excluded agency

    # Sites whose agency is not in the file: skipped, each reported with file and row.
    assert report.skipped["location"] == 125
    orphan = [w for w in report.warnings if "agency 10596040 is not in the file" in w]
    assert orphan and orphan[0].startswith("sf_211_directory_subset.csv row ")
    assert db.session.get(m.Location, record_id("10596041")) is None

    # An agency without programs: one service offered at its site, described by the agency row.
    service = db.session.get(m.Service, record_id("10595116:service"))
    assert service.name == "A HOME AWAY FROM HOMELESSNESS"
    assert service.organization_id == record_id("10595116")
    assert service.description.startswith("Provides educational, social and recreational")
    assert [sal.location_id for sal in service.service_at_locations] == [record_id("10595117")]
    site = db.session.get(m.Location, record_id("10595117"))
    assert site.organization_id == record_id("10595116")
    assert site.addresses[0].address_1 == "Fort Mason Building # 9"
    assert site.latitude == pytest.approx(37.800078)
    hours = db.session.scalars(select(m.Schedule).where(m.Schedule.location_id == site.id)).all()
    assert [(h.byday, h.opens_at, h.closes_at) for h in hours] == [("MO,TU,WE,TH", "09:00", "17:00")]
    # "www.homeaway.org" becomes a link that works.
    assert db.session.get(m.Organization, record_id("10595116")).website == "http://www.homeaway.org"

    # Inactive agency -> inactive service.
    assert db.session.get(m.Service, record_id("10599667:service")).status == "inactive"

    # Confidential sites: flagged, and neither address nor coordinates are stored.
    for num in ("10596540", "10597272"):
        location = db.session.get(m.Location, record_id(num))
        assert location.address_confidential is True
        assert location.latitude is None and location.longitude is None and location.addresses == []

    # HTML in descriptions becomes plain text.
    text = db.session.get(m.Organization, record_id("10602084")).description
    assert "<" not in text and text.startswith("Provides low-cost music classes")

    # A program: its own service (id from its own number) with AIRS codes mapped onto SDOH domains.
    pantry = db.session.get(m.Service, record_id("10607934"))
    assert pantry.name == "IMMIGRANT ASSISTANCE FOOD PANTRY"
    assert airs_codes_of(db, pantry.id) == {"BD-1800.2000": "Food Pantries"}
    assert "food-insecurity" in domains_of(db, pantry.id)
    grocery = record_id("10606921")
    codes = airs_codes_of(db, grocery)
    assert codes["BD-1800.2000"] == "Food Pantries" and codes["LN-1500"] == "Community Clinics"
    assert {"food-insecurity", "medical-cost-burden"} <= domains_of(db, grocery)
    # Truncated terms ("... Services -") still keep every code.
    assert set(airs_codes_of(db, record_id("10605268"))) == {"RD-6800.6500", "RF-1500", "RF-2500", "RF-3300"}
    term = db.session.scalar(select(m.TaxonomyTerm).where(m.TaxonomyTerm.code == "BD-1800.2000"))
    assert term.taxonomy == "AIRS/211 LA County Taxonomy"
    assert db.session.get(m.Taxonomy, term.taxonomy_id).name == "AIRS/211 LA County Taxonomy"
    assert db.session.get(m.TaxonomyTerm, term.parent_id).code == "BD-1800"
    # Chinese varieties keep the code the search language filter uses.
    languages = db.session.scalars(select(m.Language).where(m.Language.service_id == record_id("10607583"))).all()
    assert {(x.name, x.code) for x in languages} == {("Chinese (Cantonese)", "zh"), ("Chinese (Mandarin)", "zh")}

    before = counts(db)
    again = import_path(shared / SF)
    db.session.commit()
    assert counts(db) == before
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0
    assert sum(again.unchanged.values()) == sum(before.values())


def test_search_finds_imported_211_services(db, shared):
    from referralnet.search.service import SearchQuery, search

    import_path(shared / SF)
    db.session.commit()  # the commit hook indexes what the import wrote
    results = search(SearchQuery(text="food pantry", per_page=50))
    ids = {hit.service_id for hit in results.hits}
    assert record_id("10607934") in ids
    assert all(hit.service_id in {s for s in db.session.scalars(select(m.Service.id))} for hit in results.hits)
    # A confidential place gives the search no address or coordinates either.
    [hit] = [h for h in search(SearchQuery(text="aids emergency fund", per_page=50)).hits
             if h.location_id == record_id("10597272")]
    assert hit.confidential and hit.address is None and hit.lat is None and hit.lon is None
    # "Active" services only: the closed 150 Otis Street center is not offered.
    assert record_id("10599667:service") not in {
        h.service_id for h in search(SearchQuery(text="150 otis street storage", per_page=50)).hits}


# --- DC: mostly programs with their own addresses ---------------------------------------------

def test_dc_export_through_the_cli(runner, db, shared):
    result = runner.invoke(args=["directory", "import", str(shared / DC)])
    assert result.exit_code == 0, result.output
    assert "Import saved." in result.output
    assert "excluded (ExcludeFromDirectory=Yes, or under an excluded agency): 1" in result.output
    assert "parsed into weekly schedules" in result.output

    # A program with its own address: its own location and service_at_location.
    program = db.session.get(m.Service, record_id("373825"))
    assert program.name == "Bread for the City - Food Program NW"
    assert program.organization_id is not None
    assert "food-insecurity" in domains_of(db, program.id)
    [sal] = program.service_at_locations
    assert sal.location_id == record_id("373825:location")
    assert sal.location.addresses[0].state_province == "DC"
    # "Active, but do not refer": listed, but not taking referrals.
    dnr = db.session.get(m.Service, record_id("372733"))
    assert dnr.status == "active" and dnr.accepting_referrals is False
    assert db.session.get(m.Service, record_id("373825")).accepting_referrals is True
    # Inactive program.
    assert db.session.get(m.Service, record_id("373463")).status == "inactive"
    # Excluded program.
    assert db.session.get(m.Service, record_id("373019")) is None
    # Languages with ISO codes; eligibility; HTML gone; phones.
    languages = db.session.scalars(select(m.Language).where(m.Language.service_id == record_id("373463"))).all()
    assert {(x.name, x.code) for x in languages} == {("English", "en"), ("Spanish", "es")}
    assert db.session.get(m.Service, record_id("373463")).eligibility_description == "Must be between ages 5 - 14"
    assert "<br" not in db.session.get(m.Service, record_id("372566")).description
    phone = db.session.scalar(select(m.Phone).where(m.Phone.service_id == record_id("373825")))
    assert phone is not None and phone.number.startswith("(202)")
    # "9:00 am - 5:00 pm, Monday - Friday" style hours are weekly schedules.
    opens = db.session.scalars(select(m.Schedule).where(m.Schedule.freq == "WEEKLY",
                                                        m.Schedule.opens_at == "09:00",
                                                        m.Schedule.closes_at == "17:00")).all()
    assert len(opens) > 100


def test_detects_the_layout_by_its_header(shared, tmp_path):
    assert detect_format(shared / SF) == "airs211"
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "export.csv").symlink_to(shared / DC)
    assert detect_format(folder) == "airs211"


# --- validation -------------------------------------------------------------------------------

def _sample(shared, tmp_path, rows: int = 40) -> tuple[Path, list[dict]]:
    with (shared / SF).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header, records = reader.fieldnames, [r for _, r in zip(range(rows), reader)]
    path = tmp_path / "sample.csv"
    return path, [header, records]


def _write(path: Path, header, records) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(records)


def test_bad_value_names_file_row_and_column_and_writes_nothing(db, shared, tmp_path):
    path, (header, records) = _sample(shared, tmp_path)
    records[6]["Latitude"] = "abc"
    records[9]["AgencyStatus"] = "Pending"
    _write(path, header, records)
    with pytest.raises(ImportFailed) as failure:
        import_path(path)
    assert "sample.csv row 8, column 'Latitude': 'abc' is not a number" in failure.value.errors
    assert any(e.startswith("sample.csv row 11, column 'AgencyStatus'") for e in failure.value.errors)
    db.session.rollback()
    assert sum(counts(db).values()) == 0


def test_sample_imports_and_duplicate_numbers_are_refused(db, shared, tmp_path):
    path, (header, records) = _sample(shared, tmp_path)
    _write(path, header, records)
    report = import_path(path)
    assert report.created["organization"] > 0
    db.session.rollback()
    _write(path, header, records + [dict(records[0])])
    with pytest.raises(ImportFailed) as failure:
        import_path(path)
    assert any("column 'ResourceAgencyNum'" in e and "appears again" in e for e in failure.value.errors)


def test_unrecognized_file_is_an_error_naming_the_layouts(runner, tmp_path):
    notes = tmp_path / "contacts_export.csv"
    notes.write_text("name,phone\nAnn,555-0100\n")
    result = runner.invoke(args=["directory", "import", str(notes)])
    assert result.exit_code == 1
    assert "Import saved." not in result.output
    for layout in ("HSDS 3.0 JSON", "HSDS 3.0 CSV package", "Ohana API CSV", "AIRS/211 CSV export"):
        assert layout in result.output
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    result = runner.invoke(args=["directory", "import", str(text)])
    assert result.exit_code == 1 and "AIRS/211 CSV export" in result.output
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "people.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ImportFailed) as failure:
        import_path(folder)
    assert "not in a layout ReferralNet understands" in failure.value.message
    empty = tmp_path / "services.json"
    empty.write_text("[]")
    with pytest.raises(ImportFailed):
        import_path(empty)


# --- the small parsers, on values from the real exports ---------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("Monday-Friday, 9-5", [(WEEKDAYS, "09:00", "17:00")]),
    ("Monday-Friday, 8:30-5", [(WEEKDAYS, "08:30", "17:00")]),
    ("Monday-Friday, 8-4:30", [(WEEKDAYS, "08:00", "16:30")]),
    ("9:00 am - 5:00 pm, Monday - Friday", [(WEEKDAYS, "09:00", "17:00")]),
    ("9:00 am - 5:00 pm, Monday - Friday                                ", [(WEEKDAYS, "09:00", "17:00")]),
    ("8:00 am - 5 :00 pm, Monday - Friday", [(WEEKDAYS, "08:00", "17:00")]),
    ("Monday-Friday, 9-6; Saturday, 9-2", [(WEEKDAYS, "09:00", "18:00"), (("SA",), "09:00", "14:00")]),
    ("Monday - Thursday, 9-5", [(("MO", "TU", "WE", "TH"), "09:00", "17:00")]),
    ("24 hours daily", [(WEEKDAYS + ("SA", "SU"), "00:00", "23:59")]),
    ("Open 24 hours", [(WEEKDAYS + ("SA", "SU"), "00:00", "23:59")]),
    ("Monday-Friday, 9-12, 1-5", [(WEEKDAYS, "09:00", "12:00"), (WEEKDAYS, "13:00", "17:00")]),
    ("Monday-Friday, 9AM-6PMSaturday, 9AM-4PM", [(WEEKDAYS, "09:00", "18:00"), (("SA",), "09:00", "16:00")]),
    ("Mon - Fri 3:30pm - 9:00pm; Sat 10:00am - 4:00pm (Closed Sun)",
     [(WEEKDAYS, "15:30", "21:00"), (("SA",), "10:00", "16:00")]),
    ("9:00 am - 10:00 pm, Monday - Friday; 7:00 am - 7:00 pm, Saturday - Sunday",
     [(WEEKDAYS, "09:00", "22:00"), (("SA", "SU"), "07:00", "19:00")]),
    ("Monday, closed; Tuesday, 10-6; Wednesday, 12-8; Thursday, 1-7; Friday-Saturday, 1-6",
     [(("TU",), "10:00", "18:00"), (("WE",), "12:00", "20:00"), (("TH",), "13:00", "19:00"),
      (("FR", "SA"), "13:00", "18:00")]),
    ("Monday: 9 am to 7 pm Tuesday through Friday: 9 am to 5 pm",
     [(("MO",), "09:00", "19:00"), (("TU", "WE", "TH", "FR"), "09:00", "17:00")]),
    ("2:00 pm - 8:00 pm, Sunday - Friday", [(WEEKDAYS + ("SU",), "14:00", "20:00")]),
    ("Monday-Friday, noon-10pm", [(WEEKDAYS, "12:00", "22:00")]),
    ("Monday, Tuesday, Thursday, Friday, 9-12 pm, 1:30-4:30 pm",
     [(("MO", "TU", "TH", "FR"), "09:00", "12:00"), (("MO", "TU", "TH", "FR"), "13:30", "16:30")]),
    ("Daily, 9-5", [(WEEKDAYS + ("SA", "SU"), "09:00", "17:00")]),
    ("Open 24 hours (Residential Facility)", [(WEEKDAYS + ("SA", "SU"), "00:00", "23:59")]),
    ("Daily, 8pm-8am (Shelter)", [(WEEKDAYS + ("SA", "SU"), "20:00", "08:00")]),  # overnight
    ("Monday-Friday, 9-12, 1-5 (Office)", [(WEEKDAYS, "09:00", "12:00"), (WEEKDAYS, "13:00", "17:00")]),
])
def test_parse_hours(text, expected):
    assert parse_hours(text) == [OpeningHours(days, o, c) for days, o, c in expected]


@pytest.mark.parametrize("text", [
    "", "Hours vary", "Please inquire", "By appointment", "24-hour answering machine",
    "Saturday, January 26, 12 pm - 1:30 pm", "Second Saturday of each month, 10:30 am-12 pm",
    "Monday-Friday, 9-5; Saturday, 9-12 by appointment only", "Monday-Friday, 9:30am-5:30pm (By appointment)",
    "Wednesday, 9pm (Pantry); Sunday, 12:30pm (Pantry)", "Tuesday-Saturday,", "9:00 am - 5:00 pm",
    "December-March, 7-7", "Monday-Friday, 9-5; Monday-Thursday, 10-5 (HIV testing)",
    "Monday-Friday, 10-5 (Office); Monday-Friday, 1-4 (Pantry); Monday-Friday, 10-12pm (Brunch); 4-5pm (Dinner)",
])
def test_hours_not_understood_are_not_guessed(text):
    assert parse_hours(text) is None


def test_hours_summary_counts_on_the_real_exports(shared):
    for name, at_least in ((SF, 0.75), (DC, 0.7)):
        with (shared / name).open(newline="", encoding="utf-8-sig") as fh:
            values = [r["HoursOfOperation"] for r in csv.DictReader(fh) if r["HoursOfOperation"].strip()]
        parsed = sum(parse_hours(v) is not None for v in values)
        assert parsed / len(values) >= at_least, (name, parsed, len(values))


def test_parse_taxonomy_pairs_codes_and_names_even_when_cut_short():
    items = parse_taxonomy(
        "BD-1800.2000 * YB-8000; LH-2600",
        "Basic Needs - Food - Emergency Food - Food Pantries * Older Adults; Health Care - Health Supportive "
        "Services - Health Care Referrals")
    assert [(i.code, i.path[-1], i.targets) for i in items] == [
        ("BD-1800.2000", "Food Pantries", [("YB-8000", "Older Adults")]), ("LH-2600", "Health Care Referrals", [])]
    # Counts differ (the terms were cut at 255 characters): codes kept, names where they fit.
    items = parse_taxonomy("P; TM-5100 * TM-5100; YN-0500; YJ-2050",
                           "Individual and Family Life; Organizational/Community/International Services - Military "
                           "Service - Military Family Service/Support Centers * Military Family Service/Support "
                           "Centers; Target Populations - Military Personnel/Contractors - Active Military; Targ")
    names = {i.code: (i.path[-1] if i.path else None) for i in items}
    assert names == {"P": "Individual and Family Life", "TM-5100": "Military Family Service/Support Centers",
                     "YN-0500": "Active Military", "YJ-2050": None}
    # A trailing "Services -" names nothing.
    items = parse_taxonomy("RF-1500; RF-3300", "Mental Health and Substance Abuse Services - Counseling Settings - "
                                               "Conjoint Counseling; Mental Health and Substance Abuse Services -")
    assert [(i.code, i.path and i.path[-1]) for i in items] == [("RF-1500", "Conjoint Counseling"),
                                                                ("RF-3300", None)]


@pytest.mark.parametrize("code,domain", [
    ("BD-1800.2000", "food-insecurity"), ("BD-5000.8300", "food-insecurity"), ("BH-1800.8500", "homelessness"),
    ("BH-7000.4600", "housing-instability"), ("BM-6500.1500", "material-hardship"),
    ("BT-4500.6500", "transportation-insecurity"), ("BV-8900", "utility-insecurity"), ("DF-7000", "legal-needs"),
    ("FT-4500", "legal-needs"), ("FF-1500", "incarceration-status"), ("HD-8000", "educational-attainment"),
    ("LN-1500", "medical-cost-burden"), ("NL-6000.9500", "food-insecurity"),
    ("NL-5000.5000", "health-insurance-coverage-status"), ("ND-3500", "employment-status"),
    ("NT", "financial-insecurity"), ("PL-7400", "social-connection"), ("RX-8450.8000", "stress"),
    ("RP-1400.8000-050", "stress"), ("TM-5100", "veteran-status"), ("YV-3000.3000", "homelessness"),
    ("YF-3000.0270", None), ("J", None),
])
def test_airs_codes_map_onto_sdoh_domains(code, domain):
    assert airs_domain(code) == domain


def test_small_value_parsers():
    assert parse_languages("English, Spanish") == [("English", "en"), ("Spanish", "es")]
    assert parse_languages("Spanish; French") == [("Spanish", "es"), ("French", "fr")]
    assert parse_languages("Chinese (Cantonese, Mandarin)SpanishTagalogRussian") == [
        ("Chinese (Cantonese)", "zh"), ("Chinese (Mandarin)", "zh"), ("Spanish", "es"), ("Tagalog", "tl"),
        ("Russian", "ru")]
    assert parse_languages("English only") == [("English", "en")]
    assert parse_languages("None") == []
    assert parse_languages("Interpreter service available upon request") == []
    assert normalize_url("www.dial611.com") == "http://www.dial611.com"
    assert normalize_url("http:// www.dpr.dc.gov") == "http://www.dpr.dc.gov"
    assert normalize_url("http://www.jfcs.org http://www.seniorsathome.org") == "http://www.jfcs.org"
    assert normalize_url("*working on website*") is None
    assert parse_phone("415-557-6338") == ("415-557-6338", None)
    assert parse_phone("(202) 555-0101 ext. 12") == ("(202) 555-0101", 12)
    assert parse_phone("611") == ("611", None)
    assert parse_phone("(   ) 711-") == ("711", None)
    assert parse_phone("(   ) 999-") is None
    assert plain_text("<p class=msonormal> Offers help</p><p>More<br />lines &amp; more</p>") == \
        "Offers help\n\nMore\nlines & more"
