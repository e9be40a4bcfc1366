"""The head's board and what a head does from it: acknowledge breaches and
reassign leads in bulk, mark a rep absent and hand their leads over.

Who may do what (DESIGN.md, "Who uses it"): a head acts on their own team only;
an administrator on any team; executives and marketing read the board; reps
neither. Every change is validated whole before anything is written: an id the
person may not touch answers 404, malformed input 400, and nothing changes."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from leads.actions import Conflict, Invalid
from leads.assignment import assign_manually, hand_over_open_leads, redistribute_open_leads
from leads.board import DEFAULT_PERIOD, available_reps, board, board_filters, board_team, can_act
from leads.choices import AssignmentKind
from leads.models import Lead
from revops.inputs import parse_id
from revops.models import Absence, Team, User
from revops.redirects import safe_next
from revops.roles import Role
from sla import actions as sla_actions
from sla.models import Breach

# A bulk action takes at most this many rows (a page of the board is fewer).
MAX_BULK = 500
SHOWN_IDS = 10


def lead_ids_text(ids) -> str:
    """ "#12, #13, #14" — every message names its leads; a long list ends with "and N more"."""
    ids = sorted(ids)
    text = ", ".join(f"#{pk}" for pk in ids[:SHOWN_IDS])
    if len(ids) > SHOWN_IDS:
        text += " " + _("and %(n)s more") % {"n": len(ids) - SHOWN_IDS}
    return text


def _query(team, period, rep, user) -> dict:
    query = {}
    if user.role != Role.SALES_HEAD:
        query["team"] = team.pk
    if period != DEFAULT_PERIOD:
        query["period"] = period
    if rep is not None:
        query["rep"] = rep.pk
    return query


@login_required
@require_GET
def team_board(request):
    """The head's board; admins and executives may pick any sales team. With
    `partial=1`, only the live part (the page refreshes it on revops:changed)."""
    user = request.user
    team = board_team(user, request.GET.get("team", ""))
    period, rep = board_filters(request.GET, team)
    context = board(team, period=period, rep=rep)
    query = _query(team, period, rep, user)
    context.update(
        teams=[] if user.role == Role.SALES_HEAD else board_team_choices(),
        can_act=can_act(user),
        query=urlencode(query),
        board_url=reverse("team") + (f"?{urlencode(query)}" if query else ""),
    )
    if request.GET.get("partial") == "1":
        return render(request, "leads/_board.html", context)
    return render(request, "leads/team_board.html", context)


def board_team_choices():
    return list(Team.objects.filter(kind=Team.Kind.SALES).order_by("name"))


def _acting(request):
    if not can_act(request.user):
        raise PermissionDenied
    return request.user


def _ids(request, name: str) -> list[int]:
    """The ids posted under `name`; a malformed one or too many is a 400."""
    raw = request.POST.getlist(name)
    ids = [parse_id(value) for value in raw]
    if None in ids or len(ids) > MAX_BULK:
        raise BadInput
    return list(dict.fromkeys(ids))


class BadInput(Exception):
    pass


def _back(request):
    return redirect(safe_next(request, "team"))


def _visible_breaches(user, ids: list[int]) -> list[Breach]:
    """The breaches `user` may act on, all of them or a 404."""
    breaches = list(Breach.objects.visible_to(user).filter(pk__in=ids).select_related("lead"))
    if len(breaches) != len(ids):
        raise Http404
    return breaches


@login_required
@require_POST
def acknowledge_breaches(request):
    """Acknowledge the chosen breaches (one from a row, several from the list)."""
    user = _acting(request)
    try:
        ids = _ids(request, "breach")
    except BadInput:
        return HttpResponseBadRequest(_("Give breaches as whole numbers."))
    if not ids:
        messages.error(request, _("Choose at least one breach."))
        return _back(request)
    breaches = _visible_breaches(user, ids)
    comment = request.POST.get("comment", "").strip()[:2000]
    done, already = sla_actions.acknowledge_many(breaches, user, comment)
    if done:
        leads = {b.lead_id for b in done}
        messages.success(
            request,
            ngettext(
                "Lead %(ids)s: breach acknowledged.", "Leads %(ids)s: breaches acknowledged.", len(leads)
            )
            % {"ids": lead_ids_text(leads)},
        )
    if already:
        leads = {b.lead_id for b in already}
        messages.info(
            request,
            ngettext(
                "Lead %(ids)s: the breach was already acknowledged.",
                "Leads %(ids)s: the breaches were already acknowledged.",
                len(leads),
            )
            % {"ids": lead_ids_text(leads)},
        )
    return _back(request)


def _owner_for(request, leads: list[Lead]) -> User | None:
    """The new owner posted as `owner`: a rep of the leads' team who is on
    shift and taking leads. None (with a message) when the choice is missing
    or the rep cannot take leads now; 404 for someone outside the team."""
    user = request.user
    raw = request.POST.get("owner", "")
    if not raw:
        messages.error(request, _("Choose who gets the leads."))
        return None
    owner_id = parse_id(raw)
    if owner_id is None:
        raise BadInput
    teams = {lead.team_id for lead in leads}
    if user.role == Role.SALES_HEAD:
        teams.add(user.team_id)
    if len(teams) != 1 or None in teams:
        messages.error(request, _("Reassign leads of one team at a time."))
        return None
    owner = User.objects.filter(pk=owner_id, team_id=next(iter(teams)), role=Role.REP, is_active=True).first()
    if owner is None:
        raise Http404
    if owner.pk not in {rep.pk for rep in available_reps(owner.team)}:
        messages.error(
            request,
            _("%(rep)s is not on shift or not taking leads now; choose someone who is.") % {"rep": owner},
        )
        return None
    return owner


@login_required
@require_POST
def reassign(request):
    """Give the chosen leads — posted as `lead` ids (waiting for an owner) or
    `breach` ids (the breach list) — to one rep on shift. A breached lead's
    assignment is recorded as a reassignment after a breach, and its breach
    counts as acknowledged."""
    user = _acting(request)
    try:
        lead_ids, breach_ids = _ids(request, "lead"), _ids(request, "breach")
    except BadInput:
        return HttpResponseBadRequest(_("Give leads and breaches as whole numbers."))
    breaches = _visible_breaches(user, breach_ids) if breach_ids else []
    wanted = list(dict.fromkeys([*lead_ids, *(b.lead_id for b in breaches)]))
    if not wanted:
        messages.error(request, _("Choose at least one lead."))
        return _back(request)
    leads = list(Lead.objects.changeable_by(user).filter(pk__in=wanted).select_related("stage"))
    if len(leads) != len(wanted):
        raise Http404
    try:
        owner = _owner_for(request, leads)
    except BadInput:
        return HttpResponseBadRequest(_("Choose the new owner from the list."))
    if owner is None:
        return _back(request)

    breached = {b.lead_id for b in breaches}
    moved, failed = [], []
    for lead in sorted(leads, key=lambda lead: lead.pk):
        if lead.owner_id == owner.pk:
            failed.append((lead.pk, _("already belongs to %(owner)s") % {"owner": owner}))
            continue
        after_breach = lead.pk in breached
        reasons = [{"code": "sla_breach_by", "params": {"by": user.username}}] if after_breach else None
        try:
            assign_manually(
                lead,
                owner,
                user,
                kind=AssignmentKind.SLA if after_breach else AssignmentKind.MANUAL,
                reasons=reasons,
            )
        except (Conflict, Invalid) as exc:
            failed.append((lead.pk, str(exc)))
            continue
        moved.append(lead.pk)
    done = [b for b in breaches if b.lead_id in moved and b.acknowledged_at is None]
    if done:
        sla_actions.acknowledge_many(done, user, _("Reassigned to %(owner)s.") % {"owner": owner})
    if moved:
        messages.success(
            request,
            ngettext("Lead %(ids)s is now %(owner)s's.", "Leads %(ids)s are now %(owner)s's.", len(moved))
            % {"ids": lead_ids_text(moved), "owner": owner},
        )
    for pk, why in failed:
        messages.error(request, _("Lead #%(id)s was not reassigned: %(why)s") % {"id": pk, "why": why})
    return _back(request)


def _team_rep(request, user_id: int) -> User:
    """A rep the person may manage: a head's own team, any team for an administrator."""
    reps = User.objects.filter(role=Role.REP).exclude(team=None)
    if request.user.role == Role.SALES_HEAD:
        reps = reps.filter(team_id=request.user.team_id)
    return get_object_or_404(reps.select_related("team"), pk=user_id)


