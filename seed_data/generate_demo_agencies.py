#!/usr/bin/env python3
"""Generate the fictional demo agencies (HSDS 3.0 JSON) in seed_data/demo-agencies-hsds/.

Every agency, address, phone number, e-mail and web site below is FICTIONAL. Names,
street names and numbers are made up; phone numbers are in the 650-555-01xx range
reserved for fiction; e-mail and web addresses use example.org. The cities, ZIP
codes, transit lines and public programs mentioned (CalFresh, Medi-Cal, Clipper
START, ...) are real so that the demo reads like a real San Mateo County directory.

Output (overwritten on each run; deterministic, standard library only):
    demo-agencies-hsds/organizations.json   organizations with nested phones and locations
    demo-agencies-hsds/services.json        services with nested schedules, languages, costs,
                                            capacities and SDOH-domain attributes

Run:  python3 seed_data/generate_demo_agencies.py
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

NS = uuid.UUID("5b0e7d9c-2f8a-4c3e-b1d6-7a9e0c4f2b18")
SDOH_NS = uuid.UUID("0d5a3f0e-6a4c-4c1b-9f55-4a1f3b2c9e70")
HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "demo-agencies-hsds"
SDOH_FILE = HERE / "sdoh_domains.json"

FICTIONAL_SUFFIX = " (Fictional agency for ReferralNet demo data.)"
TIMEZONE = -8
CAPACITY_UPDATED = "2026-11-20T17:00:00Z"

REQUIRED_DOMAINS = [
    "food-insecurity", "housing-instability", "homelessness", "inadequate-housing",
    "transportation-insecurity", "financial-insecurity", "material-hardship", "utility-insecurity",
    "employment-status", "educational-attainment", "health-insurance-coverage-status",
    "medical-cost-burden", "intimate-partner-violence", "elder-abuse", "social-connection", "stress",
    "digital-access", "legal-needs",
]

LANGUAGES = {
    "en": "English", "es": "Spanish", "zh": "Chinese", "tl": "Tagalog", "vi": "Vietnamese",
    "to": "Tongan", "sm": "Samoan", "ru": "Russian", "ar": "Arabic",
}
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
DAY_NAMES = dict(zip(DAYS, ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]))

# City -> ZIP codes that really belong to it (checked in validate()).
CITY_ZIPS = {
    "Redwood City": {"94061", "94062", "94063", "94065"},
    "San Mateo": {"94401", "94402", "94403", "94404"},
    "Daly City": {"94014", "94015"},
    "South San Francisco": {"94080"},
    "East Palo Alto": {"94303"},
    "Menlo Park": {"94025"},
    "Half Moon Bay": {"94019"},
    "Burlingame": {"94010"},
    "San Bruno": {"94066"},
    "Pacifica": {"94044"},
    "Foster City": {"94404"},
    "Belmont": {"94002"},
    "San Carlos": {"94070"},
    "Millbrae": {"94030"},
}
LAT_RANGE = (37.45, 37.70)
LON_RANGE = (-122.52, -122.18)

COUNTY = ("San Mateo County", "San Mateo County")
COASTSIDE = ("Coastside", "Half Moon Bay, El Granada, Princeton, Moss Beach, Montara, Pescadero, "
                          "San Gregorio, La Honda and Loma Mar")
SOUTH_COUNTY = ("Southern San Mateo County", "Redwood City, North Fair Oaks, East Palo Alto, Menlo Park, "
                                             "Atherton, San Carlos and Belmont")
NORTH_COUNTY = ("Northern San Mateo County", "Daly City, Colma, Brisbane, South San Francisco, San Bruno, "
                                             "Pacifica, Millbrae and Burlingame")
CENTRAL_COUNTY = ("Central San Mateo County", "San Mateo, Foster City, Burlingame, Hillsborough, Belmont and "
                                              "San Carlos")
FREE = ("Free", 0.0, "No cost")

# ---------------------------------------------------------------------------------------------
# Organizations and their locations.
#
# block: phone block; the main line is 650-555-01(4*block+1), locations take the next numbers
# in order (a location with phone=False is skipped). hours: list of (days, opens, closes) where
# days is "MO-FR", "SA,SU", "ALL" or a single day.
# ---------------------------------------------------------------------------------------------

ORGANIZATIONS = [
    dict(
        slug="tidepool-food", block=0, name="Tidepool Community Food Network",
        description="Tidepool runs neighborhood grocery pantries, community suppers and CalFresh enrollment help "
                    "in San Mateo and South San Francisco. Food is distributed client-choice style so families "
                    "pick what fits their diet and culture.",
        locations=[
            dict(slug="tidepool-san-mateo", name="Tidepool Food Hub – San Mateo",
                 description="Ground-floor pantry and enrollment office with a covered waiting area.",
                 transportation="Ten-minute walk from San Mateo Caltrain station; SamTrans ECR stops two blocks "
                                "away on El Camino Real.",
                 lat=37.5668, lon=-122.3197, address="410 Alder Grove Way", city="San Mateo", zip="94401",
                 langs="en es zh tl",
                 access=["Step-free entrance and accessible restroom", "Seating available while waiting"],
                 hours=[("MO-FR", "09:00", "17:00"), ("SA", "09:00", "13:00")]),
            dict(slug="tidepool-ssf", name="Tidepool Food Hub – South San Francisco",
                 description="Community kitchen and pantry in the parish hall behind the main building.",
                 transportation="SamTrans routes 130 and 292 stop on Grand Avenue; South San Francisco BART is a "
                                "15-minute walk.",
                 lat=37.6552, lon=-122.4121, address="215 Linden Terrace", city="South San Francisco",
                 zip="94080", langs="en es tl ar",
                 access=["Wheelchair-accessible ramp at the side entrance"],
                 hours=[("TU-FR", "10:00", "18:00"), ("SA", "09:00", "19:00"), ("SU", "11:00", "15:00")]),
        ]),
    dict(
        slug="cabrillo-harvest", block=1, name="Cabrillo Coast Harvest",
        description="Cabrillo Coast Harvest serves farmworker and rural families from Montara to Pescadero with "
                    "a mobile pantry, household essentials and a weekly errand shuttle. Staff are bilingual in "
                    "English and Spanish.",
        locations=[
            dict(slug="cabrillo-half-moon-bay", name="Cabrillo Coast Harvest Community Center",
                 description="Warehouse and family resource room one block off Main Street.",
                 transportation="SamTrans routes 17 and 294 stop on Main Street, a three-minute walk.",
                 lat=37.4642, lon=-122.4301, address="780 Kelp Bed Lane", city="Half Moon Bay", zip="94019",
                 langs="en es", access=["Step-free entrance", "Parking for pickup trucks and vans"],
                 hours=[("MO-FR", "08:30", "16:30"), ("SA", "09:00", "12:00")]),
        ]),
    dict(
        slug="silver-table", block=2, name="Silver Table Senior Nutrition",
        description="Silver Table delivers hot meals to homebound older adults, runs a daily friendly-caller "
                    "program and books door-to-door rides for seniors in northern and central San Mateo County.",
        locations=[
            dict(slug="silver-table-millbrae", name="Silver Table Senior Center",
                 description="Senior center with dining room, kitchen and volunteer dispatch office.",
                 transportation="Two blocks from Millbrae BART/Caltrain station; SamTrans ECR stops on "
                                "El Camino Real.",
                 lat=37.5991, lon=-122.3889, address="155 Magnolia Crest Avenue", city="Millbrae", zip="94030",
                 langs="en zh ru tl",
                 access=["Wheelchair accessible throughout", "Hearing loop in the dining room"],
                 hours=[("MO-FR", "08:00", "16:00")]),
        ]),
    dict(
        slug="keystone-housing", block=3, name="Keystone Housing Partners",
        description="Keystone Housing Partners helps renters stay housed with emergency rental assistance and "
                    "housing counseling. It works with landlords across the county to resolve back rent before "
                    "an eviction is filed.",
        locations=[
            dict(slug="keystone-redwood-city", name="Keystone Housing Center – Redwood City",
                 description="Second-floor housing counseling office; elevator available.",
                 transportation="Redwood City Caltrain and SamTrans Transit Center are a 12-minute walk; "
                                "SamTrans 296 stops one block away.",
                 lat=37.4869, lon=-122.2281, address="2200 Bayfront Commons Drive, Suite 210",
                 city="Redwood City", zip="94063", langs="en es to sm",
                 access=["Elevator to the second floor", "Accessible restrooms"],
                 hours=[("MO-WE", "09:00", "17:00"), ("TH", "09:00", "19:00"), ("FR", "09:00", "17:00")]),
            dict(slug="keystone-san-mateo", name="Keystone Housing Center – San Mateo",
                 description="Storefront office near the Hillsdale area.",
                 transportation="Hillsdale Caltrain station is a ten-minute walk; SamTrans routes 250 and ECR "
                                "stop nearby.",
                 lat=37.5436, lon=-122.3030, address="95 Cypress Hollow Lane", city="San Mateo", zip="94403",
                 langs="en es zh ru", access=["Step-free storefront entrance"],
                 hours=[("MO-TH", "09:00", "17:00")]),
        ]),
    dict(
        slug="lantern-bridge", block=4, name="Lantern Bridge Shelter Services",
        description="Lantern Bridge operates a 90-bed emergency shelter in South San Francisco, a day center in "
                    "downtown San Mateo and an evening street outreach team. Every guest is offered a housing-"
                    "focused case manager.",
        locations=[
            dict(slug="lantern-ssf-shelter", name="Lantern Bridge Navigation Shelter",
                 description="Low-barrier shelter with dorms, meals, lockers and on-site case management; open "
                             "around the clock to guests.",
                 transportation="SamTrans route 292 stops on Airport Boulevard, a five-minute walk; the shelter "
                                "van picks up at South San Francisco BART at 17:00 daily.",
                 lat=37.6502, lon=-122.3990, address="1180 Shoreline Basin Road", city="South San Francisco",
                 zip="94080", langs="en es tl",
                 access=["Wheelchair-accessible dorm and showers", "Pets and service animals welcome",
                         "Secure storage for bicycles"],
                 hours=[("ALL", "00:00", "23:59")]),
            dict(slug="lantern-day-center", name="Lantern Bridge Day Center",
                 description="Drop-in day center with showers, laundry, mail service and a computer corner.",
                 transportation="Three blocks from San Mateo Caltrain station; SamTrans ECR and 292 stop "
                                "nearby.",
                 lat=37.5702, lon=-122.3228, address="36 Rail Yard Way", city="San Mateo", zip="94401",
                 langs="en es",
                 access=["Step-free entrance", "Accessible shower stall"],
                 hours=[("MO-SA", "07:30", "15:30")]),
        ]),
    dict(
        slug="cedar-path", block=5, name="Cedar Path Family Shelter",
        description="Cedar Path provides emergency shelter and rapid rehousing for families with children. "
                    "Families get a private room, meals and help finding and keeping an apartment.",
        locations=[
            dict(slug="cedar-path-redwood-city", name="Cedar Path Family Residence",
                 description="Fourteen-room family residence with playroom and shared kitchen; the office "
                             "receives visitors on weekdays.",
                 transportation="SamTrans ECR and route 275 stop within two blocks.",
                 lat=37.4735, lon=-122.2367, address="940 Quarry Bend Road", city="Redwood City", zip="94061",
                 langs="en es to sm",
                 access=["Two ground-floor accessible family rooms", "Accessible bathrooms"],
                 hours=[("MO-FR", "09:00", "17:00")]),
        ]),
    dict(
        slug="steady-roof", block=6, name="Steady Roof Home Repair",
        description="Steady Roof sends licensed contractors and trained volunteers to make critical repairs and "
                    "healthy-home fixes for low-income homeowners and renters. Work is prioritized for older "
                    "adults, people with disabilities and children with asthma.",
        locations=[
            dict(slug="steady-roof-san-carlos", name="Steady Roof Workshop and Office",
                 description="Office and materials workshop; most services happen in clients' homes.",
                 transportation="San Carlos Caltrain station is a ten-minute walk; SamTrans ECR stops on "
                                "El Camino Real.",
                 lat=37.5070, lon=-122.2555, address="615 Tanbark Court", city="San Carlos", zip="94070",
                 langs="en es vi", access=["Accessible front office"],
                 hours=[("MO-FR", "08:00", "16:00")]),
        ]),
    dict(
        slug="brightwater", block=7, name="Brightwater Energy & Water Assistance",
        description="Brightwater helps households keep the lights, heat and water on. It processes energy bill "
                    "assistance, negotiates payment plans with utilities and weatherizes homes at no cost.",
        locations=[
            dict(slug="brightwater-foster-city", name="Brightwater Office – Foster City",
                 description="Main office and weatherization crew base.",
                 transportation="SamTrans routes 251 and 256 stop in front of the plaza.",
                 lat=37.5590, lon=-122.2690, address="1040 Lagoon View Plaza", city="Foster City",
                 zip="94404", langs="en es zh vi ru", access=["Step-free entrance", "Accessible parking"],
                 hours=[("MO-FR", "09:00", "17:00")]),
            dict(slug="brightwater-daly-city", name="Brightwater Office – Daly City",
                 description="Satellite office with evening hours inside a shared community services building.",
                 transportation="SamTrans routes 120 and 122 stop at the Westlake shopping district, a "
                                "four-minute walk.",
                 lat=37.6698, lon=-122.4795, address="88 Westlake Terrace", city="Daly City", zip="94015",
                 langs="en es tl zh ar", access=["Elevator access", "Accessible restrooms"],
                 hours=[("TU-TH", "10:00", "18:00")]),
        ]),
    dict(
        slug="pathway-rides", block=8, name="Pathway Rides Collaborative",
        description="Pathway Rides gets people where they need to go: volunteer drivers for medical trips, "
                    "help enrolling in discounted transit passes and refurbished bicycles for commuting to work.",
        locations=[
            dict(slug="pathway-belmont", name="Pathway Rides Hub",
                 description="Dispatch office and bike shop next to the Belmont station plaza.",
                 transportation="Belmont Caltrain station is a five-minute walk; SamTrans ECR and 260 stop "
                                "nearby.",
                 lat=37.5190, lon=-122.2745, address="720 Ridgeview Depot Road", city="Belmont", zip="94002",
                 langs="en es tl", access=["Step-free entrance to the office and bike shop"],
                 hours=[("MO-FR", "08:00", "18:00"), ("SA", "09:00", "14:00")]),
        ]),
    dict(
        slug="sure-footing", block=9, name="Sure Footing Financial Center",
        description="Sure Footing offers free tax preparation, one-on-one financial coaching and small "
                    "emergency grants to working families. Coaches help clients build credit, lower debt and "
                    "connect to public benefits.",
        locations=[
            dict(slug="sure-footing-redwood-city", name="Sure Footing – Redwood City",
                 description="Coaching offices and tax site on the ground floor of a community services building.",
                 transportation="SamTrans routes 296 and 397 stop on Middlefield Road, one block away.",
                 lat=37.4820, lon=-122.2210, address="1501 Marshview Road", city="Redwood City", zip="94063",
                 langs="en es to", access=["Step-free entrance", "Private accessible meeting room"],
                 hours=[("MO-FR", "09:00", "17:00"), ("WE", None, "19:00")]),
            dict(slug="sure-footing-daly-city", name="Sure Footing – Daly City",
                 description="Satellite coaching office with Saturday appointments.",
                 transportation="SamTrans route 120 stops on Mission Street, two blocks away.",
                 lat=37.6830, lon=-122.4690, address="301 Fogline Avenue", city="Daly City", zip="94015",
                 langs="en es tl zh ar", access=["Elevator access"],
                 hours=[("TU-FR", "10:00", "18:00"), ("SA", "09:00", "13:00")]),
        ]),
    dict(
        slug="second-closet", block=10, name="Second Closet Community Exchange",
        description="Second Closet collects donated clothing, baby gear, furniture and devices and gives them "
                    "free to families who need them. Shopping is by appointment or walk-in, with no questions "
                    "about income.",
        locations=[
            dict(slug="second-closet-pacifica", name="Second Closet – Pacifica",
                 description="Clothing room and furniture warehouse with loading dock.",
                 transportation="SamTrans route 110 stops at the Linda Mar shopping center, a five-minute walk.",
                 lat=37.5985, lon=-122.4990, address="530 Sea Fog Way", city="Pacifica", zip="94044",
                 langs="en es tl", access=["Step-free entrance", "Wide aisles"],
                 hours=[("TU-SA", "10:00", "17:00")]),
            dict(slug="second-closet-san-bruno", name="Second Closet – San Bruno",
                 description="Storefront exchange with baby essentials and a device repair bench.",
                 transportation="San Bruno Caltrain station is a six-minute walk; SamTrans ECR stops on "
                                "El Camino Real.",
                 lat=37.6290, lon=-122.4140, address="412 Orchard Crest Avenue", city="San Bruno",
                 zip="94066", langs="en es tl to sm ar", access=["Step-free storefront entrance"],
                 hours=[("WE-FR", "11:00", "19:00"), ("SA,SU", "10:00", "16:00")]),
        ]),
    dict(
        slug="workbridge", block=11, name="Workbridge Peninsula Careers",
        description="Workbridge connects job seekers with employers in biotech, construction, hospitality and "
                    "health care. Services include job placement, paid pre-apprenticeships and youth employment.",
        locations=[
            dict(slug="workbridge-ssf", name="Workbridge Career Center – South San Francisco",
                 description="Career center with computer lab, training classroom and employer interview rooms.",
                 transportation="South San Francisco Caltrain station is a ten-minute walk; employer shuttles "
                                "from BART stop next door.",
                 lat=37.6580, lon=-122.4050, address="250 Cannery Point Boulevard", city="South San Francisco",
                 zip="94080", langs="en es tl zh ar", access=["Accessible computer stations", "Elevator access"],
                 hours=[("MO", "08:30", "17:00"), ("TU", "08:30", "19:00"), ("WE-FR", "08:30", "17:00")]),
            dict(slug="workbridge-redwood-city", name="Workbridge Career Center – Redwood City",
                 description="Satellite career center with youth employment staff.",
                 transportation="Redwood City Transit Center (Caltrain and SamTrans) is an eight-minute walk.",
                 lat=37.4855, lon=-122.2290, address="77 Foundry Lane", city="Redwood City", zip="94063",
                 langs="en es to sm", access=["Step-free entrance"],
                 hours=[("MO-FR", "09:00", "17:30")]),
        ]),
    dict(
        slug="open-door-learning", block=12, name="Open Door Adult Learning Center",
        description="Open Door is a community adult school offering English classes, high school equivalency "
                    "preparation and beginner computer classes. Day, evening and Saturday classes fit around "
                    "work and child care.",
        locations=[
            dict(slug="open-door-san-mateo", name="Open Door Learning Center – San Mateo",
                 description="Twelve classrooms, a computer lab and free child care during evening classes.",
                 transportation="SamTrans route 250 stops at the front entrance.",
                 lat=37.5460, lon=-122.3260, address="600 Laurelwood Commons", city="San Mateo", zip="94402",
                 langs="en es zh ru ar vi", access=["Elevator to all floors", "Large-print materials on request"],
                 hours=[("MO-TH", "09:00", "21:00"), ("FR", "09:00", "15:00"), ("SA", "09:00", "13:00")]),
            dict(slug="open-door-daly-city", name="Open Door Learning Center – Daly City",
                 description="Classrooms on the second floor of the Serramonte-area community building.",
                 transportation="SamTrans routes 120 and 121 stop across the street.",
                 lat=37.6760, lon=-122.4730, address="140 Horizon Park Drive", city="Daly City", zip="94015",
                 langs="en es tl zh ar", access=["Elevator access"],
                 hours=[("MO-TH", "09:00", "21:00"), ("SA", "09:00", "13:00")]),
        ]),
    dict(
        slug="coverall-health", block=13, name="CoverAll Health Access",
        description="CoverAll's certified enrollment counselors help people sign up for and keep Medi-Cal and "
                    "Covered California, and advocate for patients facing large medical bills. All help is free "
                    "and confidential, regardless of immigration status.",
        locations=[
            dict(slug="coverall-redwood-city", name="CoverAll Enrollment Center – Redwood City",
                 description="Enrollment center with private interview rooms.",
                 transportation="SamTrans ECR stops at the corner; Redwood City Caltrain is a 15-minute walk.",
                 lat=37.4790, lon=-122.2400, address="2600 Alameda Crest Road", city="Redwood City",
                 zip="94061", langs="en es to sm tl", access=["Step-free entrance", "Accessible parking"],
                 hours=[("MO-WE", "09:00", "17:00"), ("TH", "09:00", "20:00"), ("FR", "09:00", "17:00")]),
            dict(slug="coverall-half-moon-bay", name="CoverAll Enrollment Center – Half Moon Bay",
                 description="Coastside office shared with a family resource center.",
                 transportation="SamTrans route 294 stops on Highway 92 at the shopping center.",
                 lat=37.4680, lon=-122.4360, address="25 Pilarcitos Bend", city="Half Moon Bay", zip="94019",
                 langs="en es", access=["Step-free entrance"],
                 hours=[("TU", "09:00", "17:00"), ("TH", "09:00", "17:00"), ("SA", "10:00", "14:00")]),
        ]),
    dict(
        slug="juniper-clinic", block=14, name="Juniper Community Clinic",
        description="Juniper Community Clinic is a nonprofit clinic for people who are uninsured or "
                    "underinsured. It offers primary care on a sliding scale and a low-cost pharmacy program.",
        locations=[
            dict(slug="juniper-menlo-park", name="Juniper Community Clinic",
                 description="Clinic with eight exam rooms, a pharmacy window and a benefits desk.",
                 transportation="SamTrans route 281 stops at the corner; the free Menlo Park shuttle runs from "
                                "Menlo Park Caltrain station.",
                 lat=37.4712, lon=-122.1905, address="1120 Willowbrook Lane", city="Menlo Park", zip="94025",
                 langs="en es to sm tl", access=["Wheelchair accessible exam rooms", "Accessible parking"],
                 hours=[("MO-FR", "08:00", "18:00"), ("SA", "09:00", "13:00")]),
        ]),
    dict(
        slug="willow-harbor", block=15, name="Willow Harbor Safety Network",
        description="Willow Harbor supports survivors of domestic and intimate partner violence with a 24-hour "
                    "crisis line, a confidential emergency safe house, court advocacy and support groups. "
                    "All services are free and confidential.",
        main_phone_description="24-hour crisis line",
        locations=[
            dict(slug="willow-harbor-safe-house", name="Willow Harbor Emergency Safe House",
                 description="Confidential location; callers are given directions after a safety screening.",
                 confidential=True, phone=False, langs="en es tl to sm",
                 access=["Two wheelchair-accessible bedrooms", "Service animals and pets welcome"],
                 hours=[("ALL", "00:00", "23:59")]),
            dict(slug="willow-harbor-drop-in", name="Willow Harbor Drop-In Center",
                 description="Walk-in advocacy center; the entrance is unmarked and staffed by a receptionist.",
                 transportation="Eight-minute walk from the Redwood City Transit Center (Caltrain and SamTrans).",
                 lat=37.4890, lon=-122.2330, address="455 Bridgeway Commons", city="Redwood City", zip="94063",
                 langs="en es tl to sm zh", access=["Step-free entrance", "Children's play corner"],
                 hours=[("MO-FR", "09:00", "17:00"), ("TU,TH", None, "20:00"), ("SA", "10:00", "12:00")]),
        ]),
    dict(
        slug="evergreen-elder", block=16, name="Evergreen Elder Advocates",
        description="Evergreen protects the safety, money and independence of older adults. Advocates "
                    "respond to elder abuse and financial exploitation and support family caregivers.",
        locations=[
            dict(slug="evergreen-burlingame", name="Evergreen Elder Advocates Office",
                 description="Ground-floor office with private meeting rooms; home visits available.",
                 transportation="Burlingame Caltrain station is a seven-minute walk; SamTrans ECR stops on "
                                "El Camino Real.",
                 lat=37.5805, lon=-122.3470, address="1330 Sycamore Hollow Road", city="Burlingame",
                 zip="94010", langs="en zh ru es tl",
                 access=["Wheelchair accessible", "Hearing loop and large-print forms"],
                 hours=[("MO-FR", "09:00", "17:00")]),
        ]),
    dict(
        slug="crestline-counseling", block=17, name="Crestline Counseling Collective",
        description="Crestline is a community mental health nonprofit offering short-term counseling on a "
                    "sliding scale and a peer-run evening warmline. Counselors specialize in stress, anxiety, "
                    "grief and life transitions.",
        locations=[
            dict(slug="crestline-san-carlos", name="Crestline Counseling – San Carlos",
                 description="Counseling offices on the second floor; telehealth sessions also available.",
                 transportation="San Carlos Caltrain station is a six-minute walk.",
                 lat=37.4995, lon=-122.2660, address="880 Oakmont Terrace", city="San Carlos", zip="94070",
                 langs="en es vi zh", access=["Elevator access", "Gender-neutral accessible restroom"],
                 hours=[("MO-TH", "09:00", "20:00"), ("FR", "09:00", "17:00")]),
            dict(slug="crestline-pacifica", name="Crestline Counseling – Pacifica",
                 description="Small coastal office with two counseling rooms and a group room.",
                 transportation="SamTrans route 110 stops on Palmetto Avenue, one block away.",
                 lat=37.6330, lon=-122.4900, address="2100 Headland View Road", city="Pacifica", zip="94044",
                 langs="en es tl", access=["Step-free entrance"],
                 hours=[("TU-FR", "10:00", "19:00"), ("SA", "09:00", "13:00")]),
        ]),
    dict(
        slug="linkup-digital", block=18, name="LinkUp Peninsula Digital Equity",
        description="LinkUp closes the digital divide by lending laptops and hotspots, enrolling families in "
                    "low-cost internet and running drop-in tech help. Volunteers speak several languages.",
        locations=[
            dict(slug="linkup-north-fair-oaks", name="LinkUp Tech Hub – North Fair Oaks",
                 description="Tech hub with a lending desk and six public computers.",
                 transportation="SamTrans routes 296 and 397 stop on Middlefield Road at the corner.",
                 lat=37.4760, lon=-122.2130, address="3150 Meadowlark Plaza", city="Redwood City", zip="94063",
                 langs="en es to sm", access=["Step-free entrance", "Adjustable-height computer desk"],
                 hours=[("MO-FR", "10:00", "18:00"), ("SA", "10:00", "14:00")]),
            dict(slug="linkup-daly-city", name="LinkUp Tech Hub – Daly City",
                 description="Tech hub inside a neighborhood community room.",
                 transportation="SamTrans route 120 stops two blocks away.",
                 lat=37.6865, lon=-122.4640, address="59 Skyline Vista Court", city="Daly City", zip="94015",
                 langs="en tl zh es ar", access=["Elevator access"],
                 hours=[("TU-FR", "12:00", "19:00"), ("SA", "10:00", "14:00")]),
        ]),
    dict(
        slug="peninsula-justice", block=19, name="Peninsula Justice Collaborative",
        description="Peninsula Justice Collaborative provides free civil legal help to low-income residents: "
                    "eviction defense, tenant rights, restraining orders, senior law and immigration. Attorneys "
                    "and trained paralegals staff clinics in Redwood City and San Mateo.",
        locations=[
            dict(slug="justice-redwood-city", name="Peninsula Justice – Redwood City Office",
                 description="Legal aid office two blocks from the county courthouse.",
                 transportation="Redwood City Transit Center (Caltrain and SamTrans) is a five-minute walk.",
                 lat=37.4862, lon=-122.2310, address="1010 Courthouse Walk", city="Redwood City", zip="94063",
                 langs="en es to tl zh", access=["Elevator access", "Accessible restrooms"],
                 hours=[("MO-FR", "09:00", "17:00")]),
            dict(slug="justice-san-mateo", name="Peninsula Justice – San Mateo Office",
                 description="Clinic space with evening tenant workshops.",
                 transportation="San Mateo Caltrain station is a six-minute walk; SamTrans ECR stops nearby.",
                 lat=37.5622, lon=-122.3240, address="222 Bayshore Terrace", city="San Mateo", zip="94401",
                 langs="en es zh ru ar", access=["Step-free entrance"],
                 hours=[("MO-TU", "09:00", "17:00"), ("WE", "09:00", "19:00"), ("TH", "09:00", "17:00")]),
        ]),
    dict(
        slug="talanoa-circle", block=20, name="Talanoa Pacific & Asian Family Circle", legal_status="Fiscally sponsored project",
        description="Talanoa is a community-led family center for Pacific Islander and Asian American "
                    "families, with staff who speak Tongan, Samoan, Tagalog, Chinese and Vietnamese. It offers "
                    "family safety advocacy, elder outreach, youth tutoring and help with health coverage.",
        locations=[
            dict(slug="talanoa-san-bruno", name="Talanoa Family Center – San Bruno",
                 description="Family center with a meeting hall used for community gatherings.",
                 transportation="SamTrans routes 140 and ECR stop nearby; San Bruno BART is a 15-minute walk.",
                 lat=37.6215, lon=-122.4250, address="390 Crestmoor Glen Avenue", city="San Bruno",
                 zip="94066", langs="en to sm tl zh vi", access=["Step-free entrance", "Accessible parking"],
                 hours=[("MO-FR", "10:00", "18:00"), ("SA", "10:00", "16:00"), ("SU", "14:00", "18:00")]),
            dict(slug="talanoa-redwood-city", name="Talanoa Family Center – North Fair Oaks",
                 description="Homework room and family advocacy office.",
                 transportation="SamTrans route 296 stops on Middlefield Road, one block away.",
                 lat=37.4790, lon=-122.2175, address="55 Fair Oaks Commons", city="Redwood City", zip="94063",
                 langs="en to sm es", access=["Step-free entrance"],
                 hours=[("MO-TH", "12:00", "19:00"), ("SA", "10:00", "14:00")]),
        ]),
]

# ---------------------------------------------------------------------------------------------
# Services. costs: list of (option, amount, amount_description). capacities: list of
# (unit, available, maximum, description). areas: list of (name, extent).
# ---------------------------------------------------------------------------------------------

SERVICES = [
    # --- Tidepool Community Food Network ------------------------------------------------------
    dict(slug="tidepool-grocery-pantry", org="tidepool-food", name="Weekly Grocery Pantry",
         domains=["food-insecurity"], locs=["tidepool-san-mateo", "tidepool-ssf"], path="pantry",
         email="pantry",
         description="Client-choice pantry with fresh produce, dairy, eggs, rice, beans and halal and "
                     "vegetarian options. Households can shop once a week at either site and take home about "
                     "25 pounds of groceries.",
         eligibility="Any San Mateo County household that needs food. Income is self-declared; no proof of "
                     "income or immigration status is required.",
         application="Walk in during pantry hours. First-time visitors fill out a one-page sign-up form with "
                     "a volunteer (about 5 minutes).",
         fees="Free.", wait="Usually under 20 minutes; lines are longest in the first hour.",
         hours=[("TU,TH", "10:00", "14:00"), ("SA", "09:00", "12:00")], langs="en es zh tl ar",
         docs=["No documents required; proof of address is requested at the first visit if available"],
         costs=[FREE], areas=[COUNTY]),
    dict(slug="tidepool-calfresh-help", org="tidepool-food", name="CalFresh Application Help",
         alt="CalFresh Help Desk", domains=["food-insecurity", "financial-insecurity"],
         locs=["tidepool-san-mateo"], path="calfresh", email="calfresh",
         description="Trained staff help you apply for or renew CalFresh food benefits (EBT), including "
                     "uploading documents and preparing for the phone interview. Most applications are "
                     "submitted in a single 45-minute appointment.",
         eligibility="San Mateo County residents who may qualify for CalFresh, including students, older "
                     "adults and working families. Staff screen everyone for eligibility first.",
         application="Book by phone or online, or drop in Monday and Wednesday mornings if slots remain.",
         fees="Free.", wait="Appointments usually available within one week.",
         hours=[("MO,WE", "09:00", "16:00")], langs="en es zh tl",
         interp="Phone interpreters available for other languages.",
         docs=["Photo ID", "Proof of income for the last 30 days", "Rent receipt or lease"],
         costs=[FREE], areas=[COUNTY],
         capacities=[("appointments per week", 6, 20, "Open CalFresh appointment slots this week.")]),
    dict(slug="tidepool-community-supper", org="tidepool-food", name="Weekend Community Supper",
         domains=["food-insecurity", "social-connection"], locs=["tidepool-ssf"], path="supper",
         email="supper",
         description="A free sit-down hot meal served family style on weekends, with take-home plates for "
                     "anyone who cannot stay. Volunteers and neighbors eat together, and a resource table "
                     "connects guests to other services.",
         eligibility="Everyone is welcome; no sign-up or eligibility questions.",
         application="Just come in during serving hours.", fees="Free.", wait="No wait; seating is first come.",
         hours=[("SA", "17:00", "19:00"), ("SU", "12:00", "14:00")], langs="en es tl ar",
         costs=[FREE], areas=[NORTH_COUNTY],
         capacities=[("meals per service", 35, 120, "Meals still available at the next supper.")]),

    # --- Cabrillo Coast Harvest ------------------------------------------------------------
    dict(slug="cabrillo-mobile-pantry", org="cabrillo-harvest", name="South Coast Mobile Pantry",
         domains=["food-insecurity"], locs=["cabrillo-half-moon-bay"], path="mobile-pantry", email="pantry",
         description="A refrigerated truck brings fresh produce and staples to farms, schools and community "
                     "centers along the coast each week. The Saturday distribution runs from the Half Moon Bay "
                     "community center; weekday stops rotate between Pescadero, La Honda and Moss Beach.",
         eligibility="Coastside residents with low income, including farmworkers and their families.",
         application="No sign-up needed; give your household size at the truck.", fees="Free.",
         wait="Distribution lasts about two hours.",
         hours=[("WE", "15:00", "18:00"), ("SA", "10:00", "13:00")], langs="en es",
         costs=[FREE], areas=[COASTSIDE]),
    dict(slug="cabrillo-household-essentials", org="cabrillo-harvest", name="Farmworker Household Essentials",
         domains=["material-hardship"], locs=["cabrillo-half-moon-bay"], path="essentials", email="essentials",
         description="Monthly kits of diapers, hygiene supplies and cleaning products, plus work boots, rain "
                     "gear and warm jackets for field and nursery workers. Kits are sized to the household.",
         eligibility="Farmworker, nursery and fishing-industry households on the coast, and other Coastside "
                     "families with low income.",
         application="Register once at the community center; then pick up monthly on Thursday afternoons.",
         fees="Free.", wait="Same-day pickup after registration.",
         hours=[("TH", "14:00", "18:00")], langs="en es",
         docs=["Any ID (consular ID accepted)"], costs=[FREE], areas=[COASTSIDE]),
    dict(slug="cabrillo-errand-shuttle", org="cabrillo-harvest", name="South Coast Errand Shuttle",
         domains=["transportation-insecurity", "food-insecurity"], locs=["cabrillo-half-moon-bay"],
         path="shuttle", email="shuttle",
         description="A twice-weekly van shuttle takes residents of Pescadero, La Honda and Loma Mar to "
                     "grocery stores, the pharmacy and medical appointments in Half Moon Bay. Drivers help "
                     "carry groceries to the door.",
         eligibility="Residents of the rural south coast without reliable transportation; priority for older "
                     "adults and people with disabilities.",
         application="Reserve a seat by phone at least one day ahead.", fees="Free.",
         wait="Reserve one day ahead; same-day seats are rarely available.",
         hours=[("TU,FR", "09:00", "15:00")], langs="en es", costs=[FREE], areas=[COASTSIDE],
         capacities=[("seats per week", 4, 24, "Unreserved seats on this week's shuttle runs.")]),

    # --- Silver Table Senior Nutrition ----------------------------------------------------
    dict(slug="silver-table-home-meals", org="silver-table", name="Home-Delivered Meals for Seniors",
         alt="Meals on Wheels", domains=["food-insecurity"], locs=["silver-table-millbrae"], path="meals",
         email="meals", min_age=60,
         description="Volunteers deliver a hot lunch and a chilled evening meal to homebound older adults "
                     "every weekday, with frozen meals for weekends. Menus include low-sodium, diabetic-friendly "
                     "and Chinese-style options, and each delivery doubles as a daily safety check.",
         eligibility="Adults 60 and older (and their spouses) who are homebound or unable to shop and cook, in "
                     "northern and central San Mateo County.",
         application="Call the intake line; a staff member completes a short phone assessment and schedules a "
                     "home visit.",
         fees="Suggested donation of $4 per meal; no one is turned away for inability to pay.",
         wait="New clients currently wait about three weeks; people leaving the hospital are prioritized.",
         hours=[("MO-FR", "10:00", "13:00")], langs="en zh ru tl",
         costs=[("Suggested donation", 4.0, "Suggested $4 per meal; donations are voluntary")],
         areas=[NORTH_COUNTY, CENTRAL_COUNTY],
         capacities=[("new client openings this month", 0, 15,
                      "Full this month; new clients join a waitlist.")]),
    dict(slug="silver-table-friendly-caller", org="silver-table", name="Friendly Caller Program",
         domains=["social-connection"], locs=["silver-table-millbrae"], path="friendly-caller", email="calls",
         min_age=60,
         description="Trained volunteers call isolated older adults at an agreed time up to five days a week "
                     "to chat, check in and share community news. Volunteers are matched by language and "
                     "interests, and concerns are passed to a social worker.",
         eligibility="Adults 60 and older living in San Mateo County who live alone or feel lonely.",
         application="Call or have a family member, doctor or case manager refer you.", fees="Free.",
         wait="Matched with a volunteer within two weeks.",
         hours=[("MO-FR", "09:00", "17:00"), ("SA", "10:00", "14:00")], langs="en zh ru tl",
         costs=[FREE], areas=[COUNTY]),
    dict(slug="silver-table-senior-rides", org="silver-table", name="Senior Rides to Appointments",
         domains=["transportation-insecurity"], locs=["silver-table-millbrae"], path="rides", email="rides",
         min_age=60,
         description="Door-through-door rides with volunteer drivers to medical appointments, the pharmacy, "
                     "the grocery store and the senior center. Drivers wait during short appointments and help "
                     "riders with walkers.",
         eligibility="Adults 60 and older who no longer drive and cannot easily use the bus.",
         application="Register by phone, then book each ride at least three business days ahead.",
         fees="$3 per one-way ride; free for riders enrolled in Medi-Cal.",
         wait="Book three business days ahead.",
         hours=[("MO-FR", "08:00", "17:00")], langs="en zh ru",
         docs=["Medi-Cal card, if claiming the free fare"],
         costs=[("One-way ride", 3.0, "$3 per one-way ride"),
                ("Medi-Cal members", 0.0, "No cost for riders enrolled in Medi-Cal")],
         areas=[NORTH_COUNTY, CENTRAL_COUNTY],
         capacities=[("rides per week", 11, 60, "Ride slots still open this week.")]),

    # --- Keystone Housing Partners ---------------------------------------------------------
    dict(slug="keystone-rental-assistance", org="keystone-housing", name="Emergency Rental Assistance",
         domains=["housing-instability", "financial-insecurity"],
         locs=["keystone-redwood-city", "keystone-san-mateo"], path="rental-assistance", email="rent",
         description="One-time grants of up to three months' back rent, paid directly to the landlord, for "
                     "tenants who fell behind after a job loss, illness or other crisis. A housing counselor "
                     "also builds a budget with the household so the rent stays paid.",
         eligibility="San Mateo County renters at or below 80% of area median income who have a past-due rent "
                     "notice or a 3-day notice to pay or quit.",
         application="Complete a pre-screening by phone or walk-in; a counselor then helps you gather documents "
                     "and submit the full application.",
         fees="Free.", wait="Decisions within 10 business days; urgent cases with a court date within 3 days.",
         hours=[("MO-TH", "09:00", "17:00")], langs="en es zh to sm ru",
         interp="Interpreters for other languages can be booked with one day's notice.",
         docs=["Photo ID", "Current lease or rental agreement", "Notice from landlord", "Proof of income"],
         costs=[FREE], areas=[COUNTY],
         capacities=[("applications accepted this month", 14, 80, "Remaining application slots this month.")]),
    dict(slug="keystone-tenant-landlord-mediation", org="keystone-housing", name="Tenant–Landlord Mediation",
         domains=["housing-instability", "legal-needs"], locs=["keystone-redwood-city"], path="mediation",
         email="mediation",
         description="Neutral trained mediators help tenants and landlords settle disputes over repairs, rent "
                     "increases, deposits and back rent without going to court. Sessions are held in person or "
                     "by video, and agreements are put in writing and signed by both sides.",
         eligibility="Tenants and landlords of residential rental units in San Mateo County.",
         application="Either party can request mediation by phone; staff contact the other party to invite "
                     "them. Participation is voluntary.",
         fees="Free.", wait="Sessions usually scheduled within two weeks.",
         hours=[("TU", "10:00", "16:00"), ("TH", "13:00", "19:00")], langs="en es to sm",
         costs=[FREE], areas=[COUNTY]),

    # --- Lantern Bridge Shelter Services -----------------------------------------------------
    dict(slug="lantern-emergency-shelter", org="lantern-bridge", name="Emergency Shelter Beds",
         domains=["homelessness"], locs=["lantern-ssf-shelter"], path="shelter", email="intake", min_age=18,
         description="Low-barrier emergency shelter for single adults and couples, with three meals a day, "
                     "showers, lockers and on-site case managers who help guests apply for housing. Partners, "
                     "pets and possessions are welcome.",
         eligibility="Adults 18 and older experiencing homelessness in San Mateo County. Sobriety is not "
                     "required.",
         application="Call the intake line or come to the shelter between 16:00 and 21:00; outreach workers "
                     "and hospitals can also refer. Beds are assigned nightly.",
         fees="Free.", wait="Waitlist when full; call at 16:00 for beds freed by cancellations.",
         hours=[("ALL", "16:00", "21:00")], langs="en es tl",
         docs=["No documents required"], costs=[FREE], areas=[COUNTY],
         capacities=[("beds", 0, 90, "All beds are full tonight; a waitlist is open.")]),
    dict(slug="lantern-street-outreach", org="lantern-bridge", name="Evening Street Outreach Team",
         domains=["homelessness"], locs=["lantern-day-center"], path="outreach", email="outreach",
         description="Outreach workers visit encampments, vehicles and transit stations in the evening with "
                     "food, water, blankets and hygiene kits. They build trust, help with ID and benefits, and "
                     "place people into shelter and housing programs.",
         eligibility="People living outdoors or in vehicles anywhere in San Mateo County.",
         application="Call or text the outreach line to request a visit for yourself or someone you are "
                     "worried about.",
         fees="Free.", wait="Visits usually within 48 hours.",
         hours=[("MO-FR", "18:00", "23:00"), ("SA", "08:00", "12:00")], langs="en es",
         costs=[FREE], areas=[COUNTY]),
    dict(slug="lantern-day-center-services", org="lantern-bridge", name="Day Center: Showers, Laundry & Mail",
         domains=["homelessness", "material-hardship"], locs=["lantern-day-center"], path="day-center",
         email="daycenter",
         description="Hot showers, laundry, phone charging and a mailing address for people without a home. "
                     "The day center also hands out clothing and hygiene supplies and hosts benefits workers on "
                     "Tuesdays.",
         eligibility="Anyone experiencing homelessness or housing insecurity.",
         application="Walk in and sign up at the front desk for a shower or laundry slot.", fees="Free.",
         wait="Shower waits average 30 minutes in the morning.",
         hours=[("MO-SA", "07:30", "15:30")], langs="en es", costs=[FREE], areas=[COUNTY]),

    # --- Cedar Path Family Shelter ---------------------------------------------------------
    dict(slug="cedar-path-family-shelter", org="cedar-path", name="Family Emergency Shelter",
         domains=["homelessness"], locs=["cedar-path-redwood-city"], path="shelter", email="intake",
         description="Private rooms for families with children for up to 120 days, with meals, child care "
                     "during parent job searches and a case manager for each family. Children keep attending "
                     "their own schools with help from the shelter's school liaison.",
         eligibility="Families with children under 18, or pregnant people, who are homeless in San Mateo "
                     "County.",
         application="Call the intake line Monday to Friday; families are screened by phone and placed when a "
                     "room opens.",
         fees="Free.", wait="Typically one to two weeks; a room is open today.",
         hours=[("ALL", "00:00", "23:59")], langs="en es to sm",
         docs=["Birth certificates or school records for the children, if available"],
         costs=[FREE], areas=[COUNTY],
         capacities=[("family rooms", 1, 14, "Family rooms open today.")]),
    dict(slug="cedar-path-rapid-rehousing", org="cedar-path", name="Rapid Rehousing for Families",
         domains=["homelessness", "housing-instability"], locs=["cedar-path-redwood-city"], path="rehousing",
         email="housing",
         description="Housing locators find apartments with landlords willing to rent to families leaving "
                     "homelessness, and the program pays the deposit and a declining share of rent for up to "
                     "12 months. Case managers help families increase income so they can keep the home.",
         eligibility="Families in a San Mateo County shelter, car or unsafe housing, referred through the "
                     "county's coordinated entry system.",
         application="Ask a shelter case manager or call the county Core Service Agency for a coordinated "
                     "entry assessment.",
         fees="Free.", wait="Placement usually within 60 days of enrollment.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en es to sm",
         docs=["Photo ID for adults", "Proof of income, if any"], costs=[FREE], areas=[COUNTY],
         capacities=[("households", 3, 40, "Enrollment openings this month.")]),

    # --- Steady Roof Home Repair ------------------------------------------------------------
    dict(slug="steady-roof-safe-at-home", org="steady-roof", name="Safe at Home Critical Repairs",
         domains=["inadequate-housing"], locs=["steady-roof-san-carlos"], path="safe-at-home",
         email="repairs",
         description="Free critical repairs for owner-occupied homes: roof leaks, broken heaters, unsafe "
                     "wiring, plumbing failures and trip hazards. A construction manager visits, scopes the "
                     "work and schedules licensed contractors and volunteers.",
         eligibility="Homeowners in San Mateo County with income at or below 80% of area median income; "
                     "priority for adults 60 and older, people with disabilities and veterans.",
         application="Call for a phone screening, then submit the application with income documents; a home "
                     "visit follows within a month.",
         fees="Free for eligible homeowners (labor and materials up to $5,000 per home).",
         wait="Currently a waitlist of about three months; emergencies without heat are prioritized.",
         hours=[("MO-FR", "08:00", "16:00")], langs="en es vi",
         docs=["Photo ID", "Proof of home ownership (property tax bill)", "Proof of income"],
         costs=[("Income-qualified homeowners", 0.0, "No cost for labor and materials up to $5,000")],
         areas=[COUNTY],
         capacities=[("repair projects this quarter", 0, 25, "Full for this quarter; waitlist open.")]),
    dict(slug="steady-roof-healthy-homes", org="steady-roof", name="Healthy Homes: Mold, Lead & Pest Fixes",
         domains=["inadequate-housing"], locs=["steady-roof-san-carlos"], path="healthy-homes",
         email="healthyhomes",
         description="A healthy-homes specialist inspects for mold, moisture, lead paint, pests and poor "
                     "ventilation, then the crew makes fixes such as bathroom fans, moisture repairs and pest "
                     "sealing. Families also get free HEPA vacuums and green cleaning kits.",
         eligibility="Renters or owners in San Mateo County with low income, with a child or adult with "
                     "asthma or other respiratory illness in the household. Renters need landlord permission "
                     "for repairs; staff can help ask.",
         application="Referral from a clinic, school nurse or case manager, or self-referral by phone.",
         fees="Free.", wait="Home assessment within three weeks.",
         hours=[("MO-FR", "08:00", "16:00")], langs="en es vi",
         costs=[FREE], areas=[COUNTY],
         capacities=[("home assessments this month", 5, 12, "Assessment visits still open this month.")]),
    dict(slug="steady-roof-accessibility-mods", org="steady-roof", name="Accessibility Modifications",
         status="inactive", domains=["inadequate-housing"], locs=["steady-roof-san-carlos"],
         path="accessibility", email="access",
         description="Ramps, grab bars, handrails, widened doorways and walk-in showers that let older adults "
                     "and people with disabilities live safely at home. This program is no longer offered "
                     "because its grant ended; callers are referred to Safe at Home Critical Repairs, which "
                     "still installs grab bars and handrails.",
         eligibility="Homeowners or renters (with landlord permission) in San Mateo County who have a "
                     "disability or mobility limitation and low to moderate income.",
         application="Not accepting new applications.",
         fees="Free for households under 60% of area median income; a sliding-scale materials fee above that.",
         langs="en es vi",
         costs=[FREE, ("Sliding-scale materials fee", 150.0,
                       "$150–$900 toward materials for households between 60% and 80% of area median income")],
         areas=[COUNTY]),

    # --- Brightwater Energy & Water Assistance ----------------------------------------------
    dict(slug="brightwater-bill-assistance", org="brightwater", name="Energy Bill Assistance",
         alt="LIHEAP bill payment", domains=["utility-insecurity", "financial-insecurity"],
         locs=["brightwater-foster-city", "brightwater-daly-city"], path="bill-assistance", email="bills",
         description="A once-a-year credit of up to $1,000 toward PG&E or other energy bills, with emergency "
                     "processing for households with a shutoff notice. Staff also enroll clients in the CARE "
                     "and FERA utility discount programs.",
         eligibility="San Mateo County households with income at or below 60% of state median income. Renters "
                     "whose utilities are included in rent are not eligible.",
         application="Apply online, by mail or at either office; bring your most recent utility bill.",
         fees="Free.", wait="Standard applications take four to six weeks; shutoff cases within 48 hours.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en es zh vi ru tl ar",
         docs=["Photo ID", "Most recent energy bill", "Proof of income for all adults in the household"],
         costs=[FREE], areas=[COUNTY]),
    dict(slug="brightwater-weatherization", org="brightwater", name="Free Home Weatherization",
         domains=["utility-insecurity", "inadequate-housing"], locs=["brightwater-foster-city"],
         path="weatherization", email="weatherize",
         description="Crews seal drafts, add insulation, replace broken windows and install efficient "
                     "furnaces, water heaters and appliances to make homes warmer and cut energy bills. An "
                     "energy audit and a carbon monoxide check are part of every visit.",
         eligibility="Owners and renters with income at or below 60% of state median income; renters need "
                     "landlord consent.",
         application="Apply together with energy bill assistance or separately by phone.", fees="Free.",
         wait="About one month from approval to the first visit.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en es zh vi",
         docs=["Photo ID", "Recent energy bill", "Proof of income"], costs=[FREE], areas=[COUNTY],
         capacities=[("homes this month", 9, 30, "Weatherization visits still open this month.")]),
    dict(slug="brightwater-water-shutoff", org="brightwater", name="Water Shutoff Prevention",
         domains=["utility-insecurity"], locs=["brightwater-daly-city"], path="water", email="water",
         description="Caseworkers negotiate payment plans with water districts and apply for water-bill "
                     "discount programs to stop or reverse a shutoff. They also check for leaks that drive up "
                     "bills and arrange free repairs when possible.",
         eligibility="San Mateo County households behind on a water or sewer bill, or with a shutoff notice.",
         application="Call or walk in during Daly City office hours with your water bill.", fees="Free.",
         wait="Shutoff cases are handled the same day.",
         hours=[("TU-TH", "10:00", "18:00")], langs="en es tl zh ar",
         docs=["Water bill or shutoff notice"], costs=[FREE], areas=[COUNTY]),

    # --- Pathway Rides Collaborative -------------------------------------------------------
    dict(slug="pathway-medical-rides", org="pathway-rides", name="Rides to Medical Appointments",
         domains=["transportation-insecurity"], locs=["pathway-belmont"], path="medical-rides", email="rides",
         description="Volunteer and contracted drivers take people to medical, dental, dialysis and mental "
                     "health appointments anywhere in San Mateo County and to Stanford and UCSF hospitals. "
                     "Wheelchair-accessible vans are available.",
         eligibility="Adults with low income and no other way to reach care; Medi-Cal members are also helped "
                     "to book their plan's free ride benefit.",
         application="Call at least 48 hours before the appointment.", fees="Free.",
         wait="Book 48 hours ahead; same-day rides only for hospital discharge.",
         hours=[("MO-FR", "07:00", "19:00")], langs="en es tl",
         costs=[FREE], areas=[COUNTY],
         capacities=[("rides per week", 18, 150, "Unbooked rides this week.")]),
    dict(slug="pathway-transit-pass", org="pathway-rides", name="Discount Transit Pass Enrollment",
         domains=["transportation-insecurity", "financial-insecurity"], locs=["pathway-belmont"],
         path="transit-pass", email="passes",
         description="Staff enroll eligible riders in Clipper START (half-price fares on SamTrans, Caltrain and "
                     "BART) and senior, youth and disability discount Clipper cards, and load a free first "
                     "month for new enrollees. Enrollment takes about 20 minutes.",
         eligibility="Adults 19–64 with income at or below 200% of the federal poverty level, or seniors, "
                     "youth and people with disabilities for the matching discount cards.",
         application="Walk in or book by phone; bring ID and proof of income.", fees="Free.",
         wait="Walk-ins usually seen within 15 minutes.",
         hours=[("MO-FR", "09:00", "17:00"), ("SA", "09:00", "14:00")], langs="en es tl",
         docs=["Photo ID", "Proof of income or benefits card"], costs=[FREE], areas=[COUNTY]),
    dict(slug="pathway-bikes-for-work", org="pathway-rides", name="Bikes for Work",
         domains=["transportation-insecurity", "employment-status"], locs=["pathway-belmont"], path="bikes",
         email="bikes", min_age=16,
         description="Refurbished commuter bikes with lock, lights and helmet for people who need a way to get "
                     "to a job or job training. Each bike comes with a safety class and free tune-ups for a year.",
         eligibility="Job seekers and workers 16 and older living or working in San Mateo County.",
         application="Come to an open shop session; a referral from a job program waives the fee.",
         fees="$25 per bike, or free with a referral from a job program.",
         wait="Bikes usually ready the same day.",
         hours=[("WE", "16:00", "19:00"), ("SA", "09:00", "14:00")], langs="en es",
         costs=[("Refurbished bike with lock, lights and helmet", 25.0, "$25 per bike"),
                ("With a job-program referral", 0.0, "No cost")],
         areas=[COUNTY],
         capacities=[("bikes in stock", 12, 40, "Ready-to-ride bikes in the shop.")]),

    # --- Sure Footing Financial Center ------------------------------------------------------
    dict(slug="sure-footing-tax-prep", org="sure-footing", name="Free Tax Preparation",
         alt="VITA tax site", status="temporarily closed", domains=["financial-insecurity"],
         locs=["sure-footing-redwood-city", "sure-footing-daly-city"], path="taxes", email="taxes",
         description="IRS-certified volunteers prepare and e-file federal and California returns and claim the "
                     "Earned Income and Young Child tax credits. The tax site is closed between seasons and "
                     "reopens for appointments in late January.",
         eligibility="Households earning up to $67,000 a year; ITIN filers welcome.",
         application="Appointments open in January by phone or online.", fees="Free.",
         wait="Closed until the next tax season.",
         langs="en es tl zh",
         docs=["Photo ID", "Social Security cards or ITIN letters for everyone on the return",
               "W-2s, 1099s and other income forms", "Last year's tax return"],
         costs=[FREE], areas=[COUNTY]),
    dict(slug="sure-footing-coaching", org="sure-footing", name="One-on-One Financial Coaching",
         domains=["financial-insecurity", "stress"], locs=["sure-footing-redwood-city", "sure-footing-daly-city"],
         path="coaching", email="coaching",
         description="A certified coach meets with you monthly to make a budget, pull and repair your credit, "
                     "set up a debt plan and open a safe bank account. Clients who stay six months raise their "
                     "credit scores by 40 points on average.",
         eligibility="San Mateo County residents with low to moderate income.",
         application="Book a first session by phone or online; evening and Saturday sessions available.",
         fees="Free.", wait="First appointment within two weeks.",
         hours=[("TU-FR", "10:00", "18:00"), ("SA", "09:00", "13:00")], langs="en es to tl zh ar",
         docs=["Photo ID"], costs=[FREE], areas=[COUNTY],
         capacities=[("appointments per week", 10, 36, "Open coaching appointments this week.")]),
    dict(slug="sure-footing-emergency-grants", org="sure-footing", name="Emergency Cash Grants",
         domains=["financial-insecurity", "material-hardship", "utility-insecurity"],
         locs=["sure-footing-redwood-city"], path="grants", email="grants",
         description="One-time grants of up to $500 for an urgent expense that threatens a household's "
                     "stability, such as a utility shutoff, car repair needed for work, or replacing a broken "
                     "refrigerator. Payments go directly to the vendor or utility.",
         eligibility="San Mateo County households with income at or below 60% of area median income facing an "
                     "emergency expense; limited to one grant per 12 months.",
         application="Apply with a coach by appointment; bring the bill or estimate.", fees="Free.",
         wait="Decisions within five business days.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en es to",
         docs=["Photo ID", "Bill, shutoff notice or repair estimate", "Proof of income"],
         costs=[FREE], areas=[COUNTY],
         capacities=[("grants remaining this month", 5, 40, "Grants still available this month.")]),

    # --- Second Closet Community Exchange ---------------------------------------------------
    dict(slug="second-closet-clothing", org="second-closet", name="Free Clothing & Household Goods",
         domains=["material-hardship"], locs=["second-closet-pacifica", "second-closet-san-bruno"],
         path="clothing", email="shop",
         description="Shop for free clothing, shoes, bedding, kitchenware and small appliances, including "
                     "interview outfits and school uniforms. Each household can take up to 30 items per visit.",
         eligibility="Anyone in need; no income questions.", application="Walk in during open hours.",
         fees="Free.", wait="Usually no wait; Saturdays can be busy.",
         hours=[("WE-FR", "11:00", "19:00"), ("SA,SU", "10:00", "16:00")], langs="en es tl to sm ar",
         costs=[FREE], areas=[COUNTY]),
    dict(slug="second-closet-baby-bank", org="second-closet", name="Baby Essentials Bank",
         domains=["material-hardship"], locs=["second-closet-san-bruno"], path="baby", email="baby",
         description="Monthly diapers and wipes, plus formula, strollers, cribs and inspected car seats for "
                     "families with babies and toddlers. Car seats come with a fitting by a certified "
                     "technician.",
         eligibility="Families with children under 3 living in San Mateo County.",
         application="Register once with the child's birth record or clinic card, then pick up monthly.",
         fees="Free.", wait="Same-day pickup.",
         hours=[("WE-FR", "11:00", "19:00"), ("SA", "10:00", "16:00")], langs="en es tl to sm",
         docs=["Child's birth certificate, hospital record or clinic card"], costs=[FREE], areas=[COUNTY]),
    dict(slug="second-closet-move-in-kits", org="second-closet", name="Move-In Furniture & Kits",
         domains=["material-hardship", "homelessness"], locs=["second-closet-pacifica"], path="move-in",
         email="movein",
         description="Beds, tables, chairs and a move-in kit of dishes, linens and cleaning supplies, delivered "
                     "to people moving from shelter or the street into housing. Delivery and setup are free.",
         eligibility="People exiting homelessness into housing in San Mateo County; referral required.",
         application="A case manager submits the referral with the move-in date.", fees="Free.",
         wait="Deliveries are booked about four weeks out.",
         hours=[("TU-SA", "10:00", "17:00")], langs="en es tl",
         docs=["Referral from a case manager or housing program"], costs=[FREE], areas=[COUNTY],
         capacities=[("furniture deliveries this month", 0, 20, "All delivery slots this month are booked.")]),
    dict(slug="second-closet-refurbished-devices", org="second-closet", name="Refurbished Phones & Laptops",
         domains=["digital-access", "material-hardship"], locs=["second-closet-san-bruno"], path="devices",
         email="devices",
         description="Donated smartphones and laptops are wiped, repaired and sold at a nominal price, with a "
                     "charger and a one-year repair guarantee. Volunteers set up e-mail and key apps before you "
                     "leave.",
         eligibility="San Mateo County residents with low income who do not own a working device.",
         application="Walk in during repair bench hours; a referral from a school or job program waives the fee.",
         fees="$20 for a smartphone, $50 for a laptop; free with a school or job-program referral.",
         wait="Devices are usually ready the same day.",
         hours=[("SA,SU", "10:00", "16:00")], langs="en es tl",
         costs=[("Refurbished smartphone", 20.0, "$20"), ("Refurbished laptop", 50.0, "$50"),
                ("With a school or job-program referral", 0.0, "No cost")],
         areas=[COUNTY]),

    # --- Workbridge Peninsula Careers -------------------------------------------------------
    dict(slug="workbridge-job-search", org="workbridge", name="Job Search & Placement",
         domains=["employment-status"], locs=["workbridge-ssf", "workbridge-redwood-city"], path="jobs",
         email="jobs", min_age=18,
         description="Career advisors help with résumés, interview practice and applications, and connect "
                     "job seekers to hiring events with local employers. The career center has free computers, "
                     "printing and Wi-Fi.",
         eligibility="Adults 18 and older who live or work in San Mateo County and want a new or better job.",
         application="Attend a Monday or Tuesday orientation, or book an advisor appointment by phone.",
         fees="Free.", wait="Orientations every week.",
         hours=[("MO", "08:30", "17:00"), ("TU", "08:30", "19:00"), ("WE-FR", "08:30", "17:00")],
         langs="en es tl zh ar to sm", costs=[FREE], areas=[COUNTY]),
    dict(slug="workbridge-pre-apprenticeship", org="workbridge", name="Construction & Life-Science Pre-Apprenticeship",
         domains=["employment-status", "educational-attainment"], locs=["workbridge-ssf"],
         path="pre-apprenticeship", email="training", min_age=18,
         description="A paid 10-week training that prepares adults for union construction apprenticeships or "
                     "entry-level biotech lab and manufacturing jobs. Participants earn industry certificates "
                     "(OSHA-10, CPR, GMP) and a weekly stipend.",
         eligibility="Adults 18 and older with a high school diploma or equivalent (or enrolled in a HSE "
                     "program), unemployed or underemployed.",
         application="Attend an information session, then complete a math and reading assessment and "
                     "interview.",
         fees="Free; participants receive a $300 weekly stipend.", wait="Next cohort starts in January.",
         hours=[("MO-TH", "08:00", "15:00")], langs="en es",
         docs=["Photo ID", "Proof of work authorization", "Diploma, HSE certificate or enrollment letter"],
         costs=[FREE], areas=[COUNTY],
         capacities=[("seats in next cohort", 6, 24, "Seats left in the January cohort.")]),
    dict(slug="workbridge-youth-jobs", org="workbridge", name="Youth Summer & Year-Round Jobs",
         domains=["employment-status"], locs=["workbridge-redwood-city"], path="youth", email="youth",
         min_age=16, max_age=24,
         description="Paid work experience for young people at local businesses, nonprofits and city "
                     "departments, with job-readiness workshops and a mentor. Summer placements run June to "
                     "August; year-round placements fit around school.",
         eligibility="Young people aged 16 to 24 living in San Mateo County; priority for youth in foster "
                     "care, youth on probation and youth from low-income households.",
         application="Apply online or at the Redwood City center; a short interview follows.", fees="Free.",
         wait="Placements within four to six weeks.",
         hours=[("MO-TH", "13:00", "18:00"), ("FR", "10:00", "16:00")], langs="en es to sm",
         docs=["Photo ID or school ID", "Work permit for minors"], costs=[FREE], areas=[COUNTY],
         capacities=[("job placements open", 22, 120, "Open youth job placements.")]),

    # --- Open Door Adult Learning Center ----------------------------------------------------
    dict(slug="open-door-hse", org="open-door-learning", name="High School Equivalency (GED/HiSET) Classes",
         alt="HSE prep", domains=["educational-attainment"], locs=["open-door-san-mateo", "open-door-daly-city"],
         path="hse", email="hse", min_age=18,
         description="Evening classes prepare adults for the GED or HiSET exam in reading, writing, math, "
                     "science and social studies. Tutors, practice tests and exam vouchers are provided, and "
                     "free child care is available at the San Mateo site.",
         eligibility="Adults 18 and older without a high school diploma (16- and 17-year-olds with a school "
                     "district release).",
         application="Register at either center; a placement test sets your starting level.",
         fees="Free, including exam fees for enrolled students.", wait="Enrollment opens each month.",
         hours=[("MO-TH", "18:00", "21:00")], langs="en es",
         docs=["Photo ID"], costs=[FREE], areas=[COUNTY],
         capacities=[("class seats", 9, 60, "Open seats across both sites.")]),
    dict(slug="open-door-esl", org="open-door-learning", name="English as a Second Language (ESL)",
         domains=["educational-attainment"], locs=["open-door-san-mateo", "open-door-daly-city"], path="esl",
         email="esl", min_age=18,
         description="Six levels of English classes, from beginning literacy to advanced conversation and "
                     "workplace English. Morning, evening and Saturday sessions are offered, and students can "
                     "earn certificates for job applications.",
         eligibility="Adults 18 and older whose first language is not English.",
         application="Register in person; a placement test is given the same day.", fees="Free.",
         wait="Classes are full this term; new students join a waitlist for January.",
         hours=[("MO", "09:00", "12:00"), ("TU", "18:00", "20:30"), ("WE", "09:00", "12:00"),
                ("TH", "18:00", "20:30"), ("SA", "09:00", "12:00")],
         langs="en es zh ru ar vi tl", interp="Registration help in Spanish, Chinese, Russian, Arabic, "
                                               "Vietnamese and Tagalog.",
         costs=[FREE], areas=[COUNTY],
         capacities=[("class seats", 0, 180, "All ESL classes are full this term; waitlist open.")]),
    dict(slug="open-door-digital-skills", org="open-door-learning", name="Computer & Smartphone Basics",
         domains=["digital-access"], locs=["open-door-san-mateo"], path="computer-basics", email="tech",
         description="Small hands-on classes teach mouse and keyboard skills, e-mail, safe web browsing, "
                     "video calls and using patient portals and benefits websites. Students who finish the "
                     "four-week course can borrow a laptop for home practice.",
         eligibility="Adults of any age who are new to computers or smartphones.",
         application="Sign up at the front desk or by phone.", fees="Free.", wait="Courses start every month.",
         hours=[("TU,TH", "10:00", "12:00"), ("SA", "10:00", "12:00")], langs="en es zh ru",
         costs=[FREE], areas=[CENTRAL_COUNTY]),

    # --- CoverAll Health Access -----------------------------------------------------------
    dict(slug="coverall-medi-cal-enrollment", org="coverall-health", name="Medi-Cal Enrollment & Renewal Help",
         domains=["health-insurance-coverage-status"], locs=["coverall-redwood-city", "coverall-half-moon-bay"],
         path="medi-cal", email="enroll",
         description="Certified enrollment counselors help you apply for Medi-Cal, complete annual renewals and "
                     "fix problems such as lost coverage or a wrong health plan. Medi-Cal is open to all "
                     "income-eligible Californians regardless of immigration status.",
         eligibility="Anyone in San Mateo County who may qualify for Medi-Cal or needs help keeping it.",
         application="Call to book, or drop in on Saturday mornings in Half Moon Bay.", fees="Free.",
         wait="Appointments within one week.",
         hours=[("MO-FR", "09:00", "17:00"), ("SA", "10:00", "14:00")], langs="en es to sm tl",
         docs=["Photo ID", "Proof of income", "Proof of address"], costs=[FREE], areas=[COUNTY],
         capacities=[("appointments per week", 15, 50, "Open enrollment appointments this week.")]),
    dict(slug="coverall-covered-ca-navigators", org="coverall-health", name="Covered California Navigators",
         domains=["health-insurance-coverage-status"], locs=["coverall-redwood-city"], path="covered-california",
         email="navigators",
         description="Navigators compare Covered California plans with you, apply federal and state premium "
                     "subsidies and enroll you during open enrollment or after a life change. Evening "
                     "appointments suit people who work during the day.",
         eligibility="San Mateo County residents who do not qualify for Medi-Cal and need individual or family "
                     "coverage.",
         application="Book an appointment by phone or online.", fees="Free.",
         wait="Same-week appointments outside open enrollment.",
         hours=[("MO-WE", "09:00", "17:00"), ("TH", "12:00", "20:00")], langs="en es",
         docs=["Photo ID", "Last year's tax return or proof of income", "Immigration documents, if applicable"],
         costs=[FREE], areas=[COUNTY]),
    dict(slug="coverall-medical-bill-advocacy", org="coverall-health", name="Medical Bill Advocacy",
         domains=["medical-cost-burden", "financial-insecurity"], locs=["coverall-redwood-city"],
         path="bills", email="bills",
         description="Patient advocates review hospital and doctor bills for errors, apply for hospital "
                     "charity care and discount programs, and negotiate payment plans with billing offices and "
                     "collectors. Many clients see their bills reduced or cancelled.",
         eligibility="San Mateo County residents with medical bills they cannot afford, insured or uninsured.",
         application="Call to schedule; bring every bill and any collection letters.", fees="Free.",
         wait="First review within two weeks.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en es to sm",
         docs=["Medical bills and collection letters", "Insurance card, if any", "Proof of income"],
         costs=[FREE], areas=[COUNTY]),

    # --- Juniper Community Clinic -----------------------------------------------------------
    dict(slug="juniper-primary-care", org="juniper-clinic", name="Sliding-Scale Primary Care",
         domains=["medical-cost-burden", "health-insurance-coverage-status"], locs=["juniper-menlo-park"],
         path="primary-care", email="appointments",
         description="Check-ups, chronic disease care, women's health, vaccines and lab work for adults and "
                     "children, priced on a sliding scale for people without insurance. A benefits counselor "
                     "on site screens every uninsured patient for Medi-Cal.",
         eligibility="Anyone, insured or not; the sliding scale applies to uninsured patients with household "
                     "income up to 300% of the federal poverty level.",
         application="Call for an appointment; same-day sick visits open at 8:00.",
         fees="Medi-Cal and insured patients pay their plan's copay; uninsured patients pay $20–$60 per visit "
              "based on income.",
         wait="New patient appointments within two weeks; same-day sick visits available.",
         hours=[("MO-FR", "08:00", "18:00"), ("SA", "09:00", "13:00")], langs="en es to sm tl",
         interp="Phone and video interpreters for any language.",
         docs=["Photo ID", "Proof of income for sliding-scale pricing"],
         costs=[("Medi-Cal or insured", 0.0, "No charge beyond the plan's copay"),
                ("Uninsured, sliding scale", 20.0, "$20–$60 per visit based on household income")],
         areas=[SOUTH_COUNTY],
         capacities=[("new patient appointments per week", 4, 30, "New patient slots this week.")]),
    dict(slug="juniper-prescription-help", org="juniper-clinic", name="Prescription Assistance Program",
         domains=["medical-cost-burden"], locs=["juniper-menlo-park"], path="prescriptions", email="pharmacy",
         description="Low-cost generic medications from the clinic's pharmacy window and help enrolling in "
                     "drug-maker assistance programs for expensive brand-name medicines. Pharmacists also "
                     "review medication lists to find cheaper alternatives.",
         eligibility="Uninsured or underinsured patients of any clinic who cannot afford their prescriptions.",
         application="Bring your prescription or medication list to the pharmacy window.",
         fees="$4 per 30-day supply of formulary generics; brand-name programs are free to apply for.",
         wait="Generics filled the same day; brand-name programs take two to four weeks.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en es to sm",
         docs=["Prescription or medication list", "Proof of income for brand-name programs"],
         costs=[("Generic medications", 4.0, "$4 per 30-day supply"),
                ("Drug-maker assistance applications", 0.0, "No cost to apply")],
         areas=[SOUTH_COUNTY]),

    # --- Willow Harbor Safety Network ---------------------------------------------------------
    dict(slug="willow-harbor-crisis-line", org="willow-harbor", name="24-Hour Domestic Violence Crisis Line",
         domains=["intimate-partner-violence", "stress"], locs=["willow-harbor-drop-in"], path="crisis-line",
         email="help",
         description="Trained advocates answer the crisis line 650-555-0161 day and night for anyone affected "
                     "by domestic or dating violence. They help with safety planning, emergency shelter, "
                     "hospital accompaniment and connecting to legal help.",
         eligibility="Anyone experiencing or worried about abuse by a partner or family member, and friends, "
                     "family and professionals calling on their behalf.",
         application="Call 650-555-0161 any time. In immediate danger, call 911.", fees="Free.",
         wait="Calls answered immediately, 24 hours a day.",
         hours=[("ALL", "00:00", "23:59")], langs="en es tl to sm zh",
         interp="Phone interpreters for more than 200 languages; TTY and text relay accepted.",
         costs=[FREE], areas=[COUNTY]),
    dict(slug="willow-harbor-safe-house", org="willow-harbor", name="Confidential Emergency Safe House",
         domains=["intimate-partner-violence", "homelessness"], locs=["willow-harbor-safe-house"],
         path="safe-house", email="help",
         description="A confidential safe house where survivors and their children can stay for up to eight "
                     "weeks, with advocates on site around the clock. Residents get help with restraining "
                     "orders, benefits, counseling and finding permanent housing.",
         eligibility="Survivors of domestic or intimate partner violence in danger, with or without children; "
                     "all genders welcome.",
         application="Call the 24-hour crisis line for a safety screening; the location is shared only after "
                     "screening.",
         fees="Free.", wait="Same-day entry when a bed is open; otherwise hotel vouchers are offered.",
         hours=[("ALL", "00:00", "23:59")], langs="en es tl to sm",
         costs=[FREE], areas=[COUNTY],
         capacities=[("beds", 2, 18, "Beds open tonight.")]),
    dict(slug="willow-harbor-legal-advocacy", org="willow-harbor", name="Restraining Order & Court Advocacy",
         domains=["intimate-partner-violence", "legal-needs"], locs=["willow-harbor-drop-in"],
         path="court-advocacy", email="advocacy",
         description="Advocates help survivors prepare domestic violence restraining order paperwork, file it "
                     "with the court and go with them to hearings. They also coordinate with police and "
                     "victim-witness programs in criminal cases.",
         eligibility="Survivors of domestic, dating or family violence in San Mateo County.",
         application="Walk in during drop-in hours or call the crisis line to book.", fees="Free.",
         wait="Walk-ins seen the same day; emergency orders can be filed the same day.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en es tl to sm zh",
         docs=["Any police reports, photos, texts or other evidence, if safe to bring"],
         costs=[FREE], areas=[COUNTY]),
    dict(slug="willow-harbor-support-groups", org="willow-harbor", name="Survivor Support Groups",
         domains=["intimate-partner-violence", "social-connection"], locs=["willow-harbor-drop-in"],
         path="support-groups", email="groups", min_age=18,
         description="Weekly peer support groups led by advocates, in English and Spanish, with a separate "
                     "group for parents and free child care. Groups focus on healing, healthy relationships "
                     "and rebuilding connection.",
         eligibility="Adult survivors of intimate partner violence; no need to be in other Willow Harbor "
                     "services.",
         application="Call for a short intake conversation before the first group.", fees="Free.",
         wait="Join the next weekly session after intake.",
         hours=[("TU", "18:00", "19:30"), ("TH", "18:00", "19:30"), ("SA", "10:00", "11:30")],
         langs="en es", costs=[FREE], areas=[COUNTY]),

    # --- Evergreen Elder Advocates ----------------------------------------------------------
    dict(slug="evergreen-elder-abuse-advocacy", org="evergreen-elder", name="Elder Abuse Advocacy & Case Management",
         domains=["elder-abuse"], locs=["evergreen-burlingame"], path="advocacy", email="advocacy",
         description="Advocates respond to physical, emotional and financial abuse and neglect of older "
                     "adults, working alongside Adult Protective Services. They make safety plans, arrange "
                     "in-home help and connect victims to legal and counseling services.",
         eligibility="Adults 65 and older, and dependent adults 18–64, in San Mateo County who are being "
                     "harmed or neglected. Anyone concerned may refer.",
         application="Call the office; in an emergency call 911 or Adult Protective Services.", fees="Free.",
         wait="Contact within one business day; urgent cases the same day.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en zh ru es tl",
         costs=[FREE], areas=[COUNTY]),
    dict(slug="evergreen-scam-help", org="evergreen-elder", name="Scam & Financial Exploitation Help Desk",
         domains=["elder-abuse", "financial-insecurity"], locs=["evergreen-burlingame"], path="scams",
         email="scams", min_age=60,
         description="Trained volunteers help older adults who have been targeted by scams or financial abuse "
                     "report the loss, freeze credit, contact banks and recover money where possible. Monthly "
                     "workshops teach how to spot phone, romance and gift-card scams.",
         eligibility="Adults 60 and older in San Mateo County and their family caregivers.",
         application="Call or walk in during help desk hours.", fees="Free.",
         wait="Same-day help during open hours.",
         hours=[("MO,WE,FR", "10:00", "15:00")], langs="en zh ru",
         docs=["Bank statements or messages related to the scam, if available"],
         costs=[FREE], areas=[COUNTY]),
    dict(slug="evergreen-caregiver-respite", org="evergreen-elder", name="Family Caregiver Support & Respite",
         domains=["stress", "social-connection"], locs=["evergreen-burlingame"], path="caregivers",
         email="caregivers",
         description="Family caregivers of older adults get a care consultant, monthly support groups and up to "
                     "eight hours a month of in-home respite so they can rest. Groups meet in English, Chinese "
                     "and Russian.",
         eligibility="Unpaid family caregivers of adults 60 and older, or of anyone with dementia, in San "
                     "Mateo County.",
         application="Call for an intake assessment with a care consultant.",
         fees="Support groups and consultations are free; respite beyond eight hours a month is $12 per hour "
              "on a sliding scale.",
         wait="Respite hours start about two weeks after intake.",
         hours=[("MO-FR", "09:00", "17:00"), ("SA", "10:00", "12:00")], langs="en zh ru",
         costs=[("Consultations, groups and 8 hours of respite per month", 0.0, "No cost"),
                ("Additional respite hours", 12.0, "$12 per hour on a sliding scale")],
         areas=[COUNTY]),

    # --- Crestline Counseling Collective ----------------------------------------------------
    dict(slug="crestline-sliding-counseling", org="crestline-counseling", name="Sliding-Scale Counseling",
         domains=["stress", "medical-cost-burden"], locs=["crestline-san-carlos", "crestline-pacifica"],
         path="counseling", email="intake",
         description="Short-term individual, couples and family counseling (up to 16 sessions) for stress, "
                     "anxiety, depression, grief and life changes, in person or by video. Fees follow a sliding "
                     "scale so cost is not a barrier.",
         eligibility="Children, teens and adults in San Mateo County; under-18s need a parent's consent.",
         application="Call or complete the online intake form; a counselor calls back for a 15-minute "
                     "screening.",
         fees="$15–$90 per session based on household income; Medi-Cal accepted.",
         wait="New client intake within about one week.",
         hours=[("MO-TH", "09:00", "20:00"), ("FR", "09:00", "17:00"), ("SA", "09:00", "13:00")],
         langs="en es vi zh tl",
         costs=[("Sliding scale", 15.0, "$15–$90 per session based on household income"),
                ("Medi-Cal members", 0.0, "No cost")],
         areas=[COUNTY],
         capacities=[("new client intakes per week", 3, 10, "Open intake appointments this week.")]),
    dict(slug="crestline-warmline", org="crestline-counseling", name="Evening Peer Support Warmline",
         domains=["stress", "social-connection"], locs=["crestline-san-carlos"], path="warmline",
         email="warmline",
         description="A free, confidential line answered by trained peers with lived experience, for anyone "
                     "who is stressed, lonely or having a hard day but is not in crisis. Callers can talk as "
                     "often as they like.",
         eligibility="Anyone 16 and older in San Mateo County.",
         application="Call the warmline during open hours; no sign-up. In a crisis, call or text 988.",
         fees="Free.", wait="Most calls answered within five minutes.",
         hours=[("ALL", "17:00", "23:00")], langs="en es", min_age=16,
         costs=[FREE], areas=[COUNTY]),

    # --- LinkUp Peninsula Digital Equity -----------------------------------------------------
    dict(slug="linkup-device-lending", org="linkup-digital", name="Laptop & Hotspot Lending",
         domains=["digital-access"], locs=["linkup-north-fair-oaks", "linkup-daly-city"], path="lending",
         email="lending",
         description="Borrow a laptop and a mobile Wi-Fi hotspot with unlimited data for up to six months, "
                     "renewable while you are in school, job training or looking for work. Setup help and a "
                     "short orientation are included.",
         eligibility="San Mateo County residents with low income and no home computer or internet.",
         application="Bring ID to either tech hub; equipment is checked out the same day when available.",
         fees="Free; no deposit.", wait="Laptops the same day; hotspots are waitlisted.",
         hours=[("TU-FR", "12:00", "18:00"), ("SA", "10:00", "14:00")], langs="en es tl zh to sm ar",
         docs=["Photo ID"], costs=[FREE], areas=[COUNTY],
         capacities=[("laptops", 7, 60, "Laptops ready to lend."),
                     ("hotspots", 0, 40, "All hotspots are on loan; waitlist open.")]),
    dict(slug="linkup-affordable-internet", org="linkup-digital", name="Low-Cost Internet & Lifeline Phone Enrollment",
         domains=["digital-access", "utility-insecurity"], locs=["linkup-north-fair-oaks"], path="internet",
         email="internet",
         description="Navigators help families sign up for low-cost home internet plans and the Lifeline "
                     "phone discount, and compare providers available at your address. They also help get "
                     "internet service reconnected after a shutoff.",
         eligibility="Households receiving CalFresh, Medi-Cal, WIC, SSI or free school meals, or with low "
                     "income.",
         application="Drop in or call to book a 30-minute appointment.",
         fees="Enrollment help is free; internet plans cost $0–$30 a month from the provider.",
         wait="Walk-ins usually seen within 20 minutes.",
         hours=[("MO-FR", "10:00", "18:00"), ("SA", "10:00", "14:00")], langs="en es to sm",
         docs=["Benefits card or proof of income", "Proof of address"], costs=[FREE], areas=[COUNTY]),
    dict(slug="linkup-tech-help-desk", org="linkup-digital", name="Drop-In Tech Help Desk",
         domains=["digital-access"], locs=["linkup-north-fair-oaks", "linkup-daly-city"], path="help-desk",
         email="help",
         description="Bring your phone, tablet or laptop and get one-on-one help with e-mail, passwords, "
                     "online forms, telehealth visits and school apps. Volunteers also fix common device "
                     "problems for free.",
         eligibility="Anyone; priority for older adults and families with school-age children.",
         application="Walk in; no appointment needed.", fees="Free.", wait="Usually under 30 minutes.",
         hours=[("TU-TH", "15:00", "19:00"), ("SA", "10:00", "14:00")], langs="en es tl zh",
         costs=[FREE], areas=[COUNTY]),

    # --- Peninsula Justice Collaborative ------------------------------------------------------
    dict(slug="justice-eviction-defense", org="peninsula-justice", name="Eviction Defense",
         domains=["legal-needs", "housing-instability"], locs=["justice-redwood-city", "justice-san-mateo"],
         path="eviction", email="eviction",
         description="Attorneys advise and represent tenants facing eviction, from notices through unlawful "
                     "detainer court hearings, and negotiate move-out time or repayment agreements. Tenants "
                     "served with court papers must respond within 10 court days, so call right away.",
         eligibility="Low-income tenants in San Mateo County facing eviction; immigration status does not "
                     "matter.",
         application="Call the intake line or walk in with all papers you received from your landlord or the "
                     "court.",
         fees="Free.", wait="Tenants with court papers are seen within two business days.",
         hours=[("MO-FR", "09:00", "17:00")], langs="en es to tl zh ru ar",
         interp="Interpreters for any language at no cost.",
         docs=["All notices and court papers", "Lease or rental agreement", "Rent receipts"],
         costs=[FREE], areas=[COUNTY],
         capacities=[("new cases per week", 5, 25, "New eviction cases the team can accept this week.")]),
    dict(slug="justice-habitability-clinic", org="peninsula-justice", name="Tenant Repairs & Habitability Clinic",
         domains=["legal-needs", "inadequate-housing"], locs=["justice-san-mateo"], path="repairs",
         email="tenants",
         description="An evening clinic where tenants learn their rights when landlords will not fix mold, "
                     "leaks, pests, broken heat or unsafe conditions. Staff write repair demand letters and "
                     "help request code inspections.",
         eligibility="Tenants in San Mateo County living with unrepaired housing problems.",
         application="Drop in during clinic hours; bring photos of the problems.", fees="Free.",
         wait="First come, first served; arrive by 18:00.",
         hours=[("WE", "17:00", "19:00")], langs="en es zh ru ar",
         docs=["Photos of the problems", "Lease", "Any letters or texts to the landlord"],
         costs=[FREE], areas=[COUNTY]),
    dict(slug="justice-restraining-orders", org="peninsula-justice", name="Domestic Violence Restraining Order Clinic",
         domains=["legal-needs", "intimate-partner-violence"], locs=["justice-redwood-city"],
         path="restraining-orders", email="dvro",
         description="Attorneys help survivors prepare and file domestic violence restraining orders, "
                     "including custody and support orders, and represent many clients at the hearing. The "
                     "clinic coordinates with advocacy agencies for safety planning.",
         eligibility="Survivors of domestic violence in San Mateo County; free for all regardless of income.",
         application="Walk in on clinic days or call for an appointment; safety questions are asked first.",
         fees="Free.", wait="Same-day help on clinic days.",
         hours=[("MO,WE", "09:00", "16:00")], langs="en es to tl",
         docs=["Any evidence of abuse, if safe to bring", "Existing court orders"],
         costs=[FREE], areas=[COUNTY]),
    dict(slug="justice-senior-legal", org="peninsula-justice", name="Senior Legal Services",
         domains=["legal-needs", "elder-abuse"], locs=["justice-san-mateo"], path="seniors", email="seniors",
         min_age=60,
         description="Free legal help for older adults with elder abuse restraining orders, financial "
                     "exploitation, powers of attorney, simple wills, housing and public benefits. Attorneys "
                     "make home visits for clients who cannot travel.",
         eligibility="San Mateo County residents 60 and older.",
         application="Call for a phone intake; home visits arranged as needed.", fees="Free.",
         wait="Appointments within two weeks; elder abuse cases prioritized.",
         hours=[("TU,TH", "09:00", "17:00")], langs="en es zh ru",
         costs=[FREE], areas=[COUNTY]),
    dict(slug="justice-immigration", org="peninsula-justice", name="Immigration Legal Consultations",
         domains=["legal-needs"], locs=["justice-redwood-city", "justice-san-mateo"], path="immigration",
         email="immigration",
         description="Confidential consultations with an immigration attorney or DOJ-accredited representative "
                     "to review options such as DACA renewals, family petitions, U visas for crime victims and "
                     "naturalization. Staff also help complete and file applications.",
         eligibility="Immigrants and their families living in San Mateo County.",
         application="Call to book a consultation; monthly citizenship workshops are walk-in.",
         fees="Consultations are free; application help is a $75 flat fee, waived for low-income clients. "
              "Government filing fees are not included.",
         wait="Consultations within three weeks.",
         hours=[("TU", "09:00", "17:00"), ("TH", "13:00", "19:00")], langs="en es zh tl ar",
         docs=["Passport or other ID", "Any immigration documents and notices"],
         costs=[("Consultation", 0.0, "Free consultation"),
                ("Application assistance", 75.0, "$75 flat fee per application; waived for low-income clients")],
         areas=[COUNTY]),
    dict(slug="justice-record-clearance", org="peninsula-justice", name="Record Clearance Clinic",
         alt="Clean Slate clinic", domains=["legal-needs", "employment-status"], locs=["justice-redwood-city"],
         path="clean-slate", email="cleanslate", min_age=18,
         description="Attorneys help people clear or reduce old convictions (expungement, Prop 47 reductions, "
                     "certificates of rehabilitation) so records no longer block jobs and housing. Most "
                     "petitions are filed within a month of the clinic.",
         eligibility="Adults with a California conviction who have completed probation or sentence.",
         application="Attend a monthly clinic; bring any court papers or your RAP sheet if you have it.",
         fees="Free.", wait="Monthly clinics; petitions filed within about a month.",
         hours=[("SA", "10:00", "14:00")], langs="en es",
         docs=["Photo ID", "Court papers or RAP sheet, if available"], costs=[FREE], areas=[COUNTY]),

    # --- Talanoa Pacific & Asian Family Circle ------------------------------------------------
    dict(slug="talanoa-family-safety", org="talanoa-circle", name="Family Safety Advocacy",
         domains=["intimate-partner-violence"], locs=["talanoa-san-bruno", "talanoa-redwood-city"],
         path="family-safety", email="safety",
         description="Culturally rooted advocates help Pacific Islander and Asian families affected by "
                     "domestic violence with safety planning, shelter referrals and accompaniment to court and "
                     "police, in the family's own language. Advocates work with churches and community leaders "
                     "while keeping every conversation confidential.",
         eligibility="Survivors of intimate partner or family violence and their families, with a focus on "
                     "Pacific Islander and Asian communities.",
         application="Call or walk in; advocates can also meet at a safe place of your choice.",
         fees="Free.", wait="Same-day response.",
         hours=[("MO-FR", "10:00", "18:00"), ("SA", "10:00", "14:00")], langs="en to sm tl zh vi",
         costs=[FREE], areas=[COUNTY]),
    dict(slug="talanoa-elder-safety", org="talanoa-circle", name="Elder Safety & Respect Outreach",
         domains=["elder-abuse"], locs=["talanoa-san-bruno"], path="elders", email="elders", min_age=60,
         description="Bilingual outreach workers visit elders at home, church and community events to "
                     "recognize and stop neglect, financial abuse and mistreatment within families. They help "
                     "elders and families make care plans and connect to Adult Protective Services when needed.",
         eligibility="Pacific Islander and Asian elders 60 and older in San Mateo County and their families.",
         application="Call, walk in, or ask a pastor or community leader to refer.", fees="Free.",
         wait="Home visit within one week.",
         hours=[("MO-FR", "10:00", "18:00")], langs="en to sm tl zh vi",
         costs=[FREE], areas=[COUNTY]),
    dict(slug="talanoa-community-hub", org="talanoa-circle", name="Community Connections Hub",
         domains=["social-connection"], locs=["talanoa-san-bruno", "talanoa-redwood-city"], path="hub",
         email="hub",
         description="Weekly gatherings, language and cultural classes, elders' lunches and family events that "
                     "bring newcomers and long-time residents together. Sunday afternoon talanoa circles are "
                     "open to all ages.",
         eligibility="Everyone is welcome.", application="Come to any event; no sign-up needed.", fees="Free.",
         wait="No wait.",
         hours=[("WE", "17:00", "20:00"), ("SA", "10:00", "14:00"), ("SU", "14:00", "18:00")],
         langs="en to sm tl zh vi", costs=[FREE], areas=[COUNTY]),
    dict(slug="talanoa-coverage-enrollment", org="talanoa-circle", name="Health Coverage Enrollment in Your Language",
         domains=["health-insurance-coverage-status"], locs=["talanoa-san-bruno"], path="coverage",
         email="coverage",
         description="Certified enrollment counselors who speak Tongan, Samoan, Tagalog, Chinese and "
                     "Vietnamese help families apply for and renew Medi-Cal and Covered California. They also "
                     "explain how to choose a doctor and use the plan.",
         eligibility="San Mateo County residents without health coverage or needing help renewing it.",
         application="Call to book or walk in on Saturdays.", fees="Free.", wait="Appointments within a week.",
         hours=[("TU,TH", "10:00", "18:00"), ("SA", "10:00", "14:00")], langs="en to sm tl zh vi",
         docs=["Photo ID", "Proof of income"], costs=[FREE], areas=[COUNTY]),
    dict(slug="talanoa-youth-tutoring", org="talanoa-circle", name="Youth Tutoring & College Access",
         domains=["educational-attainment"], locs=["talanoa-redwood-city"], path="tutoring", email="youth",
         min_age=10, max_age=18,
         description="After-school homework help, reading and math tutoring, and college and financial-aid "
                     "application workshops for middle and high school students. Mentors include Pacific "
                     "Islander college students from local universities.",
         eligibility="Students aged 10 to 18 in San Mateo County; priority for first-generation college "
                     "students.",
         application="A parent or guardian registers the student at the center.", fees="Free.",
         wait="Spots open at the start of each semester.",
         hours=[("MO-TH", "15:30", "18:30")], langs="en to sm es",
         docs=["Parent or guardian consent form"], costs=[FREE], areas=[SOUTH_COUNTY],
         capacities=[("student spots", 8, 45, "Open tutoring spots this semester.")]),
]


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------

def uid(key: str) -> str:
    return str(uuid.uuid5(NS, key))


def sdoh_term_id(code: str) -> str:
    return str(uuid.uuid5(SDOH_NS, "sdoh:" + code))


def phone_number(block: int, offset: int) -> str:
    n = 4 * block + offset
    assert 0 <= n <= 99, (block, offset)
    return f"650-555-01{n:02d}"


def expand_days(spec: str) -> list[str]:
    if spec == "ALL":
        return list(DAYS)
    out: list[str] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(DAYS[DAYS.index(a):DAYS.index(b) + 1])
        else:
            out.append(part)
    return out


def _clock(hhmm: str) -> str:
    return hhmm[1:] if hhmm.startswith("0") and hhmm[1] != ":" else hhmm


def day_hours(hours: list[tuple]) -> dict[str, tuple[str, str]]:
    """(days, opens, closes) entries -> {day: (opens, closes)}; opens=None changes only the closing time."""
    out: dict[str, tuple[str, str]] = {}
    for spec, opens, closes in hours:
        for day in expand_days(spec):
            if opens is None:
                out[day] = (out[day][0], closes)
            else:
                out[day] = (opens, closes)
    return dict(sorted(out.items(), key=lambda kv: DAYS.index(kv[0])))


def schedules(owner_key: str, owner_field: str, owner_id: str, hours: list[tuple]) -> list[dict]:
    out = []
    for day, (opens, closes) in day_hours(hours).items():
        if (opens, closes) == ("00:00", "23:59"):
            text = f"{DAY_NAMES[day]}, open 24 hours"
        else:
            text = f"{DAY_NAMES[day]} {_clock(opens)}–{_clock(closes)}"
        out.append({"id": uid(f"sched:{owner_key}:{day}"), owner_field: owner_id, "freq": "WEEKLY",
                    "wkst": "MO", "byday": day, "opens_at": opens, "closes_at": closes,
                    "timezone": TIMEZONE, "description": text})
    return out


def languages(owner_key: str, owner_field: str, owner_id: str, codes: str) -> list[dict]:
    return [{"id": uid(f"lang:{owner_key}:{code}"), owner_field: owner_id, "name": LANGUAGES[code], "code": code}
            for code in codes.split()]


def spread_date(key: str, start: date, days: int) -> date:
    """A stable, evenly spread date derived from a key (no randomness)."""
    return start + timedelta(days=int(hashlib.sha256(key.encode()).hexdigest(), 16) % days)


def build_organization(spec: dict) -> dict:
    slug = spec["slug"]
    org_id = uid(f"org:{slug}")
    main_phone = {"id": uid(f"phone:org:{slug}"), "organization_id": org_id,
                  "number": phone_number(spec["block"], 1), "type": "voice",
                  "description": spec.get("main_phone_description", "Main line")}
    org = {"id": org_id, "name": spec["name"], "description": spec["description"] + FICTIONAL_SUFFIX,
           "email": f"info@{slug}.example.org", "website": f"https://{slug}.example.org",
           "legal_status": spec.get("legal_status", "Nonprofit"), "phones": [main_phone], "locations": []}
    next_offset = 2
    for loc in spec["locations"]:
        ls = loc["slug"]
        loc_id = uid(f"loc:{ls}")
        doc = {"id": loc_id, "organization_id": org_id, "location_type": "physical", "name": loc["name"],
               "description": loc["description"]}
        if not loc.get("confidential"):
            doc["transportation"] = loc["transportation"]
            doc["latitude"] = loc["lat"]
            doc["longitude"] = loc["lon"]
            doc["addresses"] = [{"id": uid(f"addr:{ls}"), "location_id": loc_id, "address_1": loc["address"],
                                 "city": loc["city"], "state_province": "CA", "postal_code": loc["zip"],
                                 "country": "US", "address_type": "physical"}]
        if loc.get("phone", True):
            doc["phones"] = [{"id": uid(f"phone:loc:{ls}"), "location_id": loc_id,
                              "number": phone_number(spec["block"], next_offset), "type": "voice"}]
            next_offset += 1
        doc["languages"] = languages(f"loc:{ls}", "location_id", loc_id, loc["langs"])
        doc["accessibility"] = [{"id": uid(f"access:{ls}:{i}"), "location_id": loc_id, "description": text}
                                for i, text in enumerate(loc["access"])]
        doc["schedules"] = schedules(f"loc:{ls}", "location_id", loc_id, loc["hours"])
        org["locations"].append(doc)
    return org


def build_service(spec: dict) -> dict:
    slug, org = spec["slug"], spec["org"]
    svc_id = uid(f"svc:{slug}")
    doc = {"id": svc_id, "organization_id": uid(f"org:{org}"), "name": spec["name"]}
    if spec.get("alt"):
        doc["alternate_name"] = spec["alt"]
    doc.update({
        "description": spec["description"],
        "url": f"https://{org}.example.org/{spec['path']}",
        "email": f"{spec['email']}@{org}.example.org",
        "status": spec.get("status", "active"),
    })
    if spec.get("interp"):
        doc["interpretation_services"] = spec["interp"]
    doc["application_process"] = spec["application"]
    doc["fees_description"] = spec["fees"]
    if spec.get("wait"):
        doc["wait_time"] = spec["wait"]
    doc["eligibility_description"] = spec["eligibility"]
    if spec.get("min_age") is not None:
        doc["minimum_age"] = spec["min_age"]
    if spec.get("max_age") is not None:
        doc["maximum_age"] = spec["max_age"]
    doc["assured_date"] = spread_date(f"assured:{slug}", date(2026, 6, 1), 183).isoformat()
    doc["service_at_locations"] = [{"id": uid(f"sal:{slug}:{loc}"), "service_id": svc_id,
                                    "location_id": uid(f"loc:{loc}")} for loc in spec["locs"]]
    if spec.get("hours"):
        doc["schedules"] = schedules(f"svc:{slug}", "service_id", svc_id, spec["hours"])
    doc["languages"] = languages(f"svc:{slug}", "service_id", svc_id, spec["langs"])
    if spec.get("docs"):
        doc["required_documents"] = [{"id": uid(f"doc:{slug}:{i}"), "service_id": svc_id, "document": text}
                                     for i, text in enumerate(spec["docs"])]
    doc["cost_options"] = [{"id": uid(f"cost:{slug}:{i}"), "service_id": svc_id, "option": option,
                            "currency": "USD", "amount": float(amount), "amount_description": text}
                           for i, (option, amount, text) in enumerate(spec["costs"])]
    doc["service_areas"] = [{"id": uid(f"area:{slug}:{i}"), "service_id": svc_id, "name": name,
                             "extent_type": "text", "extent": extent}
                            for i, (name, extent) in enumerate(spec["areas"])]
    if spec.get("capacities"):
        doc["capacities"] = []
        for unit, available, maximum, text in spec["capacities"]:
            updated = spread_date(f"cap:{slug}:{unit}", date(2026, 11, 14), 7).isoformat() + "T17:00:00Z"
            doc["capacities"].append({"id": uid(f"cap:{slug}:{unit}"), "service_id": svc_id, "unit": unit,
                                      "available": available, "maximum": maximum, "description": text,
                                      "updated": updated})
    doc["attributes"] = [{"id": uid(f"attr:{slug}:sdoh:{code}"), "link_id": svc_id, "link_entity": "service",
                          "link_type": "sdoh_domain", "taxonomy_term_id": sdoh_term_id(code)}
                         for code in spec["domains"]]
    return doc


# ---------------------------------------------------------------------------------------------
# Checks (standard library only; the JSON Schema check is done separately with jsonschema)
# ---------------------------------------------------------------------------------------------

def collect_ids(node, out: list[str]) -> None:
    if isinstance(node, dict):
        if "id" in node:
            out.append(node["id"])
        for value in node.values():
            collect_ids(value, out)
    elif isinstance(node, list):
        for value in node:
            collect_ids(value, out)


def validate(orgs: list[dict], services: list[dict]) -> Counter:
    problems: list[str] = []
    ids: list[str] = []
    collect_ids(orgs, ids)
    collect_ids(services, ids)
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    if dupes:
        problems.append(f"duplicate ids: {dupes}")

    org_ids = {o["id"] for o in orgs}
    loc_ids = {loc["id"] for o in orgs for loc in o["locations"]}
    terms = {t["code"]: t["id"] for t in json.loads(SDOH_FILE.read_text())["taxonomy_terms.csv"]}
    term_ids = set(terms.values())
    for code in REQUIRED_DOMAINS:
        if code not in terms:
            problems.append(f"SDOH code {code} not in {SDOH_FILE.name}")
        elif terms[code] != sdoh_term_id(code):
            problems.append(f"SDOH term id for {code} differs from {SDOH_FILE.name}")

    numbers = []
    hhmm = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
    for o in orgs:
        for loc in o["locations"]:
            for sched in loc["schedules"]:
                if not (hhmm.match(sched["opens_at"]) and hhmm.match(sched["closes_at"])
                        and sched["opens_at"] < sched["closes_at"]):
                    problems.append(f"{loc['name']}: bad hours {sched['opens_at']}-{sched['closes_at']}")
        if not o["description"].endswith(FICTIONAL_SUFFIX):
            problems.append(f"{o['name']}: description lacks the fictional marker")
        numbers += [p["number"] for p in o["phones"]]
        for loc in o["locations"]:
            numbers += [p["number"] for p in loc.get("phones", [])]
            if "addresses" in loc:
                lat, lon = loc["latitude"], loc["longitude"]
                if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]):
                    problems.append(f"{loc['name']}: {lat},{lon} outside San Mateo County box")
                for a in loc["addresses"]:
                    if a["postal_code"] not in CITY_ZIPS.get(a["city"], ()):
                        problems.append(f"{loc['name']}: ZIP {a['postal_code']} is not in {a['city']}")
            elif "latitude" in loc or "longitude" in loc:
                problems.append(f"{loc['name']}: confidential location must not have coordinates")
    for n, count in Counter(numbers).items():
        if count > 1:
            problems.append(f"phone number {n} used {count} times")
        if not re.fullmatch(r"650-555-01\d\d", n):
            problems.append(f"phone number {n} is outside 650-555-01xx")

    per_domain: Counter = Counter()
    active_per_domain: Counter = Counter()
    orgs_per_domain: dict[str, set] = {}
    statuses = Counter(s["status"] for s in services)
    for s in services:
        if s["organization_id"] not in org_ids:
            problems.append(f"{s['name']}: unknown organization_id")
        for sal in s["service_at_locations"]:
            if sal["location_id"] not in loc_ids:
                problems.append(f"{s['name']}: unknown location_id {sal['location_id']}")
        if not "2026-06-01" <= s["assured_date"] <= "2026-11-30":
            problems.append(f"{s['name']}: assured_date {s['assured_date']}")
        for sched in s.get("schedules", []):
            if not (hhmm.match(sched["opens_at"]) and hhmm.match(sched["closes_at"])
                    and sched["opens_at"] < sched["closes_at"]):
                problems.append(f"{s['name']}: bad hours {sched['opens_at']}-{sched['closes_at']}")
        days = [sched["byday"] for sched in s.get("schedules", [])]
        if len(days) != len(set(days)):
            problems.append(f"{s['name']}: more than one schedule per day")
        for attr in s["attributes"]:
            if attr["taxonomy_term_id"] not in term_ids:
                problems.append(f"{s['name']}: unknown taxonomy term")
            code = next(c for c, i in terms.items() if i == attr["taxonomy_term_id"])
            per_domain[code] += 1
            if s["status"] == "active":
                active_per_domain[code] += 1
                orgs_per_domain.setdefault(code, set()).add(s["organization_id"])
    for code in REQUIRED_DOMAINS:
        if active_per_domain[code] < 3:
            problems.append(f"{code}: only {active_per_domain[code]} active services")
        if len(orgs_per_domain.get(code, ())) < 3:
            problems.append(f"{code}: active services from only {len(orgs_per_domain.get(code, ()))} agencies")
    if statuses["inactive"] != 1 or statuses["temporarily closed"] != 1:
        problems.append(f"expected one inactive and one temporarily closed service, got {dict(statuses)}")
    if problems:
        raise SystemExit("Demo agency data is invalid:\n  " + "\n  ".join(problems))
    return per_domain


def main() -> None:
    orgs = [build_organization(spec) for spec in ORGANIZATIONS]
    services = [build_service(spec) for spec in SERVICES]
    per_domain = validate(orgs, services)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in (("organizations.json", orgs), ("services.json", services)):
        (OUT_DIR / name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    locations = sum(len(o["locations"]) for o in orgs)
    statuses = Counter(s["status"] for s in services)
    print(f"Wrote {OUT_DIR.relative_to(HERE.parent)}/organizations.json and services.json")
    print(f"  organizations: {len(orgs)}  locations: {locations}  services: {len(services)} "
          f"({', '.join(f'{n} {k}' for k, n in sorted(statuses.items()))})")
    print("  services per SDOH domain:")
    for code in REQUIRED_DOMAINS:
        print(f"    {code:<34} {per_domain[code]}")


if __name__ == "__main__":
    main()
