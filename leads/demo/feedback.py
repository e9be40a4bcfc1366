"""The demo's feedback from sales to marketing (issue #15): about one worked lead in
eight has a note for marketing, written by its rep soon after the first contact,
and marketing has taken about half of them into work with a reply. The topic
follows the lead's story (a lead rejected as not target tells of the segment, one
lost on price of an objection). Deterministic for a seed; history only, so no
notifications."""

import random
from datetime import datetime, timedelta

from leads.models import Feedback, FeedbackState, FeedbackTopic, LeadEvent
from revops.models import User

SHARE = 0.12  # of the leads with a first contact
REPLIED = 0.55

TEXTS = {
    FeedbackTopic.OBJECTION: [
        "Говорит, что у конкурента то же самое дешевле на треть.",
        "Боятся долгого внедрения: прошлый проект тянулся полгода.",
        "Не готовы платить за пользователей, которые заходят раз в месяц.",
    ],
    FeedbackTopic.NOT_UNDERSTOOD: [
        "Не понял, чем тариф «Бизнес» отличается от «Старта».",
        "Думал, что интеграция с 1С входит в цену.",
        "Из объявления решил, что мы продаём железо, а не софт.",
    ],
    FeedbackTopic.TRUST: [
        "Зацепил кейс дистрибьютора из Казани — просил ещё такие.",
        "Доверяют, потому что нас порекомендовал их бухгалтер.",
        "Понравилось, что на демо показали живую систему, а не слайды.",
    ],
    FeedbackTopic.WRONG_SEGMENT: [
        "Это ИП на одного человека, а реклама звала компании от 50 сотрудников.",
        "Розница на две кассы — не наш сегмент, пришли с кампании для сетей.",
    ],
    FeedbackTopic.LEAD_QUALITY: [
        "Телефон не тот, человек о заявке не знает.",
        "Студент собирает материал для диплома, покупать не будет.",
        "Заявка от конкурента: спрашивал только цены.",
    ],
    FeedbackTopic.CONTENT_REQUEST: [
        "Просят сравнение с Битрикс24 в одной таблице.",
        "Нужен кейс для производства — их директор ничего другого не читает.",
        "Спрашивают видео-инструкцию по импорту данных.",
    ],
}
REPLIES = {
    FeedbackTopic.OBJECTION: "Готовим страницу «Стоимость владения» с расчётом на 3 года — пришлём до конца месяца.",
    FeedbackTopic.NOT_UNDERSTOOD: "Переписали описание тарифов на лендинге, спасибо — проверьте, стало ли понятнее.",
    FeedbackTopic.TRUST: "Соберём ещё три кейса в этой отрасли и добавим их в рассылку.",
    FeedbackTopic.WRONG_SEGMENT: "Сузили таргетинг кампании по размеру компании, такие заявки должны уйти.",
    FeedbackTopic.LEAD_QUALITY: "Добавили проверку телефона в форму и отключили площадку, откуда шёл мусор.",
    FeedbackTopic.CONTENT_REQUEST: "Берём в план контента на следующий спринт, черновик покажем вам первым.",
}
# Rejection reasons that tell marketing something about the lead itself.
BY_REASON = {
    "not_target": [FeedbackTopic.WRONG_SEGMENT, FeedbackTopic.LEAD_QUALITY],
    "spam": [FeedbackTopic.LEAD_QUALITY],
    "wrong_contacts": [FeedbackTopic.LEAD_QUALITY],
    "price": [FeedbackTopic.OBJECTION],
    "no_budget": [FeedbackTopic.OBJECTION],
    "chose_competitor": [FeedbackTopic.OBJECTION, FeedbackTopic.CONTENT_REQUEST],
}
OTHERS = [
    FeedbackTopic.OBJECTION,
    FeedbackTopic.NOT_UNDERSTOOD,
    FeedbackTopic.TRUST,
    FeedbackTopic.CONTENT_REQUEST,
]


def add_feedback(leads, *, seed: int, cutoff: datetime) -> int:
    """Feedback on some of `leads` (the demo's, just generated), none after `cutoff`."""
    rng = random.Random(f"feedback:{seed}")
    marketers = list(User.objects.filter(username__in=["marketer", "marketing_head"]).order_by("username"))
    rows, events = [], []
    worked = (
        leads.filter(owner__isnull=False, first_contact_at__isnull=False)
        .select_related("rejection_reason")
        .order_by("created_at", "id")
    )
    for lead in worked:
        if rng.random() >= SHARE:
            continue
        code = lead.rejection_reason.code if lead.rejection_reason_id else ""
        topic = rng.choice(BY_REASON.get(code, OTHERS))
        at = lead.first_contact_at + timedelta(minutes=rng.randint(3, 45))
        if at >= cutoff:
            continue
        row = Feedback(
            lead=lead, topic=topic, text=rng.choice(TEXTS[topic]), author_id=lead.owner_id, created_at=at
        )
        replied_at = at + timedelta(hours=rng.randint(2, 72))
        if marketers and rng.random() < REPLIED and replied_at < cutoff:
            row.state, row.taken_by, row.reply = FeedbackState.TAKEN, rng.choice(marketers), REPLIES[topic]
            row.taken_at = row.replied_at = replied_at
        rows.append(row)
    Feedback.objects.bulk_create(rows)
    for row in rows:
        events.append(
            LeadEvent(
                lead_id=row.lead_id,
                kind=LeadEvent.Kind.FEEDBACK,
                actor_id=row.author_id,
                created_at=row.created_at,
                data={"text": row.text, "topic": row.topic, "feedback": row.pk},
            )
        )
        if row.state == FeedbackState.TAKEN:
            events.append(
                LeadEvent(
                    lead_id=row.lead_id,
                    kind=LeadEvent.Kind.FEEDBACK_REPLY,
                    actor=row.taken_by,
                    created_at=row.replied_at,
                    data={"feedback": row.pk, "topic": row.topic, "text": row.reply},
                )
            )
    LeadEvent.objects.bulk_create(events)
    return len(rows)