@login_required
@require_POST
def team_presence(request, user_id: int):
    """Mark a rep absent today (or back), or stop/start their new leads."""
    _acting(request)
    rep = _team_rep(request, user_id)
    today = timezone.localdate()
    what = request.POST.get("what")
    if what == "absent":
        Absence.objects.get_or_create(
            user=rep,
            starts_on=today,
            ends_on=today,
            defaults={"kind": Absence.Kind.OTHER, "note": f"board:{request.user}"},
        )
        holding = Lead.objects.open().filter(owner=rep).count()
        if holding:
            messages.warning(
                request,
                ngettext(
                    "%(rep)s is absent today and still holds %(n)s open lead: hand it over under "
                    "“Absent with open leads”.",
                    "%(rep)s is absent today and still holds %(n)s open leads: hand them over under "
                    "“Absent with open leads”.",
                    holding,
                )
                % {"rep": rep, "n": holding},
            )
        else:
            messages.success(request, _("%(rep)s is absent today and holds no open leads.") % {"rep": rep})
        return _back(request)
    if what == "present":
        # Back early: an absence that began today goes; a longer one ends yesterday.
        covering = Absence.objects.filter(user=rep, starts_on__lte=today, ends_on__gte=today)
        covering.filter(starts_on=today).delete()
        covering.update(ends_on=today - dt.timedelta(days=1))
    elif what in ("pause", "resume"):
        rep.accepts_leads = what == "resume"
        rep.save(update_fields=["accepts_leads"])
    elif what == "redistribute":
        return _hand_over_by_the_rules(request, rep)
    else:
        raise Http404
    messages.success(request, _("Saved."))
    return _back(request)


