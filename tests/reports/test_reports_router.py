"""REPORTS_DATABASE_URL: report reads go to the "reports" alias, writes never do.

The test adds a second alias pointing at the same test database (as TEST MIRROR
does) and counts the queries each connection runs.
"""

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.test.utils import CaptureQueriesContext

from leads.models import Lead
from reports.routers import REPORTS_ALIAS, ReportsRouter, reading_reports, report_db
from tests.factories import LeadFactory


@pytest.fixture
def reports_alias(settings):
    """A second connection, "reports", to the test database (committed data only).

    Built by hand and put in the handler's local store rather than in
    DATABASES: Django's test case only lets the aliases it knew at class set-up
    connect, and a connection made on the fly is allowed.
    """
    default = connections[DEFAULT_DB_ALIAS]
    conn = type(default)(dict(default.settings_dict), alias=REPORTS_ALIAS)
    setattr(connections._connections, REPORTS_ALIAS, conn)
    settings.REPORTS_DB_ALIAS = REPORTS_ALIAS
    try:
        yield conn
    finally:
        conn.close()
        delattr(connections._connections, REPORTS_ALIAS)


def test_without_the_setting_reports_read_default(db):
    assert report_db() == DEFAULT_DB_ALIAS
    with reading_reports() as alias:
        assert alias == DEFAULT_DB_ALIAS
        assert router.db_for_read(Lead) == DEFAULT_DB_ALIAS


@pytest.mark.django_db(transaction=True)
def test_report_reads_use_the_reports_alias_and_writes_never_do(reports_alias):
    lead = LeadFactory()
    default = connections[DEFAULT_DB_ALIAS]
    with (
        CaptureQueriesContext(default) as on_default,
        CaptureQueriesContext(reports_alias) as on_reports,
        reading_reports(),
    ):
        # A report's read, with a related object fetched lazily.
        row = Lead.objects.get(pk=lead.pk)
        assert row._state.db == REPORTS_ALIAS
        assert row.source.pk == lead.source_id
        assert Lead.objects.using(report_db()).count() == 1
        # Writes inside the block, and of an object read from the replica, go to default.
        row.comment = "saved on the primary"
        row.save(update_fields=["comment"])
        LeadFactory(contact=lead.contact, source=lead.source)
    reads = [q["sql"] for q in on_reports.captured_queries]
    assert len(reads) >= 3  # the get, the lazy source, the count (+ the factory's stage lookup)
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in reads), reads
    writes = [q["sql"] for q in on_default.captured_queries]
    assert any(sql.lstrip().upper().startswith("UPDATE") for sql in writes)
    assert any(sql.lstrip().upper().startswith("INSERT") for sql in writes)
    # Outside the block reads are back on default.
    with CaptureQueriesContext(reports_alias) as after:
        assert Lead.objects.count() == 2
    assert after.captured_queries == []
    assert Lead.objects.get(pk=lead.pk).comment == "saved on the primary"


def test_router_writes_and_migrations_only_on_default():
    r = ReportsRouter()
    assert r.db_for_write(Lead) == DEFAULT_DB_ALIAS
    assert r.allow_migrate(REPORTS_ALIAS, "leads") is False
    assert r.allow_migrate(DEFAULT_DB_ALIAS, "leads") is None


def test_settings_parse_reports_database_url(monkeypatch):
    """The env var adds the alias (mirroring default in tests); unset, there is none."""
    import importlib

    import config.settings as live

    monkeypatch.setenv("REPORTS_DATABASE_URL", "postgres://reader@replica.internal:5432/revops")
    try:
        fresh = importlib.reload(live)
        assert fresh.REPORTS_DB_ALIAS == "reports"
        alias = fresh.DATABASES["reports"]
        assert alias["HOST"] == "replica.internal" and alias["NAME"] == "revops"
        assert alias["TEST"] == {"MIRROR": "default"}
        assert fresh.DATABASE_ROUTERS == ["reports.routers.ReportsRouter"]
        monkeypatch.setenv("REPORTS_DATABASE_URL", "mysql://x@y/z")
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured, match="REPORTS_DATABASE_URL"):
            importlib.reload(live)
    finally:
        monkeypatch.delenv("REPORTS_DATABASE_URL")
        fresh = importlib.reload(live)
    assert fresh.REPORTS_DB_ALIAS == "default" and "reports" not in fresh.DATABASES


@pytest.mark.django_db(transaction=True)
def test_a_report_over_the_api_reads_its_leads_from_the_reports_alias(reports_alias, api, ceo, rep):
    """The data-quality report's GROUP BY over leads runs on "reports", never on default."""
    LeadFactory(owner=rep)
    api.force_authenticate(ceo)
    default = connections[DEFAULT_DB_ALIAS]
    with CaptureQueriesContext(default) as on_default, CaptureQueriesContext(reports_alias) as on_reports:
        answer = api.get("/api/v1/reports/quality/?by=owner")
    assert answer.status_code == 200
    assert answer.json()["total"]["open_leads"] == 1

    def lead_reads(queries):
        return [q["sql"] for q in queries.captured_queries if 'FROM "leads_lead"' in q["sql"]]

    assert len(lead_reads(on_reports)) == 1
    assert lead_reads(on_default) == []
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in on_reports.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_the_drill_down_list_reads_the_same_database_as_the_report(reports_alias, api, ceo):
    """DESIGN.md, "Drill-down": the list behind a count reads the report's database."""
    LeadFactory(owner=None)
    api.force_authenticate(ceo)
    with CaptureQueriesContext(reports_alias) as on_reports:
        answer = api.get("/api/v1/leads/?problem=no_owner")
    assert answer.status_code == 200 and answer.json()["count"] == 1
    assert any('FROM "leads_lead"' in q["sql"] for q in on_reports.captured_queries)
