"""The Russian production calendar's pre-holiday short days, as published.

Labour Code art. 95: the working day (or shift) immediately before a non-working
public holiday is one hour shorter. The non-working holidays are those of art. 112
(1–6 and 8 January, 7 January, 23 February, 8 March, 1 May, 9 May, 12 June,
4 November); days off *transferred* by a government decree are not holidays for
this rule. A working Saturday that a decree moved in front of a holiday is short as
well (it stands in for the weekday that would have been the pre-holiday one).

`sla.production.derived_short_days()` computes the days from the `holidays`
package's holidays and transfers; the lists below are the ones the Ministry of
Labour publishes with each year's production calendar, built from the government's
decrees on moving days off (the decrees the `holidays` package cites for its RU
transfers, e.g. consultant.ru LAW_455140 for 2024, LAW_481586 for 2025, LAW_515170
for 2026, LAW_544706 for 2027). Cross-check: a 40-hour week's annual norm is
8 h × working days − 1 h × short days (2019: 1970 h, 2020: 1979 h, 2021: 1972 h, 2022 and 2023: 1973 h,
2024: 1977 h, 2025 and 2026: 1972 h).

For a year listed here the list is authoritative; other years are derived, and
tests/sla/test_short_days.py checks that the derivation gives every list below.
When the government decides a year differently from the rule, add its list here.
"""

import datetime as dt

D = dt.date

PUBLISHED: dict[int, tuple[dt.date, ...]] = {
    2019: (D(2019, 2, 22), D(2019, 3, 7), D(2019, 4, 30), D(2019, 5, 8), D(2019, 6, 11), D(2019, 12, 31)),
    2020: (D(2020, 4, 30), D(2020, 5, 8), D(2020, 6, 11), D(2020, 11, 3), D(2020, 12, 31)),
    2021: (D(2021, 2, 20), D(2021, 4, 30), D(2021, 6, 11), D(2021, 11, 3)),
    2022: (D(2022, 2, 22), D(2022, 3, 5), D(2022, 11, 3)),
    2023: (D(2023, 2, 22), D(2023, 3, 7), D(2023, 11, 3)),
    2024: (
        D(2024, 2, 22),
        D(2024, 3, 7),
        D(2024, 4, 27),  # a working Saturday; 28 Apr – 1 May are days off
        D(2024, 5, 8),
        D(2024, 6, 11),
        D(2024, 11, 2),  # a working Saturday before Unity Day (Monday)
        D(2024, 12, 28),  # a working Saturday; 29 Dec – 8 Jan are days off
    ),
    # 8 May 2025 was a transferred day off (from 23 February), so 7 May is not short;
    # 31 December 2025 was a day off too (from 5 January), and no holiday follows 30 Dec.
    2025: (D(2025, 3, 7), D(2025, 4, 30), D(2025, 6, 11), D(2025, 11, 1)),
    2026: (D(2026, 4, 30), D(2026, 5, 8), D(2026, 6, 11), D(2026, 11, 3)),
    2027: (D(2027, 2, 20), D(2027, 4, 30), D(2027, 6, 11), D(2027, 11, 3)),
}
