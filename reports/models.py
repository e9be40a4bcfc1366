"""What the read side stores itself: monthly KPI targets for the dashboard."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class KpiCode(models.TextChoices):
    """The dashboard's tiles (DESIGN.md, "KPIs"); the code is the API's `code`."""

    REVENUE = "revenue", _("Revenue")
    MARGIN = "margin", _("Margin")
    WON = "won", _("Deals won")
    LEAD_TO_WON = "lead_to_won", _("Lead to deal, %")
    LEADS = "leads", _("Leads")
    CPL = "cpl", _("Cost per lead")
    TARGET_SHARE = "target_share", _("Target leads, %")
    LEAD_TO_SQL = "lead_to_sql", _("Lead to SQL, %")
    FIRST_CONTACT_MEDIAN_MIN = "first_contact_median_min", _("Median first contact, min")
    SLA_MET_PCT = "sla_met_pct", _("SLA met, %")
    SQL_TO_MEETING = "sql_to_meeting", _("SQL to meeting, %")
    MEETING_TO_WON = "meeting_to_won", _("Meeting to deal, %")
    DATA_QUALITY_PCT = "data_quality_pct", _("Data quality, %")


class KpiTarget(models.Model):
    """The target of one tile for one calendar month, set by executives in the
    browser. A count's or money target is for the whole month (the dashboard
    pro-rates it by days); a ratio's holds for any part of the month."""

    Code = KpiCode

    code = models.CharField(_("indicator"), max_length=40, choices=KpiCode.choices)
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    value = models.DecimalField(_("target"), max_digits=16, decimal_places=2)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        ordering = ["-month", "code"]
        constraints = [
            models.UniqueConstraint(fields=["code", "month"], name="kpitarget_unique_code_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="kpitarget_month_first_day"),
            models.CheckConstraint(
                condition=Q(code__in=[c.value for c in KpiCode]), name="kpitarget_code_valid"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="kpitarget_value_not_negative"),
        ]

    def __str__(self):
        return f"{self.get_code_display()} {self.month:%Y-%m}: {self.value}"