def _hand_over_by_the_rules(request, rep: User):
    ids = list(Lead.objects.open().filter(owner=rep).values_list("pk", flat=True))
    if not ids:
        messages.info(request, _("%(rep)s holds no open leads.") % {"rep": rep})
        return _back(request)
    redistribute_open_leads(rep, request.user)
    waiting = list(Lead.objects.filter(pk__in=ids, owner__isnull=True).values_list("pk", flat=True))
    given = [pk for pk in ids if pk not in set(waiting)]
    if given:
        messages.success(
            request,
            ngettext(
                "Lead %(ids)s of %(rep)s handed to the team by its rules.",
                "Leads %(ids)s of %(rep)s handed to the team by its rules.",
                len(given),
            )
            % {"ids": lead_ids_text(given), "rep": rep},
        )
    if waiting:
        messages.warning(
            request,
            ngettext(
                "Lead %(ids)s waits in the team's queue: nobody else can take it now.",
                "Leads %(ids)s wait in the team's queue: nobody else can take them now.",
                len(waiting),
            )
            % {"ids": lead_ids_text(waiting)},
        )
    return _back(request)


@login_required
@require_POST
def hand_over(request, user_id: int):
    """Hand every open lead of a rep (absent, leaving) over: `to` = "rules" for
    the team's distribution, or the id of a rep on shift."""
    _acting(request)
    rep = _team_rep(request, user_id)
    to = request.POST.get("to", "")
    if to == "rules":
        return _hand_over_by_the_rules(request, rep)
    if not to:
        messages.error(request, _("Choose who gets the leads."))
        return _back(request)
    to_id = parse_id(to)
    if to_id is None:
        return HttpResponseBadRequest(_("Choose the new owner from the list."))
    owner = User.objects.filter(pk=to_id, team_id=rep.team_id, role=Role.REP, is_active=True).first()
    if owner is None:
        raise Http404
    if owner.pk == rep.pk or owner.pk not in {r.pk for r in available_reps(rep.team)}:
        messages.error(
            request,
            _("%(rep)s is not on shift or not taking leads now; choose someone who is.") % {"rep": owner},
        )
        return _back(request)
    moved = hand_over_open_leads(rep, owner, request.user)
    if not moved:
        messages.info(request, _("%(rep)s holds no open leads.") % {"rep": rep})
    else:
        messages.success(
            request,
            ngettext(
                "Lead %(ids)s of %(rep)s is now %(owner)s's.",
                "Leads %(ids)s of %(rep)s are now %(owner)s's.",
                len(moved),
            )
            % {"ids": lead_ids_text(moved), "rep": rep, "owner": owner},
        )
    return _back(request)
