"""The audit log: who did or saw what, when — recording (ids and codes only), browsing, export.

`services.audit()` records; every package that changes something calls it (accounts
report their changes through the `accounts.signals` it listens to, because the audit
pages sit above accounts). `browsing` filters and exports rows for the admin pages in
`views` (/admin/audit).
"""
