"""Date styles per language (FORMAT_MODULE_PATH), one per context:

- DATE_FORMAT / DATETIME_FORMAT — in running text and a card's fields:
  "7 марта 2026, 09:05", "7 March 2026, 09:05";
- SHORT_DATE_FORMAT / SHORT_DATETIME_FORMAT — in tables, timelines, deadlines and
  next steps: "07.03.2026 09:05", "7 Mar 2026, 09:05";
- YEAR_MONTH_FORMAT — a month: "Март 2026", "March 2026".

Never strftime or isoformat for what a person reads: templates use `|date:"…_FORMAT"`,
Python uses revops.display (django.utils.formats underneath) in the active language.
Only the display formats are set here; input formats stay Django's.
"""
