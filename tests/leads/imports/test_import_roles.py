"""Who may import what (issue #11, item 2): only administrators import
historical leads; a head of sales imports into their own team; marketing
imports new leads without owners; an owner in a file must be an active sales
rep within the importer's scope, else that row is an error. The management
command runs with an administrator's scope."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from leads.importer import ImportFileError, import_file, prepare
from leads.models import ImportJob, Lead
from revops.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def write(tmp_path, text, name="leads.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def owner_errors(plan):
    return [(e.row, e.message) for e in plan.errors if e.field == "owner"]


# The attack of the issue: a historical row at stage `meeting`, given to a rep.
HISTORICAL = "phone,created_at,stage,owner\n+79161110001,2025-03-03,meeting,{owner}\n"


@pytest.mark.parametrize("persona", ["marketer", "marketing_head", "head", "other_head"])
def test_only_administrators_import_historical_leads(tmp_path, source, request, rep, persona):
    actor = request.getfixturevalue(persona)
    with pytest.raises(ImportFileError, match="Only administrators import historical leads"):
        import_file(
            write(tmp_path, HISTORICAL.format(owner="rep")), source=source, historical=True, actor=actor
        )
    assert not Lead.objects.exists()


def test_an_administrator_imports_historical_leads_for_reps_only(
    tmp_path, source, admin_user, rep, ceo, team_b
):
    inactive = UserFactory(username="gone", role=Role.REP, team=team_b, is_active=False)
    loner = UserFactory(username="loner", role=Role.REP, team=None)
    text = (
        "phone,created_at,stage,owner\n"
        "+79161110001,2025-03-03,meeting,rep\n"
        "+79161110002,2025-03-03,meeting,ceo\n"  # not a sales rep: a lead with no team
        f"+79161110003,2025-03-03,meeting,{inactive.username}\n"
        f"+79161110004,2025-03-03,meeting,{loner.username}\n"
    )
    plan = prepare(write(tmp_path, text), source=source, historical=True, actor=admin_user)
    assert owner_errors(plan) == [
        (3, "“ceo” is not a sales rep of a team."),
        (4, "No active user “gone”."),
        (5, "“loner” is not a sales rep of a team."),
    ]
    assert plan.rows[0].history.owner == rep


def test_the_command_has_an_administrators_scope(tmp_path, source, rep, ceo):
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command(
            "import_leads",
            str(write(tmp_path, HISTORICAL.format(owner="ceo"))),
            "--historical",
            "--source",
            "exhibition",
            stdout=out,
        )
    assert out.getvalue().startswith("row 2, owner: “ceo” is not a sales rep of a team.")
    out = io.StringIO()
    call_command(
        "import_leads",
        str(write(tmp_path, HISTORICAL.format(owner="rep"))),
        "--historical",
        "--source",
        "exhibition",
        stdout=out,
    )
    lead = Lead.objects.get()
    assert (lead.owner, lead.team, lead.stage.code) == (rep, rep.team, "meeting")


def test_marketing_imports_new_leads_without_owners(tmp_path, source, marketer, rep):
    text = "phone,owner\n+79161110001,rep\n+79161110002,\n"
    plan, result = import_file(write(tmp_path, text), source=source, actor=marketer)
    assert result is None  # nothing imported
    assert owner_errors(plan) == [(2, "Leave the owner empty: marketing's leads go to distribution.")]
    plan, result = import_file(write(tmp_path, "phone\n+79161110002\n"), source=source, actor=marketer)
    assert result.created == 1
    lead = Lead.objects.get()
    assert lead.owner == rep  # distribution gave it out (the rep is on shift)


def test_a_head_imports_into_their_own_team(tmp_path, source, head, rep, teammate, other_rep, ceo):
    text = (
        "phone,owner\n"
        "+79161110001,other_rep\n"  # the issue: a rep of the other team
        "+79161110002,ceo\n"
        "+79161110003,ghost\n"
    )
    plan, result = import_file(write(tmp_path, text), source=source, actor=head)
    assert result is None
    assert owner_errors(plan) == [
        (2, "“other_rep” is not in your team."),
        (3, "“ceo” is not a sales rep of a team."),
        (4, "No active user “ghost”."),
    ]
    text = "phone,owner\n+79161110001,teammate\n+79161110002,\n"
    plan, result = import_file(write(tmp_path, text), source=source, actor=head)
    assert result.created == 2
    chosen = Lead.objects.get(contact__phone="+79161110001")
    assert (chosen.owner, chosen.team) == (teammate, head.team)
    queued = Lead.objects.get(contact__phone="+79161110002")
    assert queued.team == head.team and queued.owner in (rep, teammate)  # distributed inside the team
    assert set(Lead.objects.visible_to(head)) == {chosen, queued}  # the head sees every lead imported


def test_a_head_without_a_team_cannot_import(tmp_path, source):
    lonely = UserFactory(username="lonely_head", role=Role.SALES_HEAD, team=None)
    with pytest.raises(ImportFileError, match="no team"):
        prepare(write(tmp_path, "phone\n+79161110001\n"), source=source, actor=lonely)


# --- the pages -------------------------------------------------------------------------------


@pytest.fixture
def web(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def post(client, text, **data):
    upload = SimpleUploadedFile("leads.csv", text.encode())
    return client.post(reverse("leads:import"), {"file": upload, **data})


@pytest.mark.parametrize("persona", ["marketer", "marketing_head", "head"])
def test_the_historical_box_is_for_administrators(web, request, source, rep, persona):
    web.force_login(request.getfixturevalue(persona))
    assert 'name="historical"' not in web.get(reverse("leads:import")).content.decode()
    response = post(web, HISTORICAL.format(owner="rep"), source=source.pk, historical="on")  # forged
    assert response.status_code == 400
    assert "Only administrators import historical leads." in response.content.decode()
    assert not ImportJob.objects.exists() and not Lead.objects.exists()


def test_an_administrator_ticks_the_historical_box(web, admin_user, source, rep):
    web.force_login(admin_user)
    assert 'name="historical"' in web.get(reverse("leads:import")).content.decode()
    response = post(web, HISTORICAL.format(owner="rep"), source=source.pk, historical="on")
    assert response.status_code == 302
    web.post(reverse("leads:import_confirm", args=[ImportJob.objects.get().pk]))
    lead = Lead.objects.get()
    assert (lead.owner, lead.stage.code) == (rep, "meeting")


def test_a_head_sees_the_owner_error_in_the_preview(web, head, source, other_rep):
    web.force_login(head)
    response = post(web, "phone,owner\n+79161110001,other_rep\n", source=source.pk)
    html = web.get(response.url).content.decode()
    assert "1 row has errors" in html and "“other_rep” is not in your team." in html
    assert "/confirm/" not in html
