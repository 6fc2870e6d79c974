"""Directory search speed on synthetic Bay Area directories: the Whoosh search service vs SQLite FTS5 + R*Tree.

    .venv/bin/python bench/search_bench.py [--sizes 10000,50000] [--queries 200] [--quick] [--profile]
        [--database-url postgresql+psycopg://...] [--backend whoosh|postgres|both]

For each size it builds a temporary app (fresh SQLite database and search index in a temp folder,
`SEARCH_AUTO_INDEX` off), generates an HSDS 3.0 CSV package of N services (organizations with
1-4 sites at real Bay Area ZIP codes, each service at 1-2 of them, realistic names, descriptions,
eligibility, weekly schedules, languages, fees, ages and SDOH domain attributes), imports it with
the real importer, then:

1. builds the Whoosh index with `rebuild_index()` (seconds, docs/s);
2. runs a fixed, seeded query mix in three classes -- (a) text, (b) text + radius,
   (c) text + radius + domain + language + open now -- through the search service
   (`search(SearchQuery(...))`) and through HTTP (`GET /hsds/service_at_locations`, Flask test
   client; reported as not available when that endpoint does not answer 200);
3. builds the same documents into a SQLite FTS5 (porter) + R*Tree database and runs the same mix
   as the baseline;
4. with `--database-url postgresql+psycopg://...` (a scratch database: its schema is recreated),
   imports the same package into PostgreSQL, builds the postgres search backend's rows
   (`flask search reindex`'s path; then VACUUM ANALYZE, as autovacuum soon does) and runs the
   same mix through the search service with SEARCH_BACKEND=postgres, and again with one
   service's rows rewritten and committed before each query ("pg after commit");
5. prints p50/p95 latency per class and path, hit rates, and the Whoosh/FTS5 ratio.

`--backend` chooses what is measured beside the FTS5 baseline: `whoosh` (steps 1-2), `postgres`
(step 4 only, no Whoosh index built: needs `--database-url`) or `both`; by default Whoosh, and
PostgreSQL too when `--database-url` is given.

`--profile` also runs class (c) under cProfile at the largest size and prints the top functions.
Nothing outside the temp folder is written.
"""
from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import heapq
import io
import json
import math
import pstats
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import zipcodes

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from referralnet import create_app  # noqa: E402
from referralnet.directory import hours as hours_module  # noqa: E402
from referralnet.directory.hours import DAYS, build_hours, slot_name  # noqa: E402
from referralnet.directory.hsds import BY_NAME  # noqa: E402
from referralnet.directory.importer import import_path  # noqa: E402
from referralnet.directory.sdoh import DOMAINS_FILE, sdoh_terms  # noqa: E402
from referralnet.extensions import db  # noqa: E402

TARGET_P95_MS = 50.0
LOCAL_TZ = ZoneInfo("America/Los_Angeles")
BOX = (37.2, 38.0, -122.6, -121.8)  # lat min, lat max, lon min, lon max
EARTH_RADIUS_MILES = 3958.7613  # as referralnet.search.service
WARMUP = 5
DEFAULT_BUDGET_S = 30.0  # per class and path; a class that runs longer is cut short (and says so)

# --------------------------------------------------------------------------------------------
# Vocabulary. Each service kind: (SDOH domains, names, descriptions, eligibility profiles, hours style).
# --------------------------------------------------------------------------------------------

