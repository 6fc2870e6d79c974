"""Reader for the Ohana API CSV layout (Code for America; close to HSDS 1.0).

Ohana ids are small integers per table; they become stable UUIDv5 ids so that
re-importing the same folder updates the same records. Fields HSDS 3.0 has no
place for are folded where a coordinator would look for them (audience into
eligibility, short description into the location description is skipped as it
duplicates the long one). Services get SDOH domain attributes from their Open
Eligibility codes and keywords through the crosswalk in seed_data/.
"""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from pathlib import Path

from referralnet.directory import sdoh
from referralnet.directory.importer import ImportFailed, Row, TextFiles
from referralnet.directory.textfiles import UnreadableFile

NAMESPACE = uuid.UUID("a3c5e1d2-4f6b-4c8a-9e0d-1b2c3d4e5f60")
WEEKDAYS = {"monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH", "friday": "FR",
            "saturday": "SA", "sunday": "SU"}
# Common language names -> ISO 639 codes, for the languages Ohana lists as free text.
LANGUAGE_CODES = {"english": "en", "spanish": "es", "tagalog": "tl", "italian": "it", "chinese (mandarin)": "zh",
                  "chinese (cantonese)": "yue", "chinese": "zh", "vietnamese": "vi", "russian": "ru",
                  "korean": "ko", "japanese": "ja", "french": "fr", "german": "de", "arabic": "ar",
                  "farsi": "fa", "hindi": "hi", "portuguese": "pt", "samoan": "sm", "tongan": "to",
                  "urdu": "ur", "punjabi": "pa", "american sign language": "ase", "sign language": "sgn"}
OPEN_ELIGIBILITY_TAXONOMY_ID = str(uuid.uuid5(NAMESPACE, "taxonomy:open-eligibility"))


def ohana_id(table: str, raw: str | None) -> str | None:
    raw = (raw or "").strip()
    return str(uuid.uuid5(NAMESPACE, f"{table}:{raw}")) if raw else None


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _read(path: Path, name: str, errors: list[str], files: TextFiles,
          id_column: str = "id") -> list[tuple[int, dict]]:
    file = path / name
    if not file.exists():
        return []
    rows = []
    try:
        records = list(files.records(file, errors))
    except UnreadableFile as exc:
        errors.append(str(exc))
        return []
    for line_no, record in records:
        if not (record.get(id_column) or "").strip():
            errors.append(f"{name} row {line_no}, field '{id_column}': is required")
            continue
        rows.append((line_no, record))
    return rows


_TIME = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m?\.?\s*$", re.I)


def normalize_time(text: str | None) -> str | None:
    """'9am', '4:00 PM', '08:00' -> 'HH:MM'. Unknown shapes are returned as given (the importer reports them)."""
    text = (text or "").strip()
    match = _TIME.match(text)
    if not match:
        return text or None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3).lower()
    if hour == 12:
        hour = 0
    if half == "p":
        hour += 12
    return f"{hour:02d}:{minute:02d}"


def _ohana_date(text: str) -> tuple[date | None, bool]:
    """Parse an Ohana date. Year 0001 means 'every year'; returns (date, recurring)."""
    text = (text or "").strip()
    for fmt in ("%B %d, %Y", "%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d"):
        try:
            # strptime cannot read year 1 with %Y padded as 0001 in every libc; handle it by hand.
            if text.endswith(", 0001"):
                month_day = datetime.strptime(text[:-6] + ", 2000", "%B %d, %Y").date()
                return month_day, True
            return datetime.strptime(text, fmt).date(), False
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date this importer understands")


