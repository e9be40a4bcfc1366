from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Funnel")

    def ready(self):
        from django.db.models.signals import post_migrate

        from leads.models import Campaign, IntakeKey, Product, RoutingRule, Segment, Source, Stage
        from revops import refcache
        from sla.signals import breached
        from sla.sweep import register_due_step

        # After every migrate and flush (tests that commit end with one), the
        # vocabulary the product relies on is there again.
        post_migrate.connect(_seed, sender=self)
        post_migrate.connect(refcache.clear, dispatch_uid="refcache-migrate")
        refcache.connect(Stage, Product, Campaign, RoutingRule, Source, Segment, IntakeKey)
        # The sweep (sla, below leads) breaches; what a breach does to the lead is here.
        breached.connect(_reassign_after_breach, dispatch_uid="leads-reassign-after-breach")
        # Every change of the checklist or the segments is a version (leads.definitions).
        from leads import definitions

        definitions.connect()
        # The same pass returns the leads whose nurture return date has come.
        register_due_step("returned", _return_due)
        # And runs the nurture tracks' due steps, then sends their emails (leads.tracks).
        register_due_step("track_steps", _track_steps)
        register_due_step("track_emails", _track_emails)
        # Disputed rejections: the head's reminder before the deadline, the executives' escalation after.
        register_due_step("dispute_reminded", _dispute_remind_due)
        register_due_step("dispute_escalated", _dispute_escalate_due)


def _return_due(now):
    from leads.returns import return_due

    return return_due(now)


def _dispute_remind_due(now):
    from leads.disputes import remind_due

    return remind_due(now)


def _dispute_escalate_due(now):
    from leads.disputes import escalate_due

    return escalate_due(now)


def _track_steps(now):
    from leads.tracks import run_due

    return run_due(now)


def _track_emails(now):
    from leads.tracks import deliver_due

    return deliver_due(now)


def _reassign_after_breach(sender, reassign, at, **kwargs):
    """A breached lead whose policy says so goes to someone else in the team."""
    from leads.assignment import reassign_after_breach
    from leads.models import Lead

    for lead_id in reassign:
        reassign_after_breach(Lead(pk=lead_id), at)


def _seed(sender, apps=None, **kwargs):
    from django.db import transaction

    from leads.definitions import record_all
    from leads.vocabulary import seed_nurture_reasons, seed_vocabulary

    # One transaction: the checklist seeded after a flush is one version, not one per line.
    with transaction.atomic():
        for seed in (seed_vocabulary, seed_nurture_reasons):
            seed(apps) if apps is not None else seed()
    record_all()  # version 1 of each definition, or what changed outside the app
