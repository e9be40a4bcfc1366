"""Keep one Django group per role, carrying that role's model permissions."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from revops.roles import ROLE_PERMISSIONS


def sync_role_groups(using="default", **kwargs):
    # post_migrate reaches apps in INSTALLED_APPS order, so the permissions of
    # apps after ours may not exist yet: create them first (idempotent).
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    perms = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.using(using).select_related("content_type")
    }
    for role, names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.using(using).get_or_create(name=role)
        missing = [n for n in names if n not in perms]
        if missing:
            # A typo in ROLE_PERMISSIONS must not silently leave a role powerless.
            raise LookupError(f"Unknown permissions for role {role}: {', '.join(missing)}")
        group.permissions.set([perms[n] for n in names])
