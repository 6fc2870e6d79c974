"""Machine interfaces: the HSDS API (/hsds); the REST API (/api/v1) and FHIR (/fhir) come later."""
