"""Numbers as the club's staff write amounts and points: 150,000.00 and 231,210 (Django's zh_Hans formats group
nothing). Everything else falls through to Django's own zh_Hans formats."""

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
