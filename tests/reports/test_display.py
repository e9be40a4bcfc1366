"""Report pages show figures as people read them (UX.md); the API keeps raw decimals."""

from django.utils import translation

from reports.display import figure


def test_russian_money_percent_and_counts():
    with translation.override("ru"):
        assert figure("revenue", "4336000.00") == "4\u00a0336\u00a0000\u00a0₽"
        assert figure("cpl", "5266.50") == "5\u00a0267\u00a0₽"  # half-up to whole rubles
        assert figure("romi", "-87.5") == "-87,5\u00a0%"
        assert figure("leads", 50000) == "50\u00a0000"
        assert figure("first_contact_median_min", "13.8") == "13,8"
        assert figure("spend", None) == "—"


def test_english_uses_commas_and_points():
    with translation.override("en"):
        assert figure("margin", "1259522.4") == "1,259,522\u00a0₽"
        assert figure("met_pct", "41.5") == "41.5\u00a0%"
