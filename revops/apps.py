from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RevopsConfig(AppConfig):
    name = "revops"
    verbose_name = _("People and teams")

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        # signin is imported for its receiver, which logs each sign-in lockout.
        from revops import refcache, signin, tokens  # noqa: F401
        from revops.groups import sync_role_groups
        from revops.models import Absence, Shift, Team, User
        from revops.sqlite import install_unicode_like

        connection_created.connect(install_unicode_like)
        # A password change or deactivation revokes the person's API tokens.
        tokens.connect_signals()
        # Teams and their reps' rosters are reference data of distribution
        # (revops/refcache.py, leads/assignment.py).
        refcache.connect(Team, Shift, Absence)
        refcache.connect(
            User, ignore_updates_of=frozenset({"last_login", "password", "language", "queue_order"})
        )

        # Permissions exist only after migrate, so the role groups follow it.
        post_migrate.connect(sync_role_groups, sender=self)
