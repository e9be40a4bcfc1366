"""The demo's loop between the departments (issue #15), added to the generated
history with the product's own functions at past moments:

- nurture: each lead in nurture gets its listed reason (from the rep's words),
  about half of the people with an email agreed to advertising, marketing's
  three tracks exist and the leads nurtured for their reasons went along them
  (the real sweep step, run at each due moment up to the cut-off; the emails of
  the past are marked sent, as the worker would have);
- disputes: marketing disputed a few recent "not target" rejections; the heads
  upheld some, overturned one (its rep called the lead back), a few wait;
- definitions: the ICP segments and the checklist have a short history (a
  first version from the demo's first day, a change by the heads since).

Deterministic for a seed; the notifications it causes are history, and the
caller deletes them with the rest."""

import random
from datetime import date, datetime, timedelta

from django.db.models import F, Min
from django.utils import timezone

from leads import definitions, disputes, tracks
from leads.actions import log_attempt, silence_reason
from leads.choices import AttemptChannel, AttemptOutcome, DisputeState, NurtureCode, StageKind, StepKind
from leads.demo.company import NURTURE_REASONS
from leads.models import (
    DefinitionKind,
    DefinitionVersion,
    Lead,
    LeadEvent,
    MarketingConsent,
    MarketingTask,
    NurtureReason,
    NurtureReturn,
    NurtureStep,
    NurtureTrack,
    RejectionDispute,
    StageChange,
    TrackEmail,
    TrackEnrollment,
)
from revops.models import User
from sla.business_time import add_working_time
from sla.calendars import schedule_or_24x7
from sla.clock import calendar_for

CONSENT_SHARE = 0.5
CONSENT_TEXT = "ads-2025-1"

TRACKS = [
    # name, description, reason codes, steps (kind, subject, body, wait_days, task)
    (
        "Не сейчас: вернуться к разговору",
        "Для тех, кто попросил вернуться позже или ещё изучает рынок: полезные материалы раз в две недели.",
        ["not_now", "researching"],
        [
            (
                StepKind.EMAIL,
                "{{ name }}, подборка кейсов для {{ company }}",
                "Здравствуйте, {{ name }}!\n\nВы просили вернуться к разговору позже. Пока собрали для вас "
                "три кейса компаний вашей отрасли: сроки внедрения, цифры до и после.\n\n"
                "Если вопрос снова станет актуальным — просто ответьте на это письмо, {{ owner }} перезвонит.",
                None,
                "",
            ),
            (StepKind.WAIT, "", "", 14, ""),
            (
                StepKind.EMAIL,
                "Приглашаем на вебинар: учёт без Excel за 30 дней",
                "{{ name }}, добрый день!\n\nВ четверг проводим вебинар о том, как компании переходят "
                "с таблиц на систему за месяц. Запись пришлём всем зарегистрированным.",
                None,
                "",
            ),
            (StepKind.WAIT, "", "", 14, ""),
            (
                StepKind.TASK,
                "",
                "",
                None,
                "Проверить, открывал ли клиент письма, и предложить звонок с менеджером",
            ),
        ],
    ),
    (
        "Нет бюджета: к новому бюджетному году",
        "Для тех, у кого нет бюджета сейчас: расчёт окупаемости к планированию бюджета.",
        ["no_budget"],
        [
            (
                StepKind.EMAIL,
                "Как обосновать бюджет на автоматизацию: расчёт для {{ company }}",
                "Здравствуйте, {{ name }}!\n\nПрикладываем шаблон расчёта окупаемости, который наши "
                "клиенты используют при защите бюджета. {{ owner }} поможет заполнить его под ваши цифры.",
                None,
                "",
            ),
            (StepKind.WAIT, "", "", 30, ""),
            (StepKind.TASK, "", "", None, "Уточнить сроки бюджетного планирования и назначить звонок"),
        ],
    ),
    (
        "Не дозвонились: письмо вместо звонка",
        "Для тех, до кого не дозвонились: одно письмо с просьбой выбрать удобное время.",
        [NurtureCode.NO_ANSWER],
        [
            (
                StepKind.EMAIL,
                "{{ name }}, мы не смогли до вас дозвониться",
                "Здравствуйте, {{ name }}!\n\nВы оставляли заявку, но мы не застали вас по телефону. "
                "Ответьте на это письмо, когда вам удобно поговорить, — {{ owner }} перезвонит в это время.",
                None,
                "",
            ),
        ],
    ),
]

