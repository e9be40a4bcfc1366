"""The agreed definitions change over time, and the numbers must say which one
they were measured with (issue #15). Every change of the MQL/SQL checklist
(QualificationCriterion) or the ICP segments (Segment) — in the admin, an
import or the shell — writes a DefinitionVersion: the whole definition as it
now stands, who changed it and what changed against the version before.

The signal handlers below run once the change is committed (a save of a
segment with its criteria inline is one version, not one per row); the admin
says who is changing them with `changed_by(user)`. Version 1 is the definition
as first recorded: periods before it are read with it."""

import contextlib
import contextvars
import datetime as dt
import functools

from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from leads.models import DefinitionKind, DefinitionVersion, QualificationCriterion, Segment

CRITERION_FIELDS = ("text_ru", "text_en", "position", "is_active")
SEGMENT_FIELDS = (
    "name_ru",
    "name_en",
    "industry",
    "company_size",
    "budget",
    "deal_cycle_days",
    "pains",
    "triggers",
    "readiness",
    "fit",
    "is_active",
)
MODEL_KIND = {QualificationCriterion: DefinitionKind.CHECKLIST, Segment: DefinitionKind.SEGMENTS}

_actor = contextvars.ContextVar("definitions_actor", default=None)


@contextlib.contextmanager
def changed_by(user):
    """Changes of the definitions made inside are `user`'s."""
    token = _actor.set(user if user is not None and user.is_authenticated else None)
    try:
        yield
    finally:
        _actor.reset(token)


def snapshot(kind: str) -> list[dict]:
    """The definition as it stands: one dict per row, with a stable `key`."""
    if kind == DefinitionKind.CHECKLIST:
        criteria = QualificationCriterion.objects.select_related("segment").order_by(
            "level", "segment__code", "position", "code"
        )
        return [
            {
                "key": f"{c.segment.code if c.segment else '*'}/{c.level}/{c.code}",
                "code": c.code,
                "level": c.level,
                "segment": c.segment.code if c.segment else "",
                **{name: getattr(c, name) for name in CRITERION_FIELDS},
            }
            for c in criteria
        ]
    return [
        {"key": s.code, "code": s.code, **{name: getattr(s, name) for name in SEGMENT_FIELDS}}
        for s in Segment.objects.order_by("code")
    ]


def diff(before: list[dict], after: list[dict]) -> list[dict]:
    """What changed from one snapshot to the next, row by row."""
    old = {row["key"]: row for row in before}
    new = {row["key"]: row for row in after}
    changes = []
    for key, row in new.items():
        if key not in old:
            changes.append({"change": "added", "key": key, "row": row})
            continue
        fields = {
            name: [old[key].get(name), value]
            for name, value in row.items()
            if name != "key" and old[key].get(name) != value
        }
        if fields:
            changes.append({"change": "changed", "key": key, "row": row, "fields": fields})
    changes += [{"change": "removed", "key": key, "row": row} for key, row in old.items() if key not in new]
    return changes


def record(kind: str, actor=None, *, at: dt.datetime | None = None) -> DefinitionVersion | None:
    """Write a new version of `kind` if it differs from the last one; returns it
    (None when nothing changed). Two writers at once: the unique version
    number lets one win and the other try again, finding nothing new or its
    own change on top."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                last = DefinitionVersion.objects.filter(kind=kind).order_by("-number").first()
                now = snapshot(kind)
                if last is not None and last.snapshot == now:
                    return None
                return DefinitionVersion.objects.create(
                    kind=kind,
                    number=(last.number + 1) if last else 1,
                    changed_by=actor,
                    snapshot=now,
                    changes=diff(last.snapshot, now) if last else [],
                    **({"changed_at": at} if at else {}),
                )
        except IntegrityError:
            continue
    return None


def record_all(actor=None) -> None:
    for kind in DefinitionKind.values:
        record(kind, actor)


def _changed(sender, **kwargs):
    if kwargs.get("raw"):
        return  # fixtures load rows as they were
    transaction.on_commit(functools.partial(record, MODEL_KIND[sender], _actor.get()))


def connect() -> None:
    for model in MODEL_KIND:
        post_save.connect(_changed, sender=model, dispatch_uid=f"definitions-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"definitions-delete-{model.__name__}")


def in_force(start: dt.datetime, end: dt.datetime) -> dict[str, list[DefinitionVersion]]:
    """Per kind, the versions that were in force at some moment in [start, end):
    the last one from before `start` and every later one from before `end`; a
    period before the first version is read with the first. One query (the
    versions are few: one per change of an agreed definition)."""
    versions = DefinitionVersion.objects.defer("snapshot", "changes").select_related("changed_by")
    result: dict[str, list[DefinitionVersion]] = {kind: [] for kind in DefinitionKind.values}
    for version in versions.order_by("kind", "number"):
        rows = result[version.kind]
        if version.changed_at >= end and rows:
            continue  # came into force after the period
        if rows and version.changed_at <= start:
            rows.clear()  # a later version was already in force at the start
        rows.append(version)
    return result


def describe(change: dict) -> str:
    """One change in words, for the history page."""
    row = change["row"]
    suffix = "en" if (get_language() or "").startswith("en") else "ru"
    name = row.get(f"text_{suffix}") or row.get(f"name_{suffix}") or row.get("text_ru") or row.get("name_ru")
    name = name or row["code"]
    if change["change"] == "added":
        return _("Added: %(name)s") % {"name": name}
    if change["change"] == "removed":
        return _("Removed: %(name)s") % {"name": name}
    return _("Changed: %(name)s") % {"name": name}


def measured_with(start: dt.datetime, end: dt.datetime) -> dict[str, list[dict]]:
    """The funnel report's `definitions`: per kind, the versions in force in the
    period, each `{version, since, changed_by}` (`since` ISO; `changed_by` a
    name, or null for a change made outside the app)."""
    return {
        kind: [
            {
                "version": v.number,
                "since": v.changed_at.isoformat(),
                "changed_by": (v.changed_by.get_full_name() or v.changed_by.username)
                if v.changed_by
                else None,
            }
            for v in versions
        ]
        for kind, versions in in_force(start, end).items()
    }
