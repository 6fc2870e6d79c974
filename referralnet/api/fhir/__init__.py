"""FHIR R4 (4.0.1) under /fhir: the referral as SDOHCC Task + ServiceRequest, and the directory.

JSON only (`application/fhir+json`). Another system authenticates with the same API tokens as
/api/v1 and acts through its organization's integration service account, so it sees and may
change exactly what the organization's own staff may (`referrals.access`, `states`).

- `views.py`    the blueprint: routes, scopes, conditional update
- `common.py`   authentication, responses, OperationOutcome errors, the server's base URL
- `ids.py`      HSDS ids <-> FHIR ids (HSDS ids may not fit FHIR's id syntax)
- `resources.py` builders: model -> FHIR resource dict (Task, ServiceRequest, Patient, directory,
                 CapabilityStatement, our CodeSystems)
- `search.py`   search parameter parsing, filters, paging and the searchset Bundle
- `updates.py`  reading a PUT Task back into a status move

README "FHIR" lists the mapping decisions.
"""
