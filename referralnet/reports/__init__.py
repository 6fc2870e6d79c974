"""Outcome reports: how many referrals, how fast they are answered, how they end, where needs go unmet.

`services` computes every measure with SQL aggregates over the referrals one scope may see
(the whole network, the referrals an organization sent, or those sent to an agency);
`charts` draws them (pygal, server-side SVG); `views` serves the pages and CSV files and
`api.v1.reports` the JSON. `models.SearchGap` counts the searches that found nothing, in
aggregate, as the search package announces them (`recording`).
"""
