"""The admin shows and changes only what the app would let each person see.

The world: the rep's lead (team A), the other rep's lead (team B) and a lead
waiting in no team's queue, each with every kind of row the funnel writes about
it (contact, request, consent, attempt, stage change, event, checklist answer,
deal, assignment, timer, breach, notification). The walk visits every
registered admin (admin.site._registry) as each persona and proves:

- changelists (also as raw-id popups) list exactly the rows in the person's scope;
- change, history and delete pages of a row outside it are never shown (200);
- POSTs to those pages and the changelist's delete action change nothing;
- autocomplete answers only rows in scope;
- nothing of another team's contact appears on any admin page the person opens.

Scope (the API's rule, `visible_to`): a rep sees own leads, a head of sales the
team's, marketing, the CEO and admins all of them; a row about a lead goes with
the lead, a contact with any of its leads, a breach with its owner and team, a
notification with its lead or its recipient, a person with their team (heads)
or everyone (company-wide roles). Reference data (stages, reasons, calendars,
policies, products…) is not row-scoped. A model the walk does not know is
expected to show non-superusers nothing.
"""

import datetime as dt

import pytest
from django import forms
from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from leads.choices import AttemptChannel, AttemptOutcome, Priority
from leads.models import (
    Assignment,
    Consent,
    Contact,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    InboundRequest,
    Lead,
    LeadEvent,
    QualificationCriterion,
    Stage,
    StageChange,
)
from revops.models import User
from revops.roles import Role
from sla.models import Breach, DelayOwner, Notification, SlaPolicy, SlaTimer
from tests.factories import CampaignFactory, ContactFactory, LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

PERSONAS = ["rep", "head", "other_head", "marketer", "marketing_head", "ceo", "admin"]

# Not row-scoped: every one who may open them sees all their rows (their
# permissions are the roles' as before).
REFERENCE = {
    "auth.group",
    "revops.team",
    "leads.source",
    "leads.campaign",
    "leads.spend",
    "leads.product",
    "leads.segment",
    "leads.stage",
    "leads.rejectionreason",
    "leads.qualificationcriterion",
    "leads.definitionversion",
    "leads.intakekey",
    "leads.siteform",
    "leads.routingrule",
    "sla.businesscalendar",
    "sla.slapolicy",
    "sla.teamwebhook",
}


def _visible_leads(user):
    return Lead.objects.visible_to(user)


def _people(user):
    if user.is_superuser or user.role in {Role.MARKETER, Role.MARKETING_HEAD, Role.EXECUTIVE}:
        return User.objects.all()
    if user.role == Role.SALES_HEAD:
        return User.objects.filter(Q(team_id=user.team_id) | Q(pk=user.pk))
    return User.objects.filter(pk=user.pk)


# The rows of each data model a (non-superuser) person may see.
SCOPES = {
    "leads.lead": _visible_leads,
    "leads.contact": lambda u: Contact.objects.filter(leads__in=_visible_leads(u)),
    "leads.inboundrequest": lambda u: InboundRequest.objects.filter(lead__in=_visible_leads(u)),
    "leads.consent": lambda u: Consent.objects.filter(request__lead__in=_visible_leads(u)),
    "leads.stagechange": lambda u: StageChange.objects.filter(lead__in=_visible_leads(u)),
    "leads.leadevent": lambda u: LeadEvent.objects.filter(lead__in=_visible_leads(u)),
    "leads.criterionanswer": lambda u: CriterionAnswer.objects.filter(lead__in=_visible_leads(u)),
    "leads.contactattempt": lambda u: ContactAttempt.objects.filter(lead__in=_visible_leads(u)),
    "leads.deal": lambda u: Deal.objects.filter(lead__in=_visible_leads(u)),
    "leads.assignment": lambda u: Assignment.objects.filter(lead__in=_visible_leads(u)),
    "sla.slatimer": lambda u: SlaTimer.objects.filter(lead__in=_visible_leads(u)),
    "sla.breach": lambda u: Breach.objects.visible_to(u),
    "sla.notification": lambda u: Notification.objects.filter(Q(recipient=u) | Q(lead__in=_visible_leads(u))),
    "revops.user": _people,
}


def _label(model):
    return model._meta.label_lower


def expected_pks(model, user) -> set | None:
    """The pks `user` may see; None when the model is reference data (all rows)."""
    label = _label(model)
    if label in REFERENCE:
        return None
    if user.is_superuser:
        return set(model._default_manager.values_list("pk", flat=True))
    if label in SCOPES:
        return set(SCOPES[label](user).values_list("pk", flat=True))
    return set()  # unknown to this walk: nothing for non-superusers


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


