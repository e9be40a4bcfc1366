from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Funnel")

    def ready(self):
        from django.db.models.signals import post_migrate

        from leads.models import Campaign, IntakeKey, Product, RoutingRule, Segment, Source, Stage
        from revops import refcache

        # After every migrate and flush (tests that commit end with one), the
        # vocabulary the product relies on is there again.
        post_migrate.connect(_seed, sender=self)
        post_migrate.connect(refcache.clear, dispatch_uid="refcache-migrate")
        refcache.connect(Stage, Product, Campaign, RoutingRule, Source, Segment, IntakeKey)


def _seed(sender, apps=None, **kwargs):
    from leads.vocabulary import seed_vocabulary

    seed_vocabulary(apps) if apps is not None else seed_vocabulary()
