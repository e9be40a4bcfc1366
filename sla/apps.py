from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA")

    def ready(self):
        from django.db.models.signals import post_migrate

        from revops import refcache
        from sla.models import BusinessCalendar, SlaPolicy

        post_migrate.connect(_seed, sender=self)
        refcache.connect(SlaPolicy, BusinessCalendar)


def _seed(sender, apps=None, **kwargs):
    from sla.defaults import seed_defaults

    seed_defaults(apps) if apps is not None else seed_defaults()