# --- the world --------------------------------------------------------------------------------------


def _rows_about(lead, actor, n):
    now = timezone.now()
    request = InboundRequest.objects.create(
        lead=lead, contact=lead.contact, source=lead.source, channel=lead.channel, comment=f"request {n}"
    )
    Consent.objects.create(contact=lead.contact, request=request, text_version="1")
    attempt = ContactAttempt.objects.create(
        lead=lead, channel=AttemptChannel.CALL, outcome=AttemptOutcome.NO_ANSWER, made_by=actor
    )
    StageChange.objects.create(lead=lead, from_stage=None, to_stage=lead.stage, changed_by=actor)
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.NOTE, actor=actor, data={"text": f"note {n}"})
    CriterionAnswer.objects.create(
        lead=lead, criterion=QualificationCriterion.objects.filter(segment=None).first(), answer="yes"
    )
    Deal.objects.create(lead=lead, contact=lead.contact, amount=100, margin=10, owner=lead.owner)
    Assignment.objects.create(lead=lead, team=lead.team, to_owner=lead.owner, kind="auto")
    timer = SlaTimer.objects.create(
        lead=lead,
        kind="first_contact",
        policy=SlaPolicy.objects.get(is_default=True),
        state="breached",
        started_at=now - dt.timedelta(hours=1),
        budget_seconds=900,
        due_at=now - dt.timedelta(minutes=45),
        breached_at=now - dt.timedelta(minutes=45),
        attempt=attempt,
    )
    Breach.objects.create(
        timer=timer,
        kind="first_contact",
        lead=lead,
        owner=lead.owner,
        team=lead.team,
        source=lead.source,
        delay_owner=DelayOwner.REP if lead.owner else DelayOwner.SYSTEM,
        due_at=timer.due_at,
    )
    Notification.objects.create(
        recipient=lead.owner or actor,
        channel="in_app",
        kind="sla_breach",
        lead=lead,
        params={"name": lead.contact.name},
        dedupe_key=f"breach-{n}",
    )


@pytest.fixture
def world(people, team_a, team_b):
    a = LeadFactory(owner=people["rep"], contact=ContactFactory(name="Visible-A-Person"))
    b = LeadFactory(
        owner=people["other_rep"],
        contact=ContactFactory(name="Secret-B-Person", company="Secret-B-Company"),
        campaign=CampaignFactory(),
    )
    q = LeadFactory(owner=None, team=None, contact=ContactFactory(name="Secret-Q-Person"))
    for n, lead in enumerate([a, b, q]):
        _rows_about(lead, people["admin"], n)
    return {"a": a, "b": b, "q": q}


def _secrets_for(user, world):
    """Names that must not appear on any admin page `user` opens."""
    visible = set(_visible_leads(user).values_list("pk", flat=True))
    return [world[k].contact.name for k in ("b", "q") if world[k].pk not in visible] + [
        "Secret-B-Company"
    ] * (world["b"].pk not in visible)


def _assert_no_secret(response, secrets, where):
    if response.status_code != 200 or not hasattr(response, "content"):
        return
    content = response.content.decode()
    for secret in secrets:
        assert secret not in content, f"{where} shows {secret!r}"


def _raw_id_targets():
    targets = set()
    for model_admin in admin.site._registry.values():
        for name in [*model_admin.raw_id_fields, *model_admin.autocomplete_fields]:
            targets.add(model_admin.model._meta.get_field(name).remote_field.model)
    return targets


def _snapshot():
    return {
        _label(model): sorted(map(repr, model._default_manager.values()))
        for model in admin.site._registry
        if _label(model) not in REFERENCE
    }


# --- the walk ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", PERSONAS)
def test_the_admin_shows_and_changes_only_rows_in_scope(client, people, world, who):
    user = people[who]
    client.force_login(user)
    secrets = _secrets_for(user, world)
    before = _snapshot()
    if not user.is_staff:
        _nothing_opens(client)
    else:
        _walk_pages(client, user, secrets, who)
        _walk_autocomplete(client, user, secrets)
        _walk_posts(client, user, world)
    assert _snapshot() == before


def _nothing_opens(client):
    """Not staff: every admin page, and autocomplete, sends to the admin's sign-in."""
    for model in admin.site._registry:
        urls = [_url(model, "changelist")]
        row = model._default_manager.first()
        if row is not None:
            urls.append(_url(model, "change", row.pk))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response.url, url
    response = client.get(
        reverse("admin:autocomplete"), {"app_label": "leads", "model_name": "lead", "field_name": "contact"}
    )
    assert response.status_code == 302 and "/admin/login/" in response.url


