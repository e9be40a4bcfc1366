"""Nurture tracks in the browser (issue #15): marketing's list and editor of
tracks (/nurture/tracks/), the open tasks tracks give marketers
(/nurture/tasks/), and the public unsubscribe page a track email links to
(/unsubscribe/<token>/).

Who: marketers, heads of marketing and administrators build tracks and do
their tasks; executives read the list of tracks (what marketing runs, and how
many leads are on each now); sales gets 403. Tracks and tasks are the
company's, not a person's: anyone who may edit may edit any of them.

The unsubscribe page needs no sign-in (the signed token in the link is the
permission) and takes the one-click POST mail systems send (RFC 8058), so it
is exempt from CSRF: the most a forged POST can do is what the link's owner
asked for.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from leads import tracks
from leads.choices import EnrollmentState
from leads.models import (
    Contact,
    MarketingTask,
    NurtureReason,
    NurtureStep,
    NurtureTrack,
    TrackEnrollment,
    Unsubscribe,
)
from leads.track_forms import TrackForm, step_formset
from revops.access import allowed_if
from revops.roles import MARKETING_ROLES, Role

EDIT_ROLES = frozenset({*MARKETING_ROLES, Role.ADMIN})
VIEW_ROLES = frozenset({*EDIT_ROLES, Role.EXECUTIVE})
TASK_PAGE_SIZE = 50


def may_edit(user) -> bool:
    return user.is_active and (user.is_superuser or user.role in EDIT_ROLES)


def may_view(user) -> bool:
    return user.is_active and (user.is_superuser or user.role in VIEW_ROLES)


viewer_only = allowed_if(may_view)
editor_only = allowed_if(may_edit)


@viewer_only
def track_list(request):
    rows = (
        NurtureTrack.objects.annotate(
            # Counted per track, each from its own index: a join of both tables
            # counted DISTINCT multiplies the enrollments by the steps (187 ms
            # against 49 ms at 1,000,000 leads, bench/pages.py).
            on_track=_count_of(TrackEnrollment.objects.filter(state=EnrollmentState.ACTIVE)),
            step_count=_count_of(NurtureStep.objects.all()),
        )
        .prefetch_related(Prefetch("reasons", queryset=NurtureReason.objects.order_by("position", "code")))
        .order_by("-is_active", "name", "id")
    )
    return render(
        request, "leads/track_list.html", {"tracks": list(rows), "can_edit": may_edit(request.user)}
    )


def _count_of(rows):
    """The number of `rows` of each track, as a scalar subquery (0 when none)."""
    counted = rows.filter(track=OuterRef("pk")).order_by().values("track").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted[:1]), 0)


@editor_only
def track_new(request):
    return _edit(request, NurtureTrack(created_by=request.user), extra=2)


@editor_only
def track_edit(request, pk: int):
    return _edit(request, get_object_or_404(NurtureTrack, pk=pk), extra=1)


def _edit(request, track: NurtureTrack, extra: int):
    Steps = step_formset(extra)
    steps = (
        NurtureStep.objects.filter(track=track).order_by("position")
        if track.pk
        else NurtureStep.objects.none()
    )
    if request.method == "POST":
        form = TrackForm(request.POST, instance=track)
        formset = Steps(request.POST, instance=track, queryset=steps, prefix="steps")
        if form.is_valid() and formset.is_valid():
            try:
                with transaction.atomic():
                    _save(form, formset)
                    stopped = (
                        0 if form.instance.is_active else tracks.stop_track(form.instance, timezone.now())
                    )
            except ChangedMeanwhile:
                form.add_error(
                    None,
                    _(
                        "Someone changed this track's steps while you were editing. Open it again to see them."
                    ),
                )
                return _page(request, form, formset, track, status=409)
            messages.success(request, _("Track “%(name)s” saved.") % {"name": form.instance.name})
            if stopped:
                messages.info(
                    request,
                    ngettext(
                        "The track is off: %(n)s lead was taken off it.",
                        "The track is off: %(n)s leads were taken off it.",
                        stopped,
                    )
                    % {"n": stopped},
                )
            return redirect("tracks:edit", pk=form.instance.pk)
        return _page(request, form, formset, track, status=400)
    form = TrackForm(instance=track)
    formset = Steps(instance=track, queryset=steps, prefix="steps")
    return _page(request, form, formset, track, status=200)


def _page(request, form, formset, track: NurtureTrack, status: int):
    on_track = track.enrollments.filter(state=EnrollmentState.ACTIVE).count() if track.pk else 0
    return render(
        request,
        "leads/track_form.html",
        {"form": form, "formset": formset, "track": track, "fields": tracks.FIELDS, "on_track": on_track},
        status=status,
    )


class ChangedMeanwhile(Exception):
    """Another save changed the track's steps between this form's check and its save."""


def _save(form: TrackForm, formset) -> NurtureTrack:
    if form.instance.pk:
        # Two marketers saving one track take turns (the track's row is the lock),
        # and the later one may not renumber steps it never saw.
        list(NurtureTrack.objects.select_for_update().filter(pk=form.instance.pk).values_list("pk"))
        shown = {f.instance.pk for f in formset.initial_forms}
        if shown != set(NurtureStep.objects.filter(track=form.instance).values_list("pk", flat=True)):
            raise ChangedMeanwhile
    track = form.save()
    ordered = formset.ordered()
    removed = [f.instance.pk for f in formset.deleted_forms if f.instance.pk]
    tracks.remove_steps(track, removed)
    NurtureStep.objects.filter(track=track, pk__in=removed).delete()
    # Positions are unique per track: move the kept steps out of the way first,
    # then number them 1, 2, 3… in the new order.
    kept = [f.instance.pk for f in ordered if f.instance.pk]
    NurtureStep.objects.filter(pk__in=kept).update(position=F("position") + 1000)
    for number, step_form in enumerate(ordered, start=1):
        step = step_form.save(commit=False)
        step.track, step.position = track, number
        step.save()
    return track


# --- tasks ----------------------------------------------------------------------------------------


@editor_only
def task_list(request):
    tasks = (
        MarketingTask.objects.filter(done_at__isnull=True)
        .select_related("lead__contact", "lead__stage", "enrollment__track")
        .order_by("created_at", "id")
    )
    page = Paginator(tasks, TASK_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "leads/track_tasks.html", {"page": page})


@editor_only
@require_POST
def task_done(request, pk: int):
    task = get_object_or_404(MarketingTask, pk=pk)
    if tracks.complete_task(task, request.user):
        messages.success(request, _("Task for lead #%(id)s done.") % {"id": task.lead_id})
    else:
        messages.info(request, _("Someone has already done this task."))
    return redirect("tracks:tasks")


# --- unsubscribing (public) -------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    contact_id = tracks.contact_id_from(token)
    if contact_id is None:
        return render(request, "leads/unsubscribe.html", {"state": "invalid"}, status=400)
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:  # erased since the email was sent
        return render(request, "leads/unsubscribe.html", {"state": "unknown"}, status=404)
    if request.method == "POST":
        tracks.unsubscribe(contact)
        return render(request, "leads/unsubscribe.html", {"state": "done"})
    done = Unsubscribe.objects.filter(contact=contact).exists()
    return render(request, "leads/unsubscribe.html", {"state": "done" if done else "ask"})


urlpatterns = [
    path("nurture/tracks/", track_list, name="list"),
    path("nurture/tracks/new/", track_new, name="new"),
    path("nurture/tracks/<int:pk>/", track_edit, name="edit"),
    path("nurture/tasks/", task_list, name="tasks"),
    path("nurture/tasks/<int:pk>/done/", task_done, name="task-done"),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
]