DISPUTE_COMMENTS = [
    "Компания из нашего сегмента, 120 сотрудников — это целевой клиент, давайте ещё раз.",
    "Пришёл с кампании для сетей и подходит по размеру; прошу перепроверить.",
    "ЛПР сам заполнил форму на сайте, по ICP подходит.",
]
DECISION_COMMENTS = {
    DisputeState.UPHELD: "Говорили с клиентом: у них 5 человек и нет склада — не наш.",
    DisputeState.OVERTURNED: "Согласен, перезвоним и проведём квалификацию заново.",
}


def add_loop(leads, *, seed: int, first: date, cutoff: datetime) -> None:
    """The loop's history over `leads` (the demo's, just generated)."""
    rng = random.Random(f"loop:{seed}")
    users = {
        u.username: u for u in User.objects.filter(username__in=["marketer", "marketing_head", "sales_head"])
    }
    _nurture_causes(leads)
    _consents(leads, rng)
    _tracks(leads, users.get("marketing_head"), first, cutoff)
    _disputes(leads, rng, users.get("marketer"), cutoff)
    _definition_history(first, cutoff, users.get("marketing_head"), users.get("sales_head"))


def _nurture_causes(leads) -> None:
    """The listed reason each nurtured lead's words stand for."""
    causes = {r.code: r for r in NurtureReason.objects.all()}
    by_words = {NURTURE_REASONS[0]: "no_budget", NURTURE_REASONS[1]: "not_now", NURTURE_REASONS[2]: "not_now"}
    by_words.update({silence_reason(n): NurtureCode.NO_ANSWER for n in range(1, 11)})
    for words, code in by_words.items():
        nurtured = leads.filter(stage__kind=StageKind.NURTURE, nurture_reason=words)
        NurtureReturn.objects.filter(lead__in=nurtured).update(cause=causes[code])
        nurtured.update(nurture_cause=causes[code])


def _consents(leads, rng) -> None:
    """About half of the people with an email ticked the advertising box."""
    rows = []
    requests = (
        leads.exclude(contact__email="")
        .annotate(first_request=Min("requests__id"))
        .values_list("contact_id", "first_request", "created_at")
        .order_by("id")
    )
    seen = set()
    for contact_id, request_id, created_at in requests:
        if request_id is None or contact_id in seen or rng.random() >= CONSENT_SHARE:
            continue
        seen.add(contact_id)
        rows.append(
            MarketingConsent(
                contact_id=contact_id, request_id=request_id, text_version=CONSENT_TEXT, given_at=created_at
            )
        )
    MarketingConsent.objects.bulk_create(rows, ignore_conflicts=True)


def _tracks(leads, author, first: date, cutoff: datetime) -> None:
    created = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    for name, description, reasons, steps in TRACKS:
        track, made = NurtureTrack.objects.get_or_create(
            name=name, defaults={"description": description, "created_by": author, "created_at": created}
        )
        if made:
            track.reasons.set(NurtureReason.objects.filter(code__in=reasons))
            NurtureStep.objects.bulk_create(
                NurtureStep(
                    track=track,
                    position=n,
                    kind=kind,
                    subject=subject,
                    body=body,
                    wait_days=days,
                    task_text=task,
                )
                for n, (kind, subject, body, days, task) in enumerate(steps, start=1)
            )
    # The leads in nurture now went along the track of their reason since they got there.
    nurtured = leads.filter(stage__kind=StageKind.NURTURE, nurture_cause__isnull=False).select_related(
        "nurture_cause"
    )
    for lead in nurtured.order_by("id"):
        change = (
            StageChange.objects.filter(lead=lead, to_stage__kind=StageKind.NURTURE)
            .order_by("-changed_at")
            .first()
        )
        if change is not None and not TrackEnrollment.objects.filter(lead=lead).exists():
            tracks.enroll(lead, change, change.changed_at)
    while True:  # the sweep at each moment a step was due, up to the cut-off
        due = TrackEnrollment.objects.filter(state="active", due_at__lte=cutoff).aggregate(at=Min("due_at"))[
            "at"
        ]
        if due is None or not tracks.run_due(due):
            break
    # Marketing did the tasks of all but the last few days, the day after each.
    for task in MarketingTask.objects.filter(
        lead__in=leads, done_at=None, created_at__lt=cutoff - timedelta(days=3)
    ):
        tracks.complete_task(task, author, at=task.created_at + timedelta(days=1))
    # The worker sent the past's emails as they were queued.
    pending = TrackEmail.objects.filter(lead__in=leads, state=TrackEmail.State.PENDING).select_related(
        "enrollment"
    )
    for email in pending:
        TrackEmail.objects.filter(pk=email.pk).update(state=TrackEmail.State.SENT, sent_at=email.created_at)
        LeadEvent.objects.create(
            lead_id=email.lead_id,
            kind=LeadEvent.Kind.TRACK_EMAIL,
            created_at=email.created_at,
            data={"subject": email.subject, "email": email.pk, "track": email.enrollment.track_id},
        )