KINDS: list[tuple[list[str], list[str], list[str], list[str], str]] = [
    (["food-insecurity"],
     ["Food Pantry", "Community Food Pantry", "Emergency Food Pantry", "Choice Food Pantry", "Weekly Food Pantry",
      "Food Pantry and Produce Market"],
     ["Weekly food pantry with fresh produce, canned goods, rice, beans, bread and dairy. Bring your own bags.",
      "Client-choice food pantry: shop for groceries at no cost once a week. Fresh fruit and vegetables from local "
      "farms.",
      "Emergency food boxes and pantry staples for households facing hunger; same-day help for families in crisis."],
     ["all", "county", "lowincome"], "pantry"),
    (["food-insecurity"],
     ["Free Hot Meals", "Community Dining Room", "Free Lunch Program", "Soup Kitchen", "Free Dinner Program"],
     ["Free hot meals served to anyone who is hungry, no questions asked. Takeout available.",
      "Nutritious free meals served daily in a welcoming dining room; vegetarian option every day.",
      "Soup kitchen serving a free hot lunch; showers and a clothing closet on site."],
     ["all"], "meal"),
    (["food-insecurity", "financial-insecurity"],
     ["CalFresh Enrollment Help", "CalFresh Application Assistance", "Food Stamps (CalFresh) Outreach"],
     ["Help applying for CalFresh (SNAP, food stamps) and using your EBT card. Bring ID and proof of income.",
      "Benefits counselors screen you for CalFresh food assistance and help you apply online in one visit."],
     ["lowincome", "county"], "office"),
    (["food-insecurity", "social-connection"],
     ["Home-Delivered Meals", "Meals on Wheels", "Senior Meal Delivery"],
     ["Home delivered meals for homebound seniors and adults with disabilities, delivered by friendly volunteers.",
      "Meals on Wheels brings a hot meal and a wellness check to older adults who cannot shop or cook."],
     ["seniors"], "office"),
    (["food-insecurity"],
     ["WIC Nutrition Program", "WIC Women, Infants and Children"],
     ["WIC provides healthy food, nutrition education and breastfeeding support for pregnant people, new parents, "
      "infants and children under 5."],
     ["children"], "clinic"),
    (["food-insecurity"],
     ["Mobile Food Distribution", "Neighborhood Grocery Distribution", "Senior Brown Bag Groceries"],
     ["Monthly food distribution of free groceries from the food bank truck; drive-through and walk-up lines.",
      "Free groceries for seniors: a bag of produce, protein and pantry staples twice a month."],
     ["all", "seniors", "lowincome"], "pantry"),
    (["housing-instability", "financial-insecurity"],
     ["Rental Assistance", "Emergency Rental Assistance", "Rent Relief Program", "Back Rent Assistance"],
     ["One-time rental assistance for tenants behind on rent; we pay the landlord directly to prevent eviction.",
      "Emergency rent assistance and move-in deposits for low-income renters facing a housing crisis."],
     ["tenants", "lowincome", "county"], "office"),
    (["housing-instability"],
     ["Eviction Prevention Program", "Tenant Rights Counseling", "Housing Search Assistance",
      "Affordable Housing Navigation"],
     ["Eviction prevention: case management, mediation with landlords and rental assistance for households at "
      "risk.",
      "Housing counselors help you search for affordable housing, apply for subsidized housing and Section 8 "
      "vouchers.",
      "Know your tenant rights: counseling on rent increases, repairs, habitability and eviction notices."],
     ["tenants", "lowincome", "all"], "office"),
    (["homelessness"],
     ["Emergency Shelter", "Shelter Beds for Adults", "Family Shelter", "Winter Shelter", "Navigation Center"],
     ["Emergency shelter beds for adults experiencing homelessness: meals, showers, lockers and case management.",
      "Family shelter with private rooms for parents with children; help finding permanent housing.",
      "Navigation center offering shelter beds, housing navigation and help with benefits, 24 hours a day."],
     ["homeless", "families"], "shelter"),
    (["homelessness"],
     ["Drop-In Center", "Safe Parking Program", "Homeless Outreach Team", "Day Center with Showers"],
     ["Drop-in center for people who are homeless: showers, laundry, mail, phone charging and a hot breakfast.",
      "Safe parking program for people living in their cars, with restrooms and case management overnight.",
      "Street outreach workers connect unsheltered neighbors to shelter, health care and housing."],
     ["homeless", "all"], "office"),
    (["inadequate-housing"],
     ["Home Repair Program", "Weatherization Program", "Healthy Homes Repairs"],
     ["Free home repair for low-income homeowners and seniors: roofs, plumbing, accessibility ramps and grab bars.",
      "Weatherization and energy efficiency upgrades that lower your utility bill and fix drafts, mold and leaks."],
     ["lowincome", "seniors"], "office"),
    (["transportation-insecurity"],
     ["Medical Transportation", "Rides to Medical Appointments", "Volunteer Driver Program", "Paratransit Service"],
     ["Free medical transportation: door-to-door rides to doctor appointments, dialysis and the pharmacy.",
      "Volunteer drivers give seniors rides to medical appointments, grocery shopping and errands.",
      "Paratransit for people with disabilities who cannot ride the bus; schedule your ride a day ahead."],
     ["seniors", "disabled", "all"], "office"),
    (["transportation-insecurity"],
     ["Discount Transit Pass", "Bus Pass Program", "Clipper Card Assistance"],
     ["Free and discounted bus passes and Clipper transit cards for low-income riders, students and job seekers."],
     ["lowincome", "youth", "jobseekers"], "office"),
    (["utility-insecurity", "financial-insecurity"],
     ["Utility Bill Help", "Energy Assistance (LIHEAP)", "PG&E Bill Assistance", "Water Bill Assistance"],
     ["Help paying your utility bill: one-time payments toward PG&E electric and gas bills through LIHEAP energy "
      "assistance.",
      "Utility assistance to stop a shut off: help with past-due electric, gas and water bills.",
      "Energy assistance program (LIHEAP) pays part of your heating and electric bill once a year."],
     ["lowincome", "county"], "office"),
    (["utility-insecurity", "digital-access"],
     ["Lifeline Phone Assistance"],
     ["Enroll in Lifeline for a free or discounted phone and monthly phone bill help."],
     ["lowincome"], "office"),
    (["financial-insecurity"],
     ["Emergency Cash Assistance", "Free Tax Preparation (VITA)", "Financial Coaching", "Benefits Enrollment Clinic"],
     ["Emergency financial assistance for a one-time crisis: car repair, medical bills or a security deposit.",
      "Free tax preparation by IRS-certified volunteers (VITA); claim the earned income tax credit.",
      "One-on-one financial coaching: budgeting, credit repair, debt and saving for emergencies."],
     ["lowincome", "all"], "office"),
    (["employment-status"],
     ["Job Training", "Job Training and Placement", "Construction Pre-Apprenticeship", "Culinary Job Training",
      "Youth Employment Program"],
     ["Paid job training and placement in health care, logistics and the trades, with job search support.",
      "Job training program with hands-on classes, certifications and help finding work after you graduate.",
      "Youth employment: paid internships, resume help and job training for young adults."],
     ["jobseekers", "youth", "adults"], "class"),
    (["employment-status"],
     ["Career Center", "Job Search Help", "Resume Workshop", "Workforce Development Center"],
     ["Job search help: resume writing, interview practice, computer access and job listings at the career center.",
      "Workshops on resumes, cover letters and online job applications; employment counselors by appointment."],
     ["jobseekers", "all"], "office"),
    (["educational-attainment", "language-access"],
     ["ESL Classes", "English as a Second Language", "English Classes for Adults", "Conversational English Class"],
     ["Free ESL classes (English as a second language) for adults at beginning, intermediate and advanced levels.",
      "Learn English: evening and weekend English classes, citizenship preparation and conversation groups."],
     ["adults", "immigrants"], "class"),
    (["educational-attainment"],
     ["GED Preparation", "High School Equivalency Program", "Adult Literacy Tutoring", "Adult School"],
     ["GED and high school equivalency test preparation with free tutoring and practice tests.",
      "Adult literacy: one-on-one tutoring to learn to read and write, and adult education classes."],
     ["adults", "youth"], "class"),
    (["health-insurance-coverage-status"],
     ["Medi-Cal Enrollment", "Health Insurance Enrollment", "Covered California Enrollment Help"],
     ["Certified enrollment counselors help you apply for Medi-Cal and Covered California health insurance.",
      "Free help getting health insurance: Medi-Cal, Medicare and Covered California plans, in your language."],
     ["uninsured", "all", "immigrants"], "office"),
    (["medical-cost-burden", "health-insurance-coverage-status"],
     ["Free Clinic", "Community Health Clinic", "Dental Clinic", "Prescription Assistance"],
     ["Free clinic for uninsured adults: primary care, chronic disease care and prescriptions on a sliding scale.",
      "Community dental clinic with sliding scale fees: cleanings, fillings and extractions.",
      "Prescription assistance: help paying for medication through discount and manufacturer programs."],
     ["uninsured", "lowincome"], "clinic"),
    (["legal-needs"],
     ["Legal Aid Clinic", "Free Legal Services", "Legal Aid Society Walk-In Clinic", "Self-Help Legal Center"],
     ["Legal aid clinic: free legal advice from attorneys on housing, family law, debt and public benefits.",
      "Free legal services for low-income residents, including consultations and full representation."],
     ["lowincome", "all"], "office"),
    (["legal-needs", "housing-instability"],
     ["Eviction Defense", "Tenant Legal Services"],
     ["Eviction defense attorneys represent tenants who received an eviction notice or unlawful detainer.",
      "Legal aid for tenants: eviction defense, rent increase disputes and repairs."],
     ["tenants"], "office"),
    (["legal-needs"],
     ["Immigration Legal Services", "DACA Renewal Clinic", "Citizenship Workshop", "Record Clearance (Expungement)"],
     ["Immigration legal services: consultations, DACA renewals, citizenship applications and family petitions.",
      "Free citizenship workshops and immigration legal help from accredited representatives.",
      "Clean slate clinic: expungement and record clearance so a past conviction does not block jobs or housing."],
     ["immigrants", "adults"], "office"),
    (["intimate-partner-violence"],
     ["Domestic Violence Hotline", "Safe House for Survivors", "Restraining Order Assistance",
      "Domestic Violence Counseling"],
     ["24-hour domestic violence hotline, emergency safe house, safety planning and counseling for survivors.",
      "Confidential shelter for survivors of domestic violence and their children; help with restraining orders.",
      "Counseling and support groups for survivors of intimate partner violence and abuse."],
     ["survivors"], "hotline"),
    (["elder-abuse"],
     ["Adult Protective Services", "Long-Term Care Ombudsman", "Senior Abuse Prevention"],
     ["Report elder abuse, neglect or financial exploitation of seniors and dependent adults; 24-hour line.",
      "The ombudsman investigates complaints and advocates for residents of nursing homes and assisted living."],
     ["seniors"], "hotline"),
    (["social-connection"],
     ["Senior Center", "Peer Support Group", "Friendly Visitor Program", "Community Center Activities"],
     ["Senior center with lunch, exercise classes, social activities and help for older adults living alone.",
      "Friendly visitors and phone buddies for lonely seniors; peer support groups every week."],
     ["seniors", "all"], "office"),
    (["stress"],
     ["Counseling Services", "Mental Health Counseling", "Crisis Line", "Support Groups", "Family Counseling"],
     ["Individual and family counseling for stress, anxiety and depression; sliding scale fees.",
      "Mental health services: therapy, psychiatry referrals and support groups in several languages.",
      "Crisis line answered 24 hours a day by trained counselors; no one is turned away."],
     ["all", "adults", "youth"], "clinic"),
    (["digital-access"],
     ["Free Internet and Hotspot Lending", "Low-Cost Internet Enrollment", "Public Computer Lab"],
     ["Borrow a free wifi hotspot and laptop, and get help enrolling in low-cost internet plans.",
      "Public computer lab with free internet access, printing and help from staff."],
     ["all", "lowincome"], "office"),
    (["digital-literacy"],
     ["Computer Classes", "Digital Skills Workshop", "Computer Basics for Seniors"],
     ["Free computer classes: email, internet safety, video calls and online job applications.",
      "Digital literacy workshops for seniors and beginners, one-on-one tech help."],
     ["all", "seniors"], "class"),
    (["material-hardship"],
     ["Diaper Bank", "Clothing Closet", "Baby Supplies Program", "Back-to-School Backpacks"],
     ["Free diapers, wipes and baby supplies for families with infants and toddlers.",
      "Clothing closet with free clothes, shoes and coats for children and adults; hygiene kits available."],
     ["families", "all", "lowincome"], "pantry"),
    (["veteran-status"],
     ["Veterans Services Office", "Veterans Housing Program"],
     ["Help for veterans applying for VA benefits, health care and housing; referrals to job training."],
     ["veterans"], "office"),
]

# Organization name parts per domain: several agencies per domain, plus multi-service agencies.
ORG_WORDS = {
    "food-insecurity": ["Food Bank", "Community Kitchen", "Hunger Network", "Pantry Collective"],
    "housing-instability": ["Housing Partners", "Tenant Council", "Housing Alliance"],
    "homelessness": ["Shelter Network", "Homeless Services", "Bridge Housing"],
    "inadequate-housing": ["Rebuilding Together", "Home Repair Partners"],
    "transportation-insecurity": ["Senior Transit", "Rides Program", "Mobility Partners"],
    "utility-insecurity": ["Energy Assistance Center", "Community Action Agency"],
    "financial-insecurity": ["Economic Opportunity Center", "Community Action Agency"],
    "employment-status": ["Workforce Center", "Job Corps", "Career Pathways"],
    "educational-attainment": ["Adult School", "Literacy Project", "Learning Center"],
    "health-insurance-coverage-status": ["Health Access", "Community Health Center"],
    "medical-cost-burden": ["Free Clinic", "Community Health Center", "Dental Alliance"],
    "legal-needs": ["Legal Aid Society", "Law Center", "Immigrant Legal Resource Center"],
    "intimate-partner-violence": ["Safe Harbor", "Domestic Violence Services", "Women's Refuge"],
    "elder-abuse": ["Aging and Adult Services", "Ombudsman Program"],
    "social-connection": ["Senior Services", "Community Center", "Peer Network"],
    "stress": ["Counseling Center", "Behavioral Health", "Family Service Agency"],
    "digital-access": ["Digital Equity Project", "Tech Exchange"],
    "digital-literacy": ["Digital Equity Project", "Public Library"],
    "material-hardship": ["Family Resource Center", "Diaper Bank", "Share Closet"],
    "veteran-status": ["Veterans Alliance", "Veterans Services"],
}
MULTI_ORG = ["Catholic Charities", "Salvation Army", "Family Resource Center", "Community Services Agency",
             "St. Vincent de Paul Society", "YMCA", "Jewish Family and Community Services", "Community Action Partnership"]
