"""Referrals: clients, consent, referrals and their timeline (FHIR Task shaped).

- `models`   the tables and the vocabularies they store, each backed by a CHECK constraint
- `states`   the state machine: the only code that changes `Referral.status`
- `services` plain verb_noun operations (send, accept, close the loop...) that flush, never commit
- `access`   the one place that decides which referrals and clients a user may see
- `calendar` business-day arithmetic for response due dates
- `timing`   how long each referral took (to the first view, the answer, the closed loop), stored for reports
"""
