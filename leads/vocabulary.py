"""The funnel's fixed vocabulary (DESIGN.md "Public contract"): stages,
rejection reasons, the default MQL/SQL checklist and the nurture reasons.

Seeded by a data migration and again after every `migrate`/`flush` (so a test
database that was flushed gets them back). Only what is missing is created:
admins may rename labels and add more, and seeding never overwrites them.
"""

from django.apps import apps as global_apps

STAGES = [
    # code, position, kind, name_ru, name_en, definition_ru, definition_en
    (
        "lead",
        1,
        "open",
        "Новый лид",
        "New lead",
        "Заявка получена, контакт с клиентом ещё не установлен.",
        "The request has arrived; nobody has reached the client yet.",
    ),
    (
        "qualification",
        2,
        "open",
        "Квалификация",
        "Qualification",
        "Менеджер связался с клиентом и проверяет критерии MQL/SQL: потребность, ЛПР, бюджет, сроки.",
        "A rep has reached the client and is checking the MQL/SQL criteria: need, decision maker, budget, timeline.",
    ),
    (
        "meeting",
        3,
        "open",
        "Встреча / демо",
        "Meeting / demo",
        "Назначена или проведена встреча либо демонстрация с ЛПР.",
        "A meeting or demo with the decision maker is booked or held.",
    ),
    (
        "proposal",
        4,
        "open",
        "КП отправлено",
        "Proposal sent",
        "Клиенту отправлено коммерческое предложение с суммой.",
        "The client has a commercial proposal with an amount.",
    ),
    (
        "deal",
        5,
        "won",
        "Сделка",
        "Deal",
        "Договор подписан или счёт оплачен; сумма и маржа известны.",
        "The contract is signed or the invoice paid; amount and margin are known.",
    ),
    (
        "lost",
        None,
        "lost",
        "Отказ",
        "Lost",
        "Лид закрыт с причиной отказа из справочника.",
        "The lead is closed with a rejection reason from the list.",
    ),
    (
        "nurture",
        None,
        "nurture",
        "Догрев",
        "Nurture",
        "Клиент пока не готов; маркетинг догревает его до возвращения в очередь.",
        "The client is not ready yet; marketing nurtures them until they return to the queue.",
    ),
]

REASONS = [
    # code, position, side, requires_comment, name_ru, name_en
    ("not_target", 1, "marketing", False, "Не целевой клиент", "Not a target client"),
    ("no_need", 2, "client", False, "Нет потребности", "No need"),
    ("no_budget", 3, "client", False, "Нет бюджета", "No budget"),
    ("no_authority", 4, "sales", False, "Нет выхода на ЛПР", "No access to the decision maker"),
    ("chose_competitor", 5, "sales", False, "Выбрал конкурента", "Chose a competitor"),
    ("price", 6, "sales", False, "Не устроила цена", "Price"),
    ("not_now", 7, "client", False, "Не сейчас", "Not now"),
    ("wrong_contacts", 8, "marketing", False, "Неверные контакты", "Wrong contact details"),
    ("duplicate", 9, "marketing", False, "Дубль", "Duplicate"),
    ("spam", 10, "marketing", False, "Спам", "Spam"),
    ("other", 11, "client", True, "Другое (укажите)", "Other (explain)"),
]

CRITERIA = [
    # level, code, position, text_ru, text_en
    ("mql", "icp_fit", 1, "Сегмент соответствует ICP", "The segment fits the ICP"),
    ("mql", "real_need", 2, "Есть реальная потребность в продукте", "There is a real need for the product"),
    (
        "mql",
        "valid_contacts",
        3,
        "Контакты корректны, с клиентом можно связаться",
        "Contact details are correct and the client is reachable",
    ),
    (
        "mql",
        "known_context",
        4,
        "Известны источник и контекст обращения",
        "The source and context of the request are known",
    ),
    (
        "sql",
        "authority",
        1,
        "Собеседник — ЛПР или есть выход на ЛПР",
        "We talk to the decision maker or have access to one",
    ),
    ("sql", "budget", 2, "Бюджет есть или понятен", "There is a budget, or it is clear"),
    (
        "sql",
        "timeline",
        3,
        "Сроки покупки понятны (до 3 месяцев)",
        "The purchase timeline is clear (within 3 months)",
    ),
    (
        "sql",
        "pain_confirmed",
        4,
        "Клиент подтвердил задачу, которую решает продукт",
        "The client confirmed the problem the product solves",
    ),
]

NURTURE_REASONS = [
    # code, position, name_ru, name_en; `no_answer` is the attempts rule's (NurtureCode).
    ("no_answer", 1, "Не дозвонились", "Could not reach"),
    ("not_now", 2, "Не сейчас — вернуться позже", "Not now, come back later"),
    ("no_budget", 3, "Нет бюджета", "No budget yet"),
    ("researching", 4, "Изучает рынок, рано говорить о покупке", "Still researching, too early to buy"),
    ("other", 5, "Другое", "Other"),
]


def seed_nurture_reasons(apps=global_apps):
    """Apart from seed_vocabulary: the table came later (migration 0010), and
    0002 runs seed_vocabulary with the models as they were then."""
    NurtureReason = apps.get_model("leads", "NurtureReason")
    for code, position, name_ru, name_en in NURTURE_REASONS:
        NurtureReason.objects.get_or_create(
            code=code, defaults={"position": position, "name_ru": name_ru, "name_en": name_en}
        )


def seed_vocabulary(apps=global_apps):
    Stage = apps.get_model("leads", "Stage")
    Reason = apps.get_model("leads", "RejectionReason")
    Criterion = apps.get_model("leads", "QualificationCriterion")
    for code, position, kind, name_ru, name_en, def_ru, def_en in STAGES:
        Stage.objects.get_or_create(
            code=code,
            defaults={
                "position": position,
                "kind": kind,
                "name_ru": name_ru,
                "name_en": name_en,
                "definition_ru": def_ru,
                "definition_en": def_en,
            },
        )
    for code, position, side, requires_comment, name_ru, name_en in REASONS:
        Reason.objects.get_or_create(
            code=code,
            defaults={
                "position": position,
                "side": side,
                "requires_comment": requires_comment,
                "name_ru": name_ru,
                "name_en": name_en,
            },
        )
    for level, code, position, text_ru, text_en in CRITERIA:
        Criterion.objects.get_or_create(
            segment=None,
            level=level,
            code=code,
            defaults={"position": position, "text_ru": text_ru, "text_en": text_en},
        )