def read_ohana(path: Path, warnings: list[str], files: TextFiles | None = None) -> list[Row]:
    """Turn an Ohana CSV folder into HSDS rows. Raises ImportFailed on unreadable rows."""
    errors: list[str] = []
    rows: list[Row] = []
    files = files or TextFiles()

    def emit(table: str, values: dict, source: str) -> None:
        rows.append(Row(table, values, source))

    # Organizations and programs
    for line, r in _read(path, "organizations.csv", errors, files):
        year = None
        if (r.get("date_incorporated") or "").strip():
            match = re.search(r"(\d{4})", r["date_incorporated"])
            year = match.group(1) if match else None
        emit("organization", {
            "id": ohana_id("organization", r["id"]), "name": r.get("name"), "alternate_name": r.get("alternate_name"),
            "description": r.get("description"), "email": r.get("email"), "website": r.get("website"),
            "tax_status": r.get("tax_status"), "tax_id": r.get("tax_id"), "year_incorporated": year,
            "legal_status": r.get("legal_status"),
        }, f"organizations.csv row {line}")
        for source in _split(r.get("funding_sources")):
            emit("funding", {"id": ohana_id("funding", f"org{r['id']}:{source}"),
                             "organization_id": ohana_id("organization", r["id"]), "source": source},
                 f"organizations.csv row {line}")
    for line, r in _read(path, "programs.csv", errors, files):
        emit("program", {"id": ohana_id("program", r["id"]), "organization_id": ohana_id("organization",
                                                                                        r.get("organization_id")),
                         "name": r.get("name"), "alternate_name": r.get("alternate_name"),
                         "description": r.get("name")}, f"programs.csv row {line}")

    # Locations, their addresses, languages, accessibility
    location_org: dict[str, str | None] = {}
    for line, r in _read(path, "locations.csv", errors, files):
        loc_id = ohana_id("location", r["id"])
        location_org[r["id"]] = ohana_id("organization", r.get("organization_id"))
        src = f"locations.csv row {line}"
        emit("location", {
            "id": loc_id, "organization_id": location_org[r["id"]], "name": r.get("name"),
            "alternate_name": r.get("alternate_name"), "description": r.get("description") or r.get("short_desc"),
            "transportation": r.get("transportation"), "latitude": r.get("latitude"),
            "longitude": r.get("longitude"), "url": r.get("website"),
            "location_type": "virtual" if (r.get("virtual") or "").lower() == "true" else "physical",
        }, src)
        for name in _split(r.get("languages")):
            emit("language", {"id": ohana_id("language", f"loc{r['id']}:{name}"), "location_id": loc_id,
                              "name": name, "code": LANGUAGE_CODES.get(name.lower())}, src)
        for feature in _split(r.get("accessibility")):
            emit("accessibility", {"id": ohana_id("accessibility", f"loc{r['id']}:{feature}"), "location_id": loc_id,
                                   "description": feature.replace("_", " ")}, src)
    for file, kind in (("addresses.csv", "physical"), ("mail_addresses.csv", "postal")):
        for line, r in _read(path, file, errors, files):
            emit("address", {
                "id": ohana_id(f"address:{kind}", r["id"]), "location_id": ohana_id("location", r.get("location_id")),
                "attention": r.get("attention"), "address_1": r.get("address_1"), "address_2": r.get("address_2"),
                "city": r.get("city"), "state_province": r.get("state_province"),
                "postal_code": r.get("postal_code"), "country": r.get("country") or "US", "address_type": kind,
            }, f"{file} row {line}")

    # Taxonomy (Open Eligibility) and the SDOH domains it maps onto
    taxonomy_rows = _read(path, "taxonomy.csv", errors, files, id_column="taxonomy_id")
    if taxonomy_rows:
        emit("taxonomy", {"id": OPEN_ELIGIBILITY_TAXONOMY_ID, "name": "Open Eligibility",
                          "description": "The Open Eligibility taxonomy of human services, as used by Ohana API.",
                          "uri": "https://github.com/auntbertha/openeligibility"}, "taxonomy.csv")
    for line, r in taxonomy_rows:
        emit("taxonomy_term", {
            "id": ohana_id("taxonomy_term", r["taxonomy_id"]), "code": r["taxonomy_id"], "name": r.get("name"),
            "description": r.get("name"), "parent_id": ohana_id("taxonomy_term", r.get("parent_id")),
            "taxonomy": "Open Eligibility", "taxonomy_id": OPEN_ELIGIBILITY_TAXONOMY_ID,
        }, f"taxonomy.csv row {line}")
    doc = sdoh.sdoh_document()
    for table, key in (("taxonomy", "taxonomies.csv"), ("taxonomy_term", "taxonomy_terms.csv")):
        for i, record in enumerate(doc[key]):
            emit(table, dict(record), f"seed_data/sdoh_domains.json {key}[{i}]")

    # Services, where they are offered, and what they need
    for line, r in _read(path, "services.csv", errors, files):
        src = f"services.csv row {line}"
        svc_id = ohana_id("service", r["id"])
        eligibility = r.get("eligibility") or ""
        if (r.get("audience") or "").strip():
            eligibility = (eligibility + "\n" if eligibility else "") + "Audience: " + r["audience"].strip()
        fees = r.get("fees") or ""
        if (r.get("accepted_payments") or "").strip():
            fees = (fees + " " if fees else "") + "Accepted payments: " + r["accepted_payments"].strip() + "."
        emit("service", {
            "id": svc_id, "organization_id": location_org.get(r.get("location_id") or ""),
            "program_id": ohana_id("program", r.get("program_id")), "name": r.get("name"),
            "alternate_name": r.get("alternate_name"), "description": r.get("description"),
            "url": r.get("website"), "email": r.get("email"), "status": r.get("status") or "active",
            "interpretation_services": r.get("interpretation_services"),
            "application_process": r.get("application_process"), "fees_description": fees,
            "wait_time": r.get("wait_time"), "eligibility_description": eligibility,
        }, src)
        if r.get("location_id"):
            emit("service_at_location", {"id": ohana_id("service_at_location", r["id"]), "service_id": svc_id,
                                         "location_id": ohana_id("location", r["location_id"])}, src)
        for name in _split(r.get("languages")):
            emit("language", {"id": ohana_id("language", f"svc{r['id']}:{name}"), "service_id": svc_id,
                              "name": name, "code": LANGUAGE_CODES.get(name.lower())}, src)
        for document in _split(r.get("required_documents")):
            emit("required_document", {"id": ohana_id("required_document", f"{r['id']}:{document}"),
                                       "service_id": svc_id, "document": document}, src)
        for area in _split(r.get("service_areas")):
            emit("service_area", {"id": ohana_id("service_area", f"{r['id']}:{area}"), "service_id": svc_id,
                                  "name": area, "extent_type": "text", "extent": area}, src)
        for source in _split(r.get("funding_sources")):
            emit("funding", {"id": ohana_id("funding", f"svc{r['id']}:{source}"), "service_id": svc_id,
                             "source": source}, src)
        codes = _split(r.get("taxonomy_ids"))
        for code in codes:
            emit("attribute", {"id": ohana_id("attribute", f"{r['id']}:oe:{code}"), "link_id": svc_id,
                               "link_entity": "service", "link_type": "taxonomy",
                               "taxonomy_term_id": ohana_id("taxonomy_term", code)}, src)
        for code in sdoh.classify(open_eligibility_codes=codes,
                                  keywords=" ".join([r.get("keywords") or "", r.get("name") or ""])):
            emit("attribute", {"id": ohana_id("attribute", f"{r['id']}:sdoh:{code}"), "link_id": svc_id,
                               "link_entity": "service", "link_type": "sdoh_domain",
                               "taxonomy_term_id": sdoh.sdoh_terms()[code]["id"]}, src)

    # Contacts and phones
    for line, r in _read(path, "contacts.csv", errors, files):
        emit("contact", {
            "id": ohana_id("contact", r["id"]), "location_id": ohana_id("location", r.get("location_id")),
            "organization_id": ohana_id("organization", r.get("organization_id")),
            "service_id": ohana_id("service", r.get("service_id")), "name": r.get("name"),
            "title": r.get("title"), "email": r.get("email"), "department": r.get("department"),
        }, f"contacts.csv row {line}")
    for line, r in _read(path, "phones.csv", errors, files):
        number = (r.get("number") or "").strip()
        if (r.get("country_prefix") or "").strip():
            number = f"{r['country_prefix'].strip()} {number}"
        description = "; ".join(p for p in [(r.get("department") or "").strip(),
                                            ("Vanity number " + r["vanity_number"].strip())
                                            if (r.get("vanity_number") or "").strip() else ""] if p)
        emit("phone", {
            "id": ohana_id("phone", r["id"]), "contact_id": ohana_id("contact", r.get("contact_id")),
            "location_id": ohana_id("location", r.get("location_id")),
            "organization_id": ohana_id("organization", r.get("organization_id")),
            "service_id": ohana_id("service", r.get("service_id")), "number": number,
            "extension": r.get("extension"), "type": r.get("number_type"), "description": description or None,
        }, f"phones.csv row {line}")

    # Schedules: weekly hours, and holiday closures as dated (or yearly) exceptions
    for line, r in _read(path, "regular_schedules.csv", errors, files):
        day = WEEKDAYS.get((r.get("weekday") or "").strip().lower())
        if day is None:
            errors.append(f"regular_schedules.csv row {line}, field 'weekday': {r.get('weekday')!r} is not a weekday")
            continue
        emit("schedule", {
            "id": ohana_id("schedule", r["id"]), "location_id": ohana_id("location", r.get("location_id")),
            "service_id": ohana_id("service", r.get("service_id")), "freq": "WEEKLY", "byday": day,
            "wkst": "MO", "opens_at": normalize_time(r.get("opens_at")),
            "closes_at": normalize_time(r.get("closes_at")), "timezone": -8,
            "description": f"{r['weekday'].strip().title()} {r.get('opens_at')}–{r.get('closes_at')}",
        }, f"regular_schedules.csv row {line}")
    for line, r in _read(path, "holiday_schedules.csv", errors, files):
        src = f"holiday_schedules.csv row {line}"
        try:
            start, yearly = _ohana_date(r.get("start_date"))
            end, _ = _ohana_date(r.get("end_date") or r.get("start_date"))
        except ValueError as exc:
            errors.append(f"{src}, field 'start_date': {exc}")
            continue
        closed = (r.get("closed") or "").strip().lower() == "true"
        span = start.strftime("%B %-d") + ("" if end == start else " to " + end.strftime("%B %-d"))
        if closed:
            text = f"Closed {span}" + (" every year" if yearly else f", {start.year}")
        else:
            text = f"Holiday hours {span}: {r.get('opens_at')}–{r.get('closes_at')}"
        values = {"id": ohana_id("holiday_schedule", r["id"]),
                  "location_id": ohana_id("location", r.get("location_id")),
                  "service_id": ohana_id("service", r.get("service_id")), "description": text,
                  "notes": "Holiday schedule", "timezone": -8}
        if not yearly:
            values.update(valid_from=start.isoformat(), valid_to=end.isoformat())
            if not closed:
                values.update(opens_at=normalize_time(r.get("opens_at")),
                              closes_at=normalize_time(r.get("closes_at")))
        emit("schedule", values, src)

    if errors:
        raise ImportFailed("The Ohana CSV files could not be read.", errors)
    return rows