def _walk_pages(client, user, secrets, who):
    popup_targets = _raw_id_targets()
    for model, model_admin in admin.site._registry.items():
        label = _label(model)
        response = client.get(_url(model, "changelist"))
        _assert_no_secret(response, secrets, f"{label} changelist")
        expected = expected_pks(model, user)
        if response.status_code == 403:
            assert not model_admin.has_view_permission(response.wsgi_request), label
        else:
            assert response.status_code == 200, label
            shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
            assert expected is None or shown == expected, f"{label}: shows {shown}, scope is {expected}"
        if expected is None:
            continue
        if model in popup_targets and response.status_code == 200:
            popup = client.get(_url(model, "changelist"), {"_to_field": "id", "_popup": "1"})
            assert set(popup.context["cl"].queryset.values_list("pk", flat=True)) == expected, label
            _assert_no_secret(popup, secrets, f"{label} popup")
        every = set(model._default_manager.values_list("pk", flat=True))
        inside = sorted(expected & every)
        if inside and response.status_code == 200:
            # A row in scope opens (so the walk below proves something).
            page = client.get(_url(model, "change", inside[0]))
            assert page.status_code == 200, label
            _assert_no_secret(page, secrets, f"{label} change page")
            assert client.get(_url(model, "history", inside[0])).status_code == 200, label
        outside = sorted(every - expected)
        for pk in outside:
            page = client.get(_url(model, "change", pk))
            assert page.status_code != 200, f"{label} #{pk} is shown to {who}"
        for pk in outside[:1]:
            for view in ("history", "delete"):
                page = client.get(_url(model, view, pk))
                assert page.status_code != 200, f"{label} #{pk} {view} page is shown to {who}"


def _walk_autocomplete(client, user, secrets):
    """Each searchable admin, asked through a foreign key that points to it."""
    asked = set()
    for source_model in admin.site._registry:
        for field in source_model._meta.get_fields():
            if not (field.is_relation and field.concrete and field.many_to_one):
                continue
            remote = field.remote_field.model
            remote_admin = admin.site._registry.get(remote)
            if remote_admin is None or not remote_admin.search_fields or remote in asked:
                continue
            asked.add(remote)
            params = {
                "app_label": source_model._meta.app_label,
                "model_name": source_model._meta.model_name,
                "field_name": field.name,
                "term": "",
            }
            response = client.get(reverse("admin:autocomplete"), params)
            if response.status_code != 200:
                assert response.status_code == 403, params
                continue
            ids = {int(r["id"]) for r in response.json()["results"]}
            expected = expected_pks(remote, user)
            if expected is not None:
                assert ids <= expected, f"{source_model._meta.label}.{field.name}: {ids - expected}"
            _assert_no_secret(response, secrets, f"autocomplete {params}")
    assert {Contact, Lead, User} <= asked


def _walk_posts(client, user, world):
    """POSTs to rows outside the scope: change (with another team's contact),
    delete, and the changelist's delete action. The caller checks nothing changed."""
    b = world["b"]
    tamper = {
        "contact": b.contact_id,
        "lead": b.pk,
        "owner": user.pk,
        "team": user.team_id or "",
        "source": b.source_id,
        "campaign": b.campaign_id,
        "channel": "chat",
        "name": "Changed",
        "phone": "+79990001122",
        "comment": "changed",
        "_save": "Save",
    }
    for model in admin.site._registry:
        expected = expected_pks(model, user)
        if expected is None:
            continue
        outside = sorted(set(model._default_manager.values_list("pk", flat=True)) - expected)
        for pk in outside:
            response = client.post(_url(model, "change", pk), tamper)
            assert response.status_code != 200, f"{_label(model)} #{pk}"
        for pk in outside[:1]:
            client.post(_url(model, "delete", pk), {"post": "yes"})
        if outside:
            client.post(
                _url(model, "changelist"),
                {"action": "delete_selected", "_selected_action": outside, "post": "yes"},
            )


# --- the head's own lead: identity is read-only, edits go through the action -----------------------