def _disputes(leads, rng, marketer, cutoff: datetime) -> None:
    """Marketing disputed a few "not target" rejections of the last weeks."""
    if marketer is None:
        return
    recent = (
        leads.filter(
            stage__kind=StageKind.LOST,
            rejection_reason__code="not_target",
            stage_changed_at__gte=cutoff - timedelta(days=21),
            stage_changed_at__lte=cutoff - timedelta(days=2),
            owner__isnull=False,
        )
        .select_related("team__head", "owner")
        .order_by("id")
    )
    chosen = [lead for lead in recent if lead.team_id and lead.team.head_id][:7]
    outcomes = [DisputeState.UPHELD, DisputeState.OVERTURNED, DisputeState.UPHELD, DisputeState.UPHELD]
    for n, lead in enumerate(chosen):
        # Everyone here works in the team's working time (as the generator's reps do).
        schedule = schedule_or_24x7(calendar_for(lead))
        opened = add_working_time(schedule, lead.stage_changed_at, timedelta(hours=3))
        dispute = disputes.open_dispute(lead, marketer, rng.choice(DISPUTE_COMMENTS), at=opened)
        if n >= len(outcomes):
            continue  # still waiting for the head
        outcome, decided = outcomes[n], add_working_time(schedule, opened, timedelta(hours=6))
        disputes.decide(dispute, lead.team.head, outcome, DECISION_COMMENTS[outcome], at=decided)
        if outcome == DisputeState.OVERTURNED:
            lead = Lead.objects.get(pk=lead.pk)
            if lead.owner_id:  # the rep called the reopened lead back soon after
                log_attempt(
                    lead,
                    lead.owner,
                    channel=AttemptChannel.CALL,
                    outcome=AttemptOutcome.REACHED,
                    duration_seconds=240,
                    note="Перезвонили после решения по спору",
                    at=add_working_time(schedule, decided, timedelta(minutes=10)),
                )
    # The ones still open ran past their deadline: the sweep reminded the head and
    # told the executives then (history, so no notifications wait for the first start).
    overdue = RejectionDispute.objects.filter(lead__in=chosen, state=DisputeState.OPEN)
    overdue.filter(remind_at__lte=cutoff).update(reminded_at=F("remind_at"))
    overdue.filter(decide_by__lte=cutoff).update(escalated_at=F("decide_by"))


def _definition_history(first: date, cutoff: datetime, marketing_head, sales_head) -> None:
    """A first version of each definition from the demo's first day and one
    change since: the heads moved a segment's company size and added a line to
    the SQL checklist. Only over a history nobody wrote in the app."""
    if DefinitionVersion.objects.exclude(changed_by=None).exists():
        return
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    stories = {
        DefinitionKind.SEGMENTS: (marketing_head, cutoff - timedelta(days=45), _older_segments),
        DefinitionKind.CHECKLIST: (sales_head, cutoff - timedelta(days=75), _older_checklist),
    }
    for kind, (who, when, older) in stories.items():
        now = definitions.snapshot(kind)
        before = older(now)
        DefinitionVersion.objects.filter(kind=kind).delete()
        DefinitionVersion.objects.create(kind=kind, number=1, changed_at=start, snapshot=before)
        DefinitionVersion.objects.create(
            kind=kind,
            number=2,
            changed_at=when,
            changed_by=who,
            snapshot=now,
            changes=definitions.diff(before, now),
        )


def _older_segments(rows: list[dict]) -> list[dict]:
    older = [dict(row) for row in rows]
    for row in older:
        if row["code"] == "distribution":
            row["company_size"] = "20–500 сотрудников"
    return older


def _older_checklist(rows: list[dict]) -> list[dict]:
    return [row for row in rows if not (row["level"] == "sql" and row["code"] == "pain_confirmed")]
