# English display formats (see revops/formats/__init__.py): day before month, as
# the company writes dates in Russian, with the month in words so neither reader
# mistakes 03/07 for 7 March or 3 July; 24-hour time.
DATE_FORMAT = "j F Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