REGIONS = ["Peninsula", "East Bay", "South Bay", "Mission", "Fruitvale", "Bayview", "Tri-Valley", "Silicon Valley",
           "Coastside", "North Fair Oaks", "Tenderloin", "Marin", "Contra Costa", "Alameda County", "San Mateo County",
           "Santa Clara County", "Sunnyvale", "Redwood City", "Daly City", "Richmond", "Hayward", "San Leandro"]

ELIGIBILITY = {
    "all": ("Open to everyone; no documentation required.", None, None),
    "county": ("Residents of {county}. Bring proof of address if you have it.", None, None),
    "lowincome": ("Low-income households at or below 200% of the federal poverty level; bring proof of income.",
                  None, None),
    "seniors": ("Older adults age 60 and over.", 60, None),
    "adults": ("Adults 18 and older.", 18, None),
    "youth": ("Youth and young adults ages 16 to 24.", 16, 24),
    "families": ("Families with children under 18.", None, None),
    "children": ("Pregnant people, new parents and children under 5 in low-income households.", 0, 5),
    "homeless": ("Adults 18 and older experiencing homelessness.", 18, None),
    "veterans": ("Veterans of any era and their families; bring your DD-214 if you have it.", None, None),
    "survivors": ("Survivors of domestic violence and their children; services are confidential.", None, None),
    "tenants": ("Tenants facing eviction or behind on rent; bring your lease and any notices.", 18, None),
    "disabled": ("Seniors 65 and older and adults with disabilities who cannot use fixed-route transit.", None, None),
    "immigrants": ("Immigrants of any status; services are confidential.", None, None),
    "uninsured": ("Uninsured or underinsured residents; sliding scale by income.", None, None),
    "jobseekers": ("Job seekers 18 and older who are unemployed or underemployed.", 18, None),
}
GENERIC = ["Walk-ins welcome during open hours.", "Call ahead to make an appointment.",
           "Staff speak English and Spanish; interpreters available on request.",
           "Wheelchair accessible; parking and bus lines nearby.", "Bring a photo ID if you have one.",
           "Services are free and confidential.", "Case managers can help with referrals to other programs.",
           "Serving {city} and nearby neighborhoods since 1985.", "Text or call for same-week appointments.",
           "Virtual appointments available by phone or video.", "Open to residents of {county}."]
APPLY = ["Walk in during open hours.", "Call to schedule an intake appointment.", "Apply online or by phone.",
         "Ask your case manager or clinic for a referral.", "Come in person with ID and proof of address."]
STREETS = ["El Camino Real", "Mission St", "International Blvd", "Middlefield Rd", "San Pablo Ave", "Santa Clara St",
           "Broadway", "Market St", "University Ave", "Foothill Blvd", "MacArthur Blvd", "Alum Rock Ave",
           "Geary Blvd", "Telegraph Ave", "Bayshore Blvd", "Main St", "Grand Ave", "Story Rd", "Hesperian Blvd",
           "Mission Blvd", "Castro St", "Woodside Rd", "Fremont Blvd", "Capitol Expy", "Valencia St"]
LANGUAGES = [("en", "English", 0.95), ("es", "Spanish", 0.6), ("zh", "Chinese", 0.2), ("vi", "Vietnamese", 0.12),
             ("tl", "Tagalog", 0.12), ("ko", "Korean", 0.05), ("ru", "Russian", 0.04), ("fa", "Persian", 0.03),
             ("ar", "Arabic", 0.03)]
HOLIDAYS = ["2026-01-01", "2026-05-25", "2026-07-04", "2026-09-07", "2026-11-26", "2026-12-25"]

# The query mix: (text, the SDOH domain a coordinator would pick with it).
QUERY_TEXTS = [
    ("food pantry", "food-insecurity"), ("rent help", "housing-instability"), ("shelter", "homelessness"),
    ("legal aid", "legal-needs"), ("job training", "employment-status"),
    ("ride to the doctor", "transportation-insecurity"), ("utility bill help", "utility-insecurity"),
    ("esl classes", "educational-attainment"), ("free meals", "food-insecurity"), ("eviction", "legal-needs"),
    ("counseling", "stress"), ("diapers", "material-hardship"),
    ("health insurance", "health-insurance-coverage-status"), ("internet", "digital-access"),
    ("domestic violence", "intimate-partner-violence"), ("tax preparation", "financial-insecurity"),
    ("senior center", "social-connection"), ("food stamps", "food-insecurity"),
    ("bus pass", "transportation-insecurity"), ("electric bill", "utility-insecurity"),
    ("homeless", "homelessness"), ("resume", "employment-status"), ("ged", "educational-attainment"),
    ("immigration", "legal-needs"), ("dental clinic", "medical-cost-burden"), ("home repair", "inadequate-housing"),
    ("clothing", "material-hardship"), ("computer classes", "digital-literacy"), ("mental health", "stress"),
    ("medi-cal", "health-insurance-coverage-status"), ("hot meal", "food-insecurity"),
    ("rental assistance", "housing-instability"), ("medical transportation", "transportation-insecurity"),
    ("veterans", "veteran-status"),
]
QUERY_LANGUAGES = [("es", 0.6), ("spanish", 0.1), ("zh", 0.15), ("vi", 0.1), ("tl", 0.05)]


def bay_area_zips() -> list[dict]:
    out = []
    for r in zipcodes.filter_by(state="CA"):
        if r["zip_code_type"] == "STANDARD" and r.get("active", True) and r["lat"]:
            lat, lon = float(r["lat"]), float(r["long"])
            if BOX[0] <= lat <= BOX[1] and BOX[2] <= lon <= BOX[3]:
                out.append({"zip": r["zip_code"], "city": r["city"], "county": r["county"], "lat": lat, "lon": lon})
    return sorted(out, key=lambda z: z["zip"])


# --------------------------------------------------------------------------------------------
# Synthetic HSDS package
# --------------------------------------------------------------------------------------------

def _hours(rng: random.Random, style: str) -> list[tuple[str, str, str]]:
    """Weekly schedule rows (byday, opens_at, closes_at) in one of the realistic patterns for `style`."""
    wk = "MO,TU,WE,TH,FR"
    if rng.random() < 0.02:
        return []  # hours unknown
    if style == "hotline" or (style == "shelter" and rng.random() < 0.4) or rng.random() < 0.04:
        return [("MO,TU,WE,TH,FR,SA,SU", "00:00", "23:59")]  # 24/7
    if style == "shelter":
        return [("MO,TU,WE,TH,FR,SA,SU", rng.choice(["17:00", "18:00", "19:00"]), rng.choice(["07:00", "08:00"]))]
    if style == "meal":
        rows = [(rng.choice([wk, "MO,TU,WE,TH,FR,SA", "MO,TU,WE,TH,FR,SA,SU"]),
                 rng.choice(["11:00", "11:30"]), rng.choice(["13:30", "14:00"]))]
        if rng.random() < 0.4:
            rows.append((rng.choice([wk, "MO,WE,FR"]), "17:00", "19:00"))
        return rows
    if style == "pantry":
        days = ",".join(sorted(rng.sample(DAYS[:6], rng.randint(1, 3)), key=DAYS.index))
        start = rng.choice(["09:00", "10:00", "13:00", "15:00"])
        end = {"09:00": "12:00", "10:00": "14:00", "13:00": "16:00", "15:00": "19:00"}[start]
        return [(days, start, end)]
    if style == "class":
        pattern = rng.random()
        if pattern < 0.4:
            return [(rng.choice(["MO,WE", "TU,TH", "MO,TU,WE,TH"]), "18:00", "21:00")]  # evenings
        if pattern < 0.6:
            return [("SA", "09:00", "13:00")] + ([("SU", "10:00", "14:00")] if rng.random() < 0.5 else [])
        return [(wk, rng.choice(["08:30", "09:00"]), rng.choice(["15:00", "16:00"]))]
    if style == "clinic":
        rows = [(wk, rng.choice(["08:00", "08:30", "09:00"]), rng.choice(["17:00", "17:30"]))]
        if rng.random() < 0.3:
            rows.append(("TU,TH", "17:30", "20:00"))
        if rng.random() < 0.25:
            rows.append(("SA", "09:00", "13:00"))
        return rows
    # office
    pattern = rng.random()
    if pattern < 0.55:
        return [(wk, rng.choice(["08:00", "08:30", "09:00"]), rng.choice(["16:30", "17:00", "17:30"]))]
    if pattern < 0.7:
        return [(wk, "09:00", "17:00"), ("SA", "10:00", "14:00")]
    if pattern < 0.82:
        return [("MO,WE,FR", "10:00", "14:00")]
    if pattern < 0.92:
        return [("TU,TH", "13:00", "19:00")]
    return [("MO,TU,WE,TH", "12:00", "20:00")]


