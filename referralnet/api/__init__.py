"""Machine interfaces: the HSDS API (/hsds), the REST API (/api/v1, OpenAPI) and FHIR R4 (/fhir)."""