def _post_data(response):
    """The change form as the browser would send it back, inlines included."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if value is None:
                continue
            if isinstance(field, forms.BooleanField):
                if value:
                    data[key] = "on"
            elif isinstance(value, (list, tuple)):
                data[key] = [str(getattr(v, "pk", v)) for v in value]
            else:
                data[key] = str(getattr(value, "pk", value))

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


IDENTITY = [
    "contact_id",
    "source_id",
    "campaign_id",
    "channel",
    "owner_id",
    "team_id",
    "stage_id",
    "furthest_stage_id",
    "utm_source",
    "landing_page",
    "qualification",
    "rejection_reason_id",
]


def test_a_head_cannot_attach_another_teams_contact_to_their_lead(client, people, world):
    head, a, b = people["head"], world["a"], world["b"]
    client.force_login(head)
    url = _url(Lead, "change", a.pk)
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert not {"contact", "source", "channel", "campaign", "owner", "team", "stage"} & set(form.fields)
    data = _post_data(page)
    data.update(
        contact=b.contact_id,
        source=b.source_id,
        campaign=b.campaign_id,
        channel="chat",
        owner=people["other_rep"].pk,
        team=b.team_id,
        stage=Stage.objects.get(code="deal").pk,
        utm_source="forged",
        landing_page="https://forged.example/",
        priority=Priority.URGENT,
        _save="Save",
    )
    before = Lead.objects.values(*IDENTITY).get(pk=a.pk)
    response = client.post(url, data)
    assert response.status_code == 302, (
        getattr(response, "context", None) and response.context["adminform"].form.errors
    )
    assert Lead.objects.values(*IDENTITY).get(pk=a.pk) == before
    a.refresh_from_db()
    assert a.priority == Priority.URGENT
    # The edit went through update_lead: it is in the lead's history.
    event = LeadEvent.objects.filter(lead=a, kind=LeadEvent.Kind.EDITED).get()
    assert event.actor == head and event.data["changes"]["priority"] == [Priority.NORMAL, Priority.URGENT]
    # The card still shows the lead's own contact.
    assert "Secret-B-Person" not in client.get(f"/leads/{a.pk}/").content.decode()


def test_a_head_only_looks_at_the_contact_of_their_lead(client, people, world):
    client.force_login(people["head"])
    contact = world["a"].contact
    url = _url(Contact, "change", contact.pk)
    page = client.get(url)
    assert page.status_code == 200 and "adminform" in page.context
    assert not page.context["has_change_permission"]
    response = client.post(url, {"name": "Changed", "phone": "+79990001122", "_save": "Save"})
    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.name == "Visible-A-Person"
    # Another team's contact: not found, whatever the id.
    assert client.get(_url(Contact, "change", world["b"].contact_id)).status_code == 302


def test_a_superuser_still_edits_a_lead_in_the_admin(client, people, world):
    client.force_login(people["admin"])
    a = world["a"]
    url = _url(Lead, "change", a.pk)
    page = client.get(url)
    assert "contact" in page.context["adminform"].form.fields
    data = _post_data(page)
    source = SourceFactory()
    data.update(source=source.pk, priority=Priority.HIGH, _save="Save")
    assert client.post(url, data).status_code == 302
    a.refresh_from_db()
    assert a.source == source and a.priority == Priority.HIGH
    assert LeadEvent.objects.filter(lead=a, kind=LeadEvent.Kind.EDITED).count() == 1


def test_rows_the_actions_write_are_not_added_in_the_admin(client, people):
    client.force_login(people["admin"])
    for model in (Lead, Contact, InboundRequest, ContactAttempt, StageChange, Deal, Breach, SlaTimer):
        assert client.get(_url(model, "add")).status_code == 403, model


def test_foreign_key_choices_follow_the_related_admins_scope(rf, people, world):
    """Were a field pointing at a contact, lead or person ever editable for a
    head, the form would accept only rows in the head's scope."""
    request = rf.get("/admin/")
    request.user = people["head"]
    lead_admin, deal_admin = admin.site._registry[Lead], admin.site._registry[Deal]
    contact = lead_admin.formfield_for_foreignkey(Lead._meta.get_field("contact"), request)
    assert set(contact.queryset) == {world["a"].contact}
    owner = lead_admin.formfield_for_foreignkey(Lead._meta.get_field("owner"), request)
    assert set(owner.queryset) == set(User.objects.filter(team=people["head"].team))
    lead = deal_admin.formfield_for_foreignkey(Deal._meta.get_field("lead"), request)
    assert set(lead.queryset) == {world["a"]}
    with pytest.raises(forms.ValidationError):
        contact.clean(world["b"].contact_id)


def test_a_head_deletes_nothing_even_in_their_own_team(client, people, world):
    client.force_login(people["head"])
    a = world["a"]
    assert client.get(_url(Lead, "delete", a.pk)).status_code == 403
    client.post(_url(Lead, "delete", a.pk), {"post": "yes"})
    client.post(
        _url(Lead, "changelist"), {"action": "delete_selected", "_selected_action": [a.pk], "post": "yes"}
    )
    assert Lead.objects.filter(pk=a.pk).exists()