@dataclass
class Package:
    rows: dict[str, list[dict]]
    not_accepting: list[str]
    confidential_locations: list[str]

    @property
    def row_count(self) -> int:
        return sum(len(v) for v in self.rows.values())


def generate(services: int, zips: list[dict], seed: int) -> Package:
    rng = random.Random(seed)
    ident = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
    terms = sdoh_terms()
    tables = ["organization", "service", "location", "service_at_location", "address", "phone", "schedule",
              "language", "attribute", "cost_option"]
    rows: dict[str, list[dict]] = {t: [] for t in tables}
    not_accepting: list[str] = []
    confidential: list[str] = []
    kinds_by_domain: dict[str, list[int]] = {}
    for i, kind in enumerate(KINDS):
        kinds_by_domain.setdefault(kind[0][0], []).append(i)
    domains = sorted(kinds_by_domain)

    n_orgs = max(3, services // 8)
    orgs = []
    used_names: set[str] = set()
    for o in range(n_orgs):
        oid = ident()
        if rng.random() < 0.2:
            primary = None
            base = rng.choice(MULTI_ORG)
        else:
            primary = rng.choice(domains)
            base = rng.choice(ORG_WORDS[primary])
        name = f"{rng.choice(REGIONS)} {base}"
        if name in used_names:
            name = f"{name} {rng.choice(['North', 'South', 'Central', 'West', 'East'])} {o}"
        used_names.add(name)
        home = rng.choice(zips)
        sites = []
        for _ in range(rng.choices([1, 2, 3, 4], [35, 35, 20, 10])[0]):
            z = home if not sites or rng.random() < 0.5 else rng.choice(zips)
            lid = ident()
            lat = min(BOX[1], max(BOX[0], z["lat"] + rng.gauss(0, 0.008)))
            lon = min(BOX[3], max(BOX[2], z["lon"] + rng.gauss(0, 0.008)))
            rows["location"].append({"id": lid, "organization_id": oid, "location_type": "physical",
                                     "name": f"{name} – {z['city'].title()}", "latitude": f"{lat:.6f}",
                                     "longitude": f"{lon:.6f}"})
            rows["address"].append({"id": ident(), "location_id": lid,
                                    "address_1": f"{rng.randint(10, 4999)} {rng.choice(STREETS)}",
                                    "city": z["city"].title(), "state_province": "CA", "postal_code": z["zip"],
                                    "country": "US", "address_type": "physical"})
            sites.append((lid, z))
            if primary == "intimate-partner-violence" and rng.random() < 0.5:
                confidential.append(lid)
        rows["organization"].append({"id": oid, "name": name,
                                     "description": f"{name} serves {home['county']} residents.",
                                     "email": f"info@{name.lower().replace(' ', '').replace('.', '')[:20]}.org"})
        orgs.append((oid, name, primary, sites))

    for i in range(services):
        oid, org_name, primary, sites = orgs[i % n_orgs] if i < n_orgs else rng.choice(orgs)
        domain = primary if primary and rng.random() < 0.75 else rng.choice(domains)
        kind_domains, names, descriptions, elig_keys, style = KINDS[rng.choice(kinds_by_domain[domain])]
        sid = ident()
        z = sites[0][1]
        city, county = z["city"].title(), z["county"]
        name = rng.choice(names)
        if rng.random() < 0.25:
            name = f"{city} {name}"
        elig_text, min_age, max_age = ELIGIBILITY[rng.choice(elig_keys)]
        desc = [rng.choice(descriptions)] + [s.format(city=city, county=county)
                                             for s in rng.sample(GENERIC, rng.randint(1, 3))]
        fee = rng.random()
        service = {"id": sid, "organization_id": oid, "name": name, "description": " ".join(desc),
                   "status": "active", "application_process": rng.choice(APPLY),
                   "eligibility_description": elig_text.format(county=county),
                   "minimum_age": "" if min_age is None else str(min_age),
                   "maximum_age": "" if max_age is None else str(max_age),
                   "assured_date": (date(2026, 10, 1) - timedelta(days=rng.randint(0, 540))).isoformat()}
        if fee < 0.35:
            service["fees_description"] = rng.choice(["Free", "Free of charge", "No cost"])
        elif fee < 0.55:
            rows["cost_option"].append({"id": ident(), "service_id": sid, "option": "Free", "currency": "USD",
                                        "amount": "0"})
        elif fee < 0.85:
            service["fees_description"] = rng.choice(["Sliding scale based on income.", "$10 per visit",
                                                      "$25 registration fee; scholarships available."])
            rows["cost_option"].append({"id": ident(), "service_id": sid, "option": "Sliding scale",
                                        "currency": "USD", "amount": str(rng.choice([5, 10, 20, 25, 40]))})
        rows["service"].append(service)
        if rng.random() < 0.1:
            not_accepting.append(sid)
        here = [sites[0]] if len(sites) == 1 or rng.random() < 0.55 else rng.sample(sites, 2)
        for lid, _ in here:
            rows["service_at_location"].append({"id": ident(), "service_id": sid, "location_id": lid})
        rows["phone"].append({"id": ident(), "service_id": sid,
                              "number": f"{rng.choice(['415', '510', '650', '408', '925'])}-555-{i % 10000:04d}"})
        for byday, opens, closes in _hours(rng, style):
            rows["schedule"].append({"id": ident(), "service_id": sid, "freq": "WEEKLY", "byday": byday,
                                     "opens_at": opens, "closes_at": closes})
        if rng.random() < 0.1:  # a holiday closure: makes the service's hours need the exact open-now check
            day = rng.choice(HOLIDAYS)
            rows["schedule"].append({"id": ident(), "service_id": sid, "valid_from": day, "valid_to": day,
                                     "description": "Closed for the holiday"})
        for code, lang_name, p in LANGUAGES:
            if rng.random() < p:
                rows["language"].append({"id": ident(), "service_id": sid, "name": lang_name, "code": code})
        for d in kind_domains[:1] + [d for d in kind_domains[1:] if rng.random() < 0.6]:
            rows["attribute"].append({"id": ident(), "link_id": sid, "link_entity": "service",
                                      "taxonomy_term_id": terms[d]["id"]})
    return Package(rows, not_accepting, confidential)


def write_package(pkg: Package, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in pkg.rows.items():
        table = BY_NAME[name]
        with (folder / table.csv_file).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=table.field_names)
            writer.writeheader()
            writer.writerows(records)


def load_directory(pkg: Package, folder: Path) -> None:
    """SDOH taxonomy first, then the package, then our non-HSDS columns (not in HSDS CSV) with plain UPDATEs."""
    from sqlalchemy import text

    import_path(DOMAINS_FILE)
    db.session.commit()
    write_package(pkg, folder)
    import_path(folder)
    db.session.commit()
    if pkg.not_accepting:
        db.session.execute(text("UPDATE service SET accepting_referrals = :f WHERE id = :id"),
                           [{"f": False, "id": i} for i in pkg.not_accepting])
    if pkg.confidential_locations:
        db.session.execute(text("UPDATE location SET address_confidential = :t WHERE id = :id"),
                           [{"t": True, "id": i} for i in pkg.confidential_locations])
    db.session.commit()


# --------------------------------------------------------------------------------------------
# The query mix
# --------------------------------------------------------------------------------------------

@dataclass
class Q:
    cls: str  # "a", "b", "c"
    text: str
    near: str | None = None  # ZIP or "lat,lon"
    zip: str | None = None  # the ZIP for the HTTP path (HSDS API takes postcode + proximity)
    radius: float | None = None
    domain: str | None = None
    language: str | None = None
    now: datetime | None = None


def _weighted(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def _query_now(rng: random.Random) -> datetime:
    """A 'now' in a fixed week of March 2026 (no holidays), mostly weekday business hours."""
    monday = date(2026, 3, 9)
    r = rng.random()
    if r < 0.7:
        day, minute = rng.randint(0, 4), rng.randint(9 * 60, 16 * 60 + 45)
    elif r < 0.85:
        day, minute = rng.randint(0, 4), rng.randint(17 * 60, 20 * 60 + 45)
    elif r < 0.95:
        day, minute = 5, rng.randint(10 * 60, 15 * 60)
    else:
        day, minute = rng.randint(0, 6), rng.randint(22 * 60, 23 * 60 + 30)
    local = datetime(2026, 3, 9 + day, minute // 60, minute % 60, tzinfo=LOCAL_TZ)
    assert local.date() - monday == timedelta(days=day)
    return local.astimezone(timezone.utc)


def make_queries(n: int, zips: list[dict], seed: int) -> dict[str, list[Q]]:
    rng = random.Random(seed * 1000 + 17)
    out: dict[str, list[Q]] = {"a": [], "b": [], "c": []}
    for cls in out:
        for _ in range(n + WARMUP):
            text, domain = rng.choice(QUERY_TEXTS)
            q = Q(cls, text)
            if cls in ("b", "c"):
                z = rng.choice(zips)
                q.zip = z["zip"]
                if rng.random() < 0.5:
                    q.near = z["zip"]
                else:
                    q.near = f"{z['lat'] + rng.uniform(-0.01, 0.01):.5f},{z['lon'] + rng.uniform(-0.01, 0.01):.5f}"
                q.radius = float(rng.choice([2, 3, 5, 5, 8, 10, 10]))
            if cls == "c":
                q.domain = domain
                q.language = _weighted(rng, QUERY_LANGUAGES)
                q.now = _query_now(rng)
            out[cls].append(q)
    return out


# --------------------------------------------------------------------------------------------
# Paths: the search service, HTTP, and the FTS5 + R*Tree baseline
# --------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    ms: float
    total: int | None
    status: int | None = None


def search_query(q: Q):
    from referralnet.search.service import SearchQuery

    return SearchQuery(text=q.text, near=q.near, radius_miles=q.radius, domains=[q.domain] if q.domain else [],
                       language=q.language, open_now=q.now is not None, now=q.now)


def run_service(q: Q) -> Outcome:
    from referralnet.search.service import search

    start = time.perf_counter()
    results = search(search_query(q))
    ms = (time.perf_counter() - start) * 1000
    return Outcome(ms, results.total)


def run_service_cold(q: Q) -> Outcome:
    """The service with nothing cached: the searcher's in-memory postings, rankings and parsed queries are
    dropped before the query (as after a commit that changed the index), so every term is read from disk."""
    from referralnet.search.engine import clear_caches
    from referralnet.search.index import searcher

    s = searcher()
    if hasattr(s, "_referralnet_snapshot"):
        del s._referralnet_snapshot
    clear_caches()  # the per-segment postings, columns and field lengths too
    return run_service(q)


class AfterCommit:
    """The service right after a commit: before each query (untimed), one random service is re-indexed
    through the real update path (`update_services`, what the commit hook calls), which makes a new index
    generation (a new small segment, one deletion in an old one). Only the query is timed."""

    def __init__(self, service_ids: list[str], seed: int):
        self.ids = service_ids
        self.rng = random.Random(seed)

    def __call__(self, q: Q) -> Outcome:
        from referralnet.search.index import update_services

        update_services([self.rng.choice(self.ids)])
        return run_service(q)


def http_params(q: Q) -> dict:
    """HSDS API parameters: search, postcode, proximity (meters), taxonomy_term_id. The HSDS API has no
    language or open-now parameter, so class (c) over HTTP is text + radius + domain only."""
    params = {"search": q.text, "per_page": 20}
    if q.radius:
        params["postcode"] = q.zip
        params["proximity"] = str(round(q.radius * 1609.344))
    if q.domain:
        params["taxonomy_term_id"] = sdoh_terms()[q.domain]["id"]
    return params


def run_http(client, q: Q) -> Outcome:
    start = time.perf_counter()
    resp = client.get("/hsds/service_at_locations", query_string=http_params(q))
    ms = (time.perf_counter() - start) * 1000
    total = None
    if resp.status_code == 200:
        try:
            total = int((resp.get_json(silent=True) or {}).get("total_items"))
        except (TypeError, ValueError):
            total = None
    return Outcome(ms, total, resp.status_code)


def probe_http(app) -> tuple[bool, str]:
    client = app.test_client()
    try:
        resp = client.get("/hsds/service_at_locations", query_string={"search": "food pantry", "per_page": 1})
    except Exception as exc:  # noqa: BLE001 - the endpoint is being built in parallel; report, do not fail
        return False, f"endpoint not available yet ({type(exc).__name__}: {exc})"
    if resp.status_code != 200:
        return False, f"endpoint not available yet (GET /hsds/service_at_locations -> {resp.status_code})"
    body = resp.get_json(silent=True)
    if not isinstance(body, dict) or "contents" not in body:
        return False, "endpoint answers 200 but not an HSDS page ({total_items, contents})"
    return True, "ok"


class FtsBaseline:
    """The same documents in SQLite: FTS5 (porter) + R*Tree + small side tables, queried with the same mix.

    Equivalent in spirit to the search service: the same query plan (lexicon terms, any clause),
    bm25 with the same field weights; radius = R*Tree box then exact great-circle distance in SQL;
    language filter as an indexed side table, domains as a column (facets count every candidate,
    the domain filter is applied after them, as the service's facets leave it out); open now via
    precomputed weekly open spans (merged from the same hours.SLOT_MINUTES slots the Whoosh index
    holds) plus the same exact check for places with holiday exceptions. Each query returns a page
    of 20 (cards decoded), the exact total and the domain facets.
    """

    WEIGHTS = "3.0, 1.5, 2.0, 1.0, 1.0"  # name, organization, terms, description, eligibility (schema boosts)

    def __init__(self, path: Path):
        self.con = sqlite3.connect(str(path))
        self.con.executescript("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;
            CREATE TABLE docs(rid INTEGER PRIMARY KEY, doc_id TEXT, lat REAL, lon REAL, tz TEXT,
                              has_exceptions INT, domains TEXT, card TEXT);
            CREATE VIRTUAL TABLE fts USING fts5(name, organization, terms, description, eligibility,
                                                tokenize='porter unicode61', detail=full);
            CREATE VIRTUAL TABLE geo USING rtree(id, min_lat, max_lat, min_lon, max_lon);
            CREATE TABLE doc_lang(lang TEXT, rid INT, PRIMARY KEY(lang, rid)) WITHOUT ROWID;
            CREATE TABLE doc_hours(rid INT, tz TEXT, s INT, e INT);  -- open [s, e) minute-of-week, local
        """)
        self.count = 0

    def add(self, docs) -> None:
        cur = self.con.cursor()
        batch_docs, batch_fts, batch_geo, batch_lang, batch_hours = [], [], [], [], []
        for doc in docs:
            self.count += 1
            rid = self.count
            lat, lon = doc.get("lat"), doc.get("lon")
            batch_docs.append((rid, doc["id"], lat, lon, doc["tz"], int(doc["has_exceptions"]), doc["domains"],
                               json.dumps(doc["card"])))
            batch_fts.append((rid, doc["name"], doc["organization"], doc["terms"], doc["description"],
                              doc["eligibility"]))
            if lat is not None:
                batch_geo.append((rid, lat, lat, lon, lon))
            batch_lang.extend((lang, rid) for lang in doc["languages"].split(",") if lang)
            batch_hours.extend((rid, doc["tz"], s, e) for s, e in _spans_from_slots(" ".join(slot_name(n) for n in doc["_open_slots"])))
        cur.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?)", batch_docs)
        cur.executemany("INSERT INTO fts(rowid, name, organization, terms, description, eligibility) "
                        "VALUES (?,?,?,?,?,?)", batch_fts)
        cur.executemany("INSERT INTO geo VALUES (?,?,?,?,?)", batch_geo)
        cur.executemany("INSERT INTO doc_lang VALUES (?,?)", batch_lang)
        cur.executemany("INSERT INTO doc_hours VALUES (?,?,?,?)", batch_hours)

    def finish(self) -> None:
        self.con.executescript("""
            CREATE INDEX doc_hours_rid ON doc_hours(rid, s, e);
            INSERT INTO fts(fts) VALUES('optimize');
            ANALYZE;
        """)
        self.con.commit()
        self.zones = [r[0] for r in self.con.execute("SELECT DISTINCT tz FROM docs")]

    # -- query building ----------------------------------------------------------------------
    @staticmethod
    def match_expression(text: str) -> str:
        """The FTS5 MATCH string for `text`, built from the same query plan as the service's
        (understanding.understand): any clause, each clause its typed words (all of them) OR each
        term the lexicon took them to mean (a phrase). Taxonomy codes have no FTS5 column here."""
        from whoosh.analysis import STOP_WORDS

        from referralnet.search.understanding import understand

        def words(s: str) -> list[str]:
            return [w for w in "".join(ch if ch.isalnum() else " " for ch in s.lower()).split()
                    if w not in STOP_WORDS and len(w) >= 2]

        def all_of(ws: list[str]) -> str:
            return "(" + " AND ".join(f'"{w}"' for w in ws) + ")" if ws else ""

        alternatives = []
        for clause in understand(text).clauses:
            typed = words(" ".join(clause.words))
            if typed:
                alternatives.append(all_of(typed))
            for need in clause.needs:
                for term in need.terms:
                    ws = words(term)
                    if ws:
                        alternatives.append('"' + " ".join(ws) + '"')
        return " OR ".join(dict.fromkeys(alternatives))

    def search(self, q: Q) -> Outcome:
        start = time.perf_counter()
        total = self._search(q)
        return Outcome((time.perf_counter() - start) * 1000, total)

    def _search(self, q: Q, per_page: int = 20) -> int:
        from referralnet.geo import locate

        match = self.match_expression(q.text)
        con = self.con
        if q.radius is None:  # (a) text only: every match with its bm25 in one statement; total, facets, page
            rows = con.execute(f"SELECT fts.rowid, bm25(fts, {self.WEIGHTS}), d.domains FROM fts "
                               "JOIN docs d ON d.rid = fts.rowid WHERE fts MATCH ?", (match,)).fetchall()
            facets: dict[str, int] = {}
            for row in rows:
                for d in row[2].split(","):
                    if d:
                        facets[d] = facets.get(d, 0) + 1
            top = heapq.nsmallest(per_page, rows, key=lambda r: (r[1], r[0]))  # bm25: lower is better
            if top:
                marks = ",".join("?" * len(top))
                _ = [json.loads(c) for (c,) in con.execute(f"SELECT card FROM docs WHERE rid IN ({marks})",
                                                            [r[0] for r in top])]
            return len(rows)
        place = locate(q.near)
        lat, lon, r = place.latitude, place.longitude, q.radius
        dlat = r / 69.0
        dlon = r / (69.0 * math.cos(math.radians(lat)))
        sql = [f"SELECT d.rid, bm25(fts, {self.WEIGHTS}) AS s, d.domains, d.has_exceptions, d.card, "
               "2 * 3958.7613 * asin(min(1.0, sqrt(pow(sin(radians(d.lat - :lat) / 2), 2) + "
               "cos(radians(:lat)) * cos(radians(d.lat)) * pow(sin(radians(d.lon - :lon) / 2), 2)))) AS dist "
               "FROM fts JOIN geo g ON g.id = fts.rowid JOIN docs d ON d.rid = fts.rowid "
               "WHERE fts MATCH :match AND g.max_lat >= :lat0 AND g.min_lat <= :lat1 "
               "AND g.max_lon >= :lon0 AND g.min_lon <= :lon1"]
        params = {"lat": lat, "lon": lon, "match": match, "lat0": lat - dlat, "lat1": lat + dlat,
                  "lon0": lon - dlon, "lon1": lon + dlon, "r": r}
        if q.language:
            sql.append("AND EXISTS (SELECT 1 FROM doc_lang l WHERE l.lang = :lang AND l.rid = d.rid)")
            params["lang"] = q.language.lower()
        if q.now is not None:
            ors = []
            for i, zone in enumerate(self.zones):
                local = q.now.astimezone(ZoneInfo(zone))
                params[f"z{i}"] = zone
                minute = local.hour * 60 + local.minute
                params[f"m{i}"] = local.weekday() * 1440 + minute - minute % _slot_minutes()
                ors.append(f"(h.tz = :z{i} AND h.s <= :m{i} AND h.e > :m{i})")
            sql.append("AND EXISTS (SELECT 1 FROM doc_hours h WHERE h.rid = d.rid AND (" + " OR ".join(ors) + "))")
        sql.append("AND dist <= :r ORDER BY s")
        rows = con.execute(" ".join(sql), params).fetchall()
        if q.now is not None:  # holiday closures / special hours: the exact check, as the service does
            rows = [row for row in rows if not row[3] or _really_open(json.loads(row[4]), q.now)]
        facets: dict[str, int] = {}
        for row in rows:
            for d in row[2].split(","):
                if d:
                    facets[d] = facets.get(d, 0) + 1
        if q.domain:
            rows = [row for row in rows if q.domain in row[2].split(",")]
        _ = [json.loads(row[4]) for row in rows[:per_page]], facets
        return len(rows)


def _slot_minutes() -> int:
    """The index's opening-hours slot length (hours.SLOT_MINUTES; 15 before it became a setting)."""
    return getattr(hours_module, "SLOT_MINUTES", 15)


def _spans_from_slots(slots: str) -> list[tuple[int, int]]:
    """'mo0900 mo0930 ...' -> merged [start, end) minute-of-week spans."""
    step = _slot_minutes()
    minutes = sorted(DAYS.index(s[:2].upper()) * 1440 + int(s[2:4]) * 60 + int(s[4:6]) for s in slots.split() if s)
    spans: list[tuple[int, int]] = []
    for m in minutes:
        if spans and spans[-1][1] == m:
            spans[-1] = (spans[-1][0], m + step)
        else:
            spans.append((m, m + step))
    return spans


def _really_open(card: dict, now: datetime) -> bool:
    rows = []
    for row in card.get("schedules", []):
        row = dict(row)
        for key in ("valid_from", "valid_to"):
            if row.get(key):
                row[key] = date.fromisoformat(row[key])
        rows.append(row)
    return build_hours(rows, iana=card.get("tz")).is_open(now)


# --------------------------------------------------------------------------------------------
# Measuring and reporting
# --------------------------------------------------------------------------------------------

@dataclass
class ClassResult:
    outcomes: list[Outcome] = field(default_factory=list)
    note: str = ""

    def pct(self, p: float) -> float | None:
        values = sorted(o.ms for o in self.outcomes)
        if not values:
            return None
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]

    @property
    def hit_rate(self) -> float | None:
        known = [o for o in self.outcomes if o.total is not None]
        return sum(1 for o in known if o.total > 0) / len(known) if known else None

    @property
    def median_total(self) -> float | None:
        known = [o.total for o in self.outcomes if o.total is not None]
        return statistics.median(known) if known else None


CLASS_NAMES = {"a": "(a) text", "b": "(b) text+radius", "c": "(c) text+radius+domain+lang+open"}


@dataclass
class SizeResult:
    services: int
    rows: int = 0
    documents: int = 0
    import_s: float = 0.0
    build_s: float = 0.0
    fts_docs_s: float = 0.0
    fts_insert_s: float = 0.0
    paths: dict[str, dict[str, ClassResult]] = field(default_factory=dict)
    http_note: str = ""
    agreement: dict[str, tuple[int, int]] = field(default_factory=dict)
    oddities: list[str] = field(default_factory=list)
    pg_documents: int = 0
    pg_build_s: float = 0.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def timed_class(label: str, queries: list[Q], fn, budget_s: float) -> ClassResult:
    """Warm up, then time each query in order; stop early (and say so) once `budget_s` is spent."""
    result = ClassResult()
    for q in queries[:WARMUP]:
        fn(q)
    timed = queries[WARMUP:]
    started = time.perf_counter()
    for q in timed:
        result.outcomes.append(fn(q))
        if time.perf_counter() - started > budget_s and len(result.outcomes) < len(timed):
            result.note = f"time budget: {len(result.outcomes)} of {len(timed)} queries"
            break
    hr = result.hit_rate
    log(f"  {label}: p50 {result.pct(50):.1f} ms, p95 {result.pct(95):.1f} ms, n={len(result.outcomes)}"
        + (f", hit rate {hr:.0%}" if hr is not None else "") + (f" ({result.note})" if result.note else ""))
    return result


def run_postgres(res: SizeResult, url: str, folder: Path, pg_updates, queries: dict[str, list[Q]], seed: int,
                 budget_s: float, fts: "FtsBaseline | None" = None) -> None:
    """The same package in PostgreSQL, searched through the postgres backend (paths "postgres service"
    and "pg after commit")."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from referralnet.search import pg_backend
    from referralnet.search.backend import current_backend
    from referralnet.search.documents import active_service_ids

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_BACKEND": "postgres", "SEARCH_AUTO_INDEX": False,
                      "SEARCH_INDEX_DIR": str(folder.parent / "unused-index"), "RATELIMIT_ENABLED": False,
                      "TESTING": True})
    with app.app_context():
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
        upgrade()
        log("  PostgreSQL: importing the same package")
        start = time.perf_counter()
        import_path(DOMAINS_FILE)
        db.session.commit()
        import_path(folder)
        db.session.commit()
        not_accepting, confidential = pg_updates
        if not_accepting:
            db.session.execute(text("UPDATE service SET accepting_referrals = :f WHERE id = :id"),
                               [{"f": False, "id": i} for i in not_accepting])
        if confidential:
            db.session.execute(text("UPDATE location SET address_confidential = :t WHERE id = :id"),
                               [{"t": True, "id": i} for i in confidential])
        db.session.commit()
        log(f"  PostgreSQL import: {time.perf_counter() - start:.1f} s; building the search rows")
        start = time.perf_counter()
        res.pg_documents = current_backend().rebuild()
        res.pg_build_s = time.perf_counter() - start
        db.session.commit()
        # As autovacuum leaves a live database within a minute of a bulk write: statistics, and the
        # visibility map the postings' index-only scans rely on (else each reads the heap too).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        log(f"  postgres rows: {res.pg_documents:,} documents in {res.pg_build_s:.1f} s "
            f"({res.pg_documents / res.pg_build_s:,.0f} docs/s)")
        ids = active_service_ids()
        rng = random.Random(seed)

        def service(q: Q) -> Outcome:
            try:
                return run_service(q)
            finally:
                db.session.rollback()  # as a request ends

        def after_commit(q: Q) -> Outcome:
            pg_backend.write_services(db.session, [rng.choice(ids)])
            db.session.commit()
            return service(q)

        res.paths["postgres service"] = {}
        res.paths["pg after commit"] = {}
        for cls, qs in queries.items():
            log(f"  postgres service, class {CLASS_NAMES[cls]}")
            res.paths["postgres service"][cls] = timed_class("postgres service", qs, service, budget_s)
        for cls, qs in queries.items():
            log(f"  postgres after a commit, class {CLASS_NAMES[cls]}")
            res.paths["pg after commit"][cls] = timed_class("pg after commit", qs, after_commit, budget_s)
        if fts is not None:  # the spot checks of the results, on this backend (when Whoosh was not measured)
            res.oddities = check_oddities(queries, fts)
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def run_size(services: int, n_queries: int, seed: int, zips: list[dict], profile: bool,
             budget_s: float, pg_url: str | None = None, whoosh: bool = True) -> SizeResult:
    from flask_migrate import upgrade

    from referralnet.search.documents import active_service_ids, documents_for
    from referralnet.search.index import document_count, forget_searchers, rebuild_index

    res = SizeResult(services)
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        tmp = Path(tmp)
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
                          "SEARCH_INDEX_DIR": str(tmp / "search-index"), "SEARCH_AUTO_INDEX": False,
                          "RATELIMIT_ENABLED": False, "TESTING": True})
        with app.app_context():
            upgrade()
            log(f"{services:,} services: generating")
            pkg = generate(services, zips, seed)
            res.rows = pkg.row_count
            log(f"  {res.rows:,} HSDS rows; importing")
            start = time.perf_counter()
            load_directory(pkg, tmp / "pkg")
            res.import_s = time.perf_counter() - start
            pg_updates = (list(pkg.not_accepting), list(pkg.confidential_locations))
            del pkg
            gc.collect()
            log(f"  imported in {res.import_s:.1f} s")

            def progress(done, total):
                if done % 10000 == 0 or done == total:
                    log(f"    indexed {done:,}/{total:,} services")

            if whoosh:
                log("  building the Whoosh index")
                start = time.perf_counter()
                res.documents = rebuild_index(progress=progress)
                res.build_s = time.perf_counter() - start
                log(f"  Whoosh index: {res.documents:,} documents in {res.build_s:.1f} s "
                    f"({res.documents / res.build_s:,.0f} docs/s); index doc_count {document_count():,}")

            log("  building the FTS5 + R*Tree baseline from the same documents")
            fts = FtsBaseline(tmp / "fts.db")
            ids = active_service_ids()
            start = time.perf_counter()
            docs_time = 0.0
            batch = []
            t0 = time.perf_counter()
            for doc in documents_for(ids):
                batch.append(doc)
                if len(batch) == 2000:
                    docs_time += time.perf_counter() - t0
                    fts.add(batch)
                    batch = []
                    t0 = time.perf_counter()
            docs_time += time.perf_counter() - t0
            fts.add(batch)
            fts.finish()
            res.fts_docs_s = docs_time
            res.fts_insert_s = time.perf_counter() - start - docs_time
            log(f"  FTS5: {fts.count:,} documents; loading documents from the database took {docs_time:.1f} s, "
                f"SQLite inserts + optimize {res.fts_insert_s:.1f} s")

            queries = make_queries(n_queries, zips, seed)
            res.paths = {"FTS5+R*Tree": {}}
            if not whoosh:
                for cls, qs in queries.items():
                    log(f"  FTS5, class {CLASS_NAMES[cls]}")
                    res.paths["FTS5+R*Tree"][cls] = timed_class("FTS5+R*Tree", qs, fts.search, budget_s)
        if not whoosh:
            res.documents = fts.count
            run_postgres(res, pg_url, tmp / "pkg", pg_updates, queries, seed, budget_s, fts)
            fts.con.close()
            return res
        with app.app_context():
            if document_count() != res.documents:
                raise SystemExit(f"the index holds {document_count()} documents, not the {res.documents} just built")
            res.paths = {"whoosh service": {}, "service, cold": {}, "after a commit": {}, "HTTP /hsds": {},
                         "FTS5+R*Tree": {}}
            for cls, qs in queries.items():
                log(f"  service, class {CLASS_NAMES[cls]}")
                res.paths["whoosh service"][cls] = timed_class("whoosh service", qs, run_service, budget_s)
            for cls, qs in queries.items():
                log(f"  service with nothing cached, class {CLASS_NAMES[cls]}")
                res.paths["service, cold"][cls] = timed_class("service, cold", qs, run_service_cold, budget_s)
            after_commit = AfterCommit(ids, seed)
            for cls, qs in queries.items():
                log(f"  service after a commit (one service re-indexed before each query), class {CLASS_NAMES[cls]}")
                res.paths["after a commit"][cls] = timed_class("after a commit", qs, after_commit, budget_s)
            for cls, qs in queries.items():
                log(f"  FTS5, class {CLASS_NAMES[cls]}")
                res.paths["FTS5+R*Tree"][cls] = timed_class("FTS5+R*Tree", qs, fts.search, budget_s)
            for cls in queries:
                w = res.paths["whoosh service"][cls].outcomes
                f = res.paths["FTS5+R*Tree"][cls].outcomes
                res.agreement[cls] = (sum(1 for x, y in zip(w, f) if x.total == y.total), min(len(w), len(f)))
            res.oddities = check_oddities(queries, fts)
            after = document_count()
            if after != res.documents:
                res.oddities.append(f"the index changed during the run: {res.documents} documents built, "
                                    f"{after} at the end (schema version changed by another process?)")
            if profile:
                for cls in ("c", "b", "a"):
                    profile_service(queries[cls][WARMUP:WARMUP + 40], cls)
                for cls in ("c", "a"):
                    profile_service(queries[cls][WARMUP:WARMUP + 40], cls, after_commit)
            fts.con.close()
        if pg_url:
            run_postgres(res, pg_url, tmp / "pkg", pg_updates, queries, seed, budget_s)

        ok, note = probe_http(app)
        res.http_note = note
        if ok:
            client = app.test_client()
            for cls, qs in queries.items():
                log(f"  HTTP, class {CLASS_NAMES[cls]}")
                res.paths["HTTP /hsds"][cls] = timed_class("HTTP /hsds", qs, lambda q: run_http(client, q), budget_s)
                statuses = {o.status for o in res.paths["HTTP /hsds"][cls].outcomes}
                if statuses != {200}:
                    res.paths["HTTP /hsds"][cls].note += f" statuses {sorted(statuses)}"
            res.paths["HTTP /hsds"]["c"].note += " (HSDS API: no language/open-now params; text+radius+domain)"
        else:
            log(f"  HTTP: {note}")
        with app.app_context():
            forget_searchers()
    return res


def check_oddities(queries: dict[str, list[Q]], fts: FtsBaseline) -> list[str]:
    """Spot checks of the service's results on this data (facets vs totals, zero-hit queries)."""
    from referralnet.search.service import search

    notes = []
    mismatched = checked = 0
    example = None
    for q in queries["b"][WARMUP:WARMUP + 8]:
        results = search(search_query(q))
        for domain, count in list(results.facets.items())[:3]:
            checked += 1
            narrowed = search(search_query(Q("b", q.text, q.near, q.zip, q.radius, domain)))
            if narrowed.total != count:
                mismatched += 1
                example = example or (q, domain, count, narrowed.total)
    if mismatched:
        q, domain, count, total = example
        notes.append(f"facet counts disagree with the filtered total in {mismatched}/{checked} radius checks, e.g. "
                     f"'{q.text}' within {q.radius:g} mi of {q.near}: facet {domain}={count}, but filtering on "
                     f"{domain} gives {total} (facets use the geohash-cell prefilter, not the exact radius)")
    elif checked:
        notes.append(f"facet counts match filtered totals in {checked}/{checked} radius checks")
    for cls, qs in queries.items():
        zero = sorted({q.text for q in qs[WARMUP:] if fts.search(q).total == 0})
        if zero and cls == "a":
            notes.append(f"class a: texts with no FTS5 match: {', '.join(zero)}")
    return notes


def profile_service(queries: list[Q], cls: str, after_commit: AfterCommit | None = None) -> None:
    """cProfile of the service (warm), or with `after_commit` of the queries right after a commit
    (the re-index before each query is not profiled)."""
    from referralnet.search.index import update_services
    from referralnet.search.service import search

    prof = cProfile.Profile()
    for q in queries:
        if after_commit is not None:
            update_services([after_commit.rng.choice(after_commit.ids)])
        prof.enable()
        search(search_query(q))
        prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("cumulative")
    stats.print_stats(45)
    path = "after a commit" if after_commit is not None else "search service"
    print(f"\n----- cProfile, {path}, class {CLASS_NAMES[cls]}, {len(queries)} queries (cumulative) -----")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    print(f"----- same, by own time -----")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:8000])


def fmt(v: float | None, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def report(results: list[SizeResult], sqlite_note: str) -> None:
    print("\n" + "=" * 100)
    print("SEARCH BENCH RESULTS")
    print(sqlite_note)
    for r in results:
        print("-" * 100)
        print(f"{r.services:,} services -> {r.documents:,} index documents (service at location); "
              f"{r.rows:,} HSDS rows imported in {r.import_s:.1f} s")
        if r.build_s:
            print(f"Whoosh rebuild_index(): {r.build_s:.1f} s = {r.documents / r.build_s:,.0f} docs/s "
                  f"(of which loading documents from the DB ~ {r.fts_docs_s:.1f} s, measured in the FTS5 pass)")
        else:
            print("Whoosh: not measured (--backend postgres)")
        print(f"FTS5 + R*Tree build: {r.fts_insert_s:.1f} s of SQLite inserts (+ the same document loading)")
        if r.pg_build_s:
            print(f"postgres rows (flask search reindex): {r.pg_documents:,} documents in {r.pg_build_s:.1f} s = "
                  f"{r.pg_documents / r.pg_build_s:,.0f} docs/s")
        print(f"{'class':<36}{'path':<17}{'p50 ms':>9}{'p95 ms':>9}{'n':>5}{'hit rate':>10}{'median total':>14}  note")
        for cls in ("a", "b", "c"):
            for path, by_cls in r.paths.items():
                cr = by_cls.get(cls)
                if cr is None:
                    print(f"{CLASS_NAMES[cls]:<36}{path:<17}{'HTTP: ' + r.http_note if path.startswith('HTTP') else ''}")
                    continue
                hr = cr.hit_rate
                print(f"{CLASS_NAMES[cls]:<36}{path:<17}{fmt(cr.pct(50)):>9}{fmt(cr.pct(95)):>9}{len(cr.outcomes):>5}"
                      f"{('-' if hr is None else f'{hr:.0%}'):>10}{fmt(cr.median_total, '.0f'):>14}  {cr.note}")
            w, f = r.paths.get("whoosh service", {}).get(cls), r.paths["FTS5+R*Tree"][cls]
            if w is not None:
                same, n = r.agreement.get(cls, (0, 0))
                target = ""
                if r.services >= 50_000 or r is results[-1]:
                    target = "  MEETS p95<=50ms" if w.pct(95) <= TARGET_P95_MS else "  MISSES p95<=50ms target"
                print(f"{'':<36}{'ratio W/FTS5':<17}{w.pct(50) / f.pct(50):>8.1f}x{w.pct(95) / f.pct(95):>8.1f}x"
                      f"   same total in {same}/{n} queries{target}")
            pg = r.paths.get("postgres service", {}).get(cls)
            if pg is not None and pg.outcomes:
                if w is not None:
                    same_pg = sum(1 for x, y in zip(w.outcomes, pg.outcomes) if x.total == y.total)
                    agree = f"same total as whoosh in {same_pg}/{min(len(w.outcomes), len(pg.outcomes))} queries"
                else:
                    same_pg = sum(1 for x, y in zip(f.outcomes, pg.outcomes) if x.total == y.total)
                    agree = f"same total as FTS5 in {same_pg}/{min(len(f.outcomes), len(pg.outcomes))} queries"
                verdict = "MEETS" if pg.pct(95) <= TARGET_P95_MS else "MISSES"
                print(f"{'':<36}{'ratio PG/FTS5':<17}{pg.pct(50) / f.pct(50):>8.1f}x{pg.pct(95) / f.pct(95):>8.1f}x"
                      f"   {agree}  postgres {verdict} p95<=50ms")
        for note in r.oddities:
            print(f"  note: {note}")
    print("=" * 100)
    print("Summary (p95 ms, search service vs FTS5; target p95 <= 50 ms through the service at 50,000 services)")
    print(f"{'services':>10}{'docs':>9}{'build s':>9}{'docs/s':>8}" + "".join(
        f"{'W ' + c:>9}{'cold':>7}{'commit':>7}{'F ' + c:>8}{'W/F':>7}" for c in "abc"))
    for r in results:
        if "whoosh service" not in r.paths:
            line = f"{r.services:>10,}{r.documents:>9,}" + "".join(
                f"  PG {c} {fmt(r.paths['postgres service'][c].pct(95))} (after commit "
                f"{fmt(r.paths['pg after commit'][c].pct(95))}), F {c} {fmt(r.paths['FTS5+R*Tree'][c].pct(95))};"
                for c in "abc")
            print(line)
            continue
        line = f"{r.services:>10,}{r.documents:>9,}{r.build_s:>9.1f}{r.documents / r.build_s:>8,.0f}"
        for c in "abc":
            w, f = r.paths["whoosh service"][c].pct(95), r.paths["FTS5+R*Tree"][c].pct(95)
            cold = r.paths["service, cold"][c].pct(95)
            commit = r.paths["after a commit"][c].pct(95)
            line += f"{w:>9.1f}{cold:>7.1f}{commit:>7.1f}{f:>8.1f}{w / f:>6.1f}x"
        print(line)


def sqlite_capabilities() -> str:
    con = sqlite3.connect(":memory:")
    options = {r[0] for r in con.execute("PRAGMA compile_options")}
    has_fts5, has_rtree = "ENABLE_FTS5" in options, "ENABLE_RTREE" in options
    has_math = "ENABLE_MATH_FUNCTIONS" in options
    con.close()
    note = (f"sqlite3 {sqlite3.sqlite_version} (Python {sys.version.split()[0]}): FTS5 {'yes' if has_fts5 else 'NO'}, "
            f"R*Tree {'yes' if has_rtree else 'NO'}, math functions {'yes' if has_math else 'NO'} "
            "(PRAGMA compile_options)")
    if not (has_fts5 and has_rtree and has_math):
        raise SystemExit(note + " -- the baseline needs all three")
    return note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000", help="comma-separated service counts")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per class (after warm-up)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2,000 services, 50 queries per class")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                        help="seconds per class and path before the rest of its queries are skipped")
    parser.add_argument("--profile", action="store_true", help="cProfile the service (classes c and a), largest size")
    parser.add_argument("--database-url", default=None,
                        help="a scratch PostgreSQL database: also measure the postgres search backend (schema recreated)")
    parser.add_argument("--backend", choices=("whoosh", "postgres", "both"), default=None,
                        help="what to measure beside FTS5 (default: whoosh, and postgres too with --database-url); "
                             "postgres builds no Whoosh index")
    args = parser.parse_args()
    backend = args.backend or ("both" if args.database_url else "whoosh")
    if backend != "whoosh" and not args.database_url:
        parser.error(f"--backend {backend} needs --database-url (a scratch PostgreSQL database)")
    sizes = [2000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    n_queries = 50 if args.quick else args.queries
    note = sqlite_capabilities()
    log(note)
    zips = bay_area_zips()
    log(f"{len(zips)} Bay Area ZIP codes in lat {BOX[0]}..{BOX[1]}, lon {BOX[2]}..{BOX[3]}")
    results = []
    started = time.perf_counter()
    for size in sizes:
        results.append(run_size(size, n_queries, args.seed, zips, args.profile and size == max(sizes), args.budget,
                                args.database_url if backend != "whoosh" else None, whoosh=backend != "postgres"))
        gc.collect()
    report(results, note)
    print(f"total run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
