"""Demo data: «ТехноСфера», a Russian B2B company selling CRM, warehouse software,
data-collection terminals and the services around them.

`run()` upserts the reference data (sources, campaigns, products, ICP segments,
checklist lines, spend), the teams and the demo users, then generates a year of
leads that went through the funnel: contact attempts, qualification, stage
history, rejections, nurture and deals.

Everything generated comes from `random.Random(seed)` and the `today` date, never
from the clock, so the same seed and date give the same data. Rows are written with
bulk_create in chunks, inside one transaction.
"""

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce

from leads.choices import (
    FAILED_CALL_OUTCOMES,
    Answer,
    AttemptChannel,
    AttemptOutcome,
    CriterionLevel,
    DealStatus,
    EntryChannel,
    Fit,
    Priority,
    Qualification,
    SourceKind,
    StageCode,
    StageKind,
)
from leads.models import (
    Campaign,
    Contact,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    InboundRequest,
    Lead,
    LeadEvent,
    Product,
    QualificationCriterion,
    RejectionReason,
    Segment,
    Source,
    Spend,
    Stage,
    StageChange,
)
from revops.models import Team, User
from revops.roles import Role

DEMO_PASSWORD = "demo"
CENTS = Decimal("0.01")
BATCH_SIZE = 2000
# Leads are built and written this many at a time, so memory stays flat at 100,000 leads.
CHUNK_SIZE = 5000
EMAIL_DOMAIN = "demo.revops.local"
SITE = "https://technosfera.example"
# Spend figures are sized for the default volume; a bigger run scales them so
# cost per lead and ROMI stay believable.
DEFAULT_LEADS = 3000

# --- the company: teams and people -----------------------------------------------------

TEAMS = [
    # code, name, kind, head
    ("sales-1", "Отдел продаж 1", Team.Kind.SALES, "sales_head"),
    ("sales-2", "Отдел продаж 2", Team.Kind.SALES, "sales_head2"),
    ("marketing", "Маркетинг", Team.Kind.MARKETING, "marketing_head"),
]

USERS = [
    # username, first name, last name, role, team
    ("admin", "Николай", "Фёдоров", Role.ADMIN, None),
    ("ceo", "Андрей", "Соколов", Role.EXECUTIVE, None),
    ("sales_head", "Ольга", "Кузнецова", Role.SALES_HEAD, "sales-1"),
    ("sales_head2", "Дмитрий", "Орлов", Role.SALES_HEAD, "sales-2"),
    ("marketing_head", "Екатерина", "Белова", Role.MARKETING_HEAD, "marketing"),
    ("marketer", "Алексей", "Зайцев", Role.MARKETER, "marketing"),
    ("rep1", "Иван", "Смирнов", Role.REP, "sales-1"),
    ("rep2", "Мария", "Волкова", Role.REP, "sales-1"),
    ("rep3", "Сергей", "Лебедев", Role.REP, "sales-1"),
    ("rep4", "Анна", "Морозова", Role.REP, "sales-2"),
    ("rep5", "Павел", "Новиков", Role.REP, "sales-2"),
]
DEMO_USERNAMES = [u[0] for u in USERS]


@dataclass(frozen=True)
class RepProfile:
    # Median delay of the first call, in working minutes, and how well the rep
    # converts (a multiplier on every step of the funnel).
    first_call_minutes: float
    skill: float


REPS = {
    "rep1": RepProfile(4, 1.1),
    "rep2": RepProfile(7, 1.05),
    "rep3": RepProfile(25, 0.9),  # the slow one: the SLA report should show it
    "rep4": RepProfile(6, 1.0),
    "rep5": RepProfile(12, 0.95),
}
# Share of leads routed to each sales team.
TEAM_SHARE = {"sales-1": 0.6, "sales-2": 0.4}

# --- reference data ---------------------------------------------------------------------------

PRODUCTS = [
    # code, name, weight, deal amount range (RUB)
    ("crm", "CRM-модуль «ТехноСфера CRM»", 30, (300_000, 2_500_000)),
    ("wms", "Складской учёт «ТехноСфера Склад»", 24, (500_000, 4_500_000)),
    ("tsd", "Терминалы сбора данных (ТСД)", 14, (250_000, 1_800_000)),
    ("implementation", "Внедрение под ключ", 12, (400_000, 3_500_000)),
    ("support", "Техподдержка (годовой контракт)", 11, (150_000, 900_000)),
    ("training", "Обучение персонала", 9, (150_000, 450_000)),
]

SEGMENTS = [
    {
        "code": "retail_chains",
        "name_ru": "Розничные сети",
        "name_en": "Retail chains",
        "industry": "Розничная торговля: продукты, стройматериалы, бытовая техника",
        "company_size": "100–2000 сотрудников",
        "budget": "1–5 млн ₽",
        "deal_cycle_days": 60,
        "pains": "Расхождения остатков между магазинами и складом, ручные инвентаризации, потери на пересорте.",
        "triggers": "Открытие новых магазинов, смена ERP, провальная инвентаризация.",
        "readiness": "Есть ИТ-директор или руководитель логистики, согласован бюджет на автоматизацию.",
        "fit": Fit.OURS,
    },
    {
        "code": "distribution",
        "name_ru": "Оптовая торговля и дистрибуция",
        "name_en": "Wholesale and distribution",
        "industry": "Дистрибьюторы и оптовые компании",
        "company_size": "50–500 сотрудников",
        "budget": "0,5–3 млн ₽",
        "deal_cycle_days": 45,
        "pains": "Менеджеры ведут клиентов в Excel, заявки теряются, нет контроля отгрузок.",
        "triggers": "Рост отдела продаж, уход ключевого менеджера с базой клиентов.",
        "readiness": "Учёт ведётся в 1С, собственник готов выделить бюджет на CRM.",
        "fit": Fit.OURS,
    },
    {
        "code": "logistics",
        "name_ru": "Логистика и 3PL-операторы",
        "name_en": "Logistics and 3PL",
        "industry": "Складская логистика, ответственное хранение, фулфилмент",
        "company_size": "50–1000 сотрудников",
        "budget": "1–5 млн ₽",
        "deal_cycle_days": 75,
        "pains": "Медленная приёмка и отгрузка, ошибки комплектации, штрафы маркетплейсов.",
        "triggers": "Новый склад, выход на маркетплейсы, претензии крупного клиента.",
        "readiness": "Склад от 1000 м², понятна схема адресного хранения.",
        "fit": Fit.OURS,
    },
    {
        "code": "manufacturing",
        "name_ru": "Производственные компании",
        "name_en": "Manufacturing",
        "industry": "Дискретное производство, пищевая промышленность",
        "company_size": "200–3000 сотрудников",
        "budget": "2–10 млн ₽",
        "deal_cycle_days": 120,
        "pains": "Нет прозрачности по складу сырья и готовой продукции, долгие согласования.",
        "triggers": "Запуск новой линии, требования маркировки «Честный знак».",
        "readiness": "Есть проектная команда и ИТ-служба, решение принимает дирекция.",
        "fit": Fit.CONDITIONAL,
    },
    {
        "code": "small_business",
        "name_ru": "Малый бизнес и ИП",
        "name_en": "Small business",
        "industry": "Небольшие магазины, сервисные компании",
        "company_size": "до 30 сотрудников",
        "budget": "до 300 тыс. ₽",
        "deal_cycle_days": 14,
        "pains": "Хочется «как у больших», но без бюджета на внедрение.",
        "triggers": "Открытие бизнеса, проверка или штраф.",
        "readiness": "Готовы к коробочному решению без доработок.",
        "fit": Fit.NOT_OURS,
    },
]

SEGMENT_CRITERIA = [
    # segment, level, code, position, text_ru, text_en
    ("retail_chains", CriterionLevel.MQL, "stores_10plus", 10, "Не менее 10 торговых точек", "At least 10 stores"),
    ("logistics", CriterionLevel.MQL, "warehouse_1000", 10, "Склад от 1000 м² (собственный или арендованный)",
     "A warehouse of 1,000 m² or more (owned or leased)"),
    ("manufacturing", CriterionLevel.SQL, "it_team", 10, "У клиента есть ИТ-служба для внедрения",
     "The client has an IT team for the rollout"),
    ("distribution", CriterionLevel.SQL, "erp_1c", 10, "Учёт ведётся в 1С, интеграция согласована",
     "Accounting runs on 1C and the integration is agreed"),
]  # fmt: skip


@dataclass(frozen=True)
class SourceProfile:
    code: str
    name: str
    kind: str
    weight: float
    channels: dict
    # Chances of each funnel step: the person is reached, fits as MQL, becomes SQL
    # (and gets a meeting), the meeting leads to a proposal, the proposal to a deal.
    reach: float
    mql: float
    sql: float
    proposal: float
    deal: float
    segments: dict
    early_reasons: dict  # why a reached lead is not an MQL
    unreached: dict  # what happens to a lead nobody reaches: silent / wrong / junk


FORM, CHAT, CALL, API = EntryChannel.FORM, EntryChannel.CHAT, EntryChannel.CALL, EntryChannel.API
IMPORT, MANUAL = EntryChannel.IMPORT, EntryChannel.MANUAL

_SEGMENTS_DEFAULT = {
    "retail_chains": 24,
    "distribution": 26,
    "logistics": 16,
    "manufacturing": 14,
    "small_business": 20,
}
_SEGMENTS_WARM = {
    "retail_chains": 28,
    "distribution": 26,
    "logistics": 20,
    "manufacturing": 18,
    "small_business": 8,
}
_EARLY_DEFAULT = {
    "not_target": 30, "no_need": 24, "not_now": 18, "duplicate": 8, "spam": 4, "wrong_contacts": 5, "other": 6,
}  # fmt: skip
_EARLY_WARM = {"no_need": 28, "not_now": 32, "not_target": 14, "duplicate": 12, "other": 10}
_UNREACHED_DEFAULT = {"silent": 70, "wrong": 18, "junk": 12}

SOURCES = [
    # code, name, kind, weight, entry channels,
    # reach, mql, sql, proposal, deal, segments, early reasons, unreached outcomes
    SourceProfile(
        "yandex_direct", "Яндекс Директ", SourceKind.PAID, 26, {FORM: 60, CHAT: 22, CALL: 18},
        0.80, 0.45, 0.40, 0.58, 0.36, _SEGMENTS_DEFAULT, _EARLY_DEFAULT, _UNREACHED_DEFAULT,
    ),
    SourceProfile(
        "vk_ads", "VK Реклама", SourceKind.PAID, 11, {FORM: 70, CHAT: 25, CALL: 5},
        0.66, 0.28, 0.30, 0.50, 0.30, {**_SEGMENTS_DEFAULT, "small_business": 42},
        {"not_target": 40, "spam": 14, "no_need": 20, "not_now": 8, "wrong_contacts": 8, "duplicate": 5, "other": 5},
        {"silent": 55, "wrong": 25, "junk": 20},
    ),
    SourceProfile(
        "seo", "SEO / органика", SourceKind.ORGANIC, 16, {FORM: 55, CHAT: 20, CALL: 25},
        0.85, 0.50, 0.42, 0.60, 0.38, _SEGMENTS_DEFAULT, _EARLY_DEFAULT, _UNREACHED_DEFAULT,
    ),
    SourceProfile(
        "telegram", "Telegram-канал", SourceKind.SOCIAL, 6, {CHAT: 55, FORM: 40, CALL: 5},
        0.80, 0.40, 0.36, 0.55, 0.33, _SEGMENTS_DEFAULT, _EARLY_DEFAULT, _UNREACHED_DEFAULT,
    ),
    SourceProfile(
        "webinars", "Вебинары", SourceKind.EVENT, 4, {FORM: 65, API: 35},
        0.84, 0.50, 0.40, 0.55, 0.35, _SEGMENTS_DEFAULT, _EARLY_DEFAULT, _UNREACHED_DEFAULT,
    ),
    # Weight 0: exhibition leads follow the exhibition calendar instead (EXHIBITIONS).
    SourceProfile(
        "exhibitions", "Выставки", SourceKind.EVENT, 0, {IMPORT: 60, MANUAL: 30, FORM: 10},
        0.86, 0.55, 0.45, 0.60, 0.38, _SEGMENTS_WARM, _EARLY_DEFAULT, {"silent": 70, "wrong": 25, "junk": 5},
    ),
    SourceProfile(
        "referrals", "Рекомендации", SourceKind.REFERRAL, 8, {CALL: 50, MANUAL: 30, FORM: 20},
        0.95, 0.75, 0.60, 0.70, 0.46, _SEGMENTS_WARM, _EARLY_WARM, {"silent": 85, "wrong": 10, "junk": 5},
    ),
    SourceProfile(
        "partners", "Партнёры", SourceKind.PARTNER, 7, {API: 60, FORM: 20, CALL: 20},
        0.93, 0.70, 0.55, 0.65, 0.42, _SEGMENTS_WARM, _EARLY_WARM, {"silent": 80, "wrong": 12, "junk": 8},
    ),
    SourceProfile(
        "cold_outreach", "Холодный обзвон", SourceKind.OUTBOUND, 9, {MANUAL: 70, CALL: 30},
        0.78, 0.25, 0.30, 0.50, 0.30, _SEGMENTS_DEFAULT,
        {"no_need": 35, "not_now": 30, "not_target": 20, "wrong_contacts": 10, "other": 5},
        {"silent": 75, "wrong": 25},
    ),
]  # fmt: skip
SOURCE_BY_CODE = {s.code: s for s in SOURCES}


@dataclass(frozen=True)
class CampaignProfile:
    source: str
    code: str
    name: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    # Months relative to the first month of the demo year; None = still running.
    start_month: int
    end_month: int | None
    weight: float
    monthly_spend: int  # RUB at the default volume; 0 = no paid placement


CAMPAIGNS = [
    CampaignProfile(
        "yandex_direct", "yd-search-crm", "Поиск: CRM для отдела продаж", "yandex", "cpc", "search_crm",
        -8, None, 34, 210_000,
    ),
    CampaignProfile(
        "yandex_direct", "yd-search-wms", "Поиск: складской учёт и ТСД", "yandex", "cpc", "search_wms",
        -8, None, 30, 180_000,
    ),
    CampaignProfile(
        "yandex_direct", "yd-rsya-retargeting", "РСЯ: ретаргетинг на посетителей сайта", "yandex", "cpc",
        "rsya_retargeting", 3, None, 20, 95_000,
    ),
    CampaignProfile(
        "yandex_direct", "yd-brand", "Брендовые запросы «ТехноСфера»", "yandex", "cpc", "brand",
        -14, None, 16, 80_000,
    ),
    CampaignProfile(
        "vk_ads", "vk-lookalike", "Look-alike по базе клиентов", "vk", "cpc", "lookalike_clients",
        -2, 6, 40, 160_000,
    ),
    CampaignProfile(
        "vk_ads", "vk-leadforms-crm", "Лид-формы: демо CRM", "vk", "cpc", "leadform_crm_demo",
        4, None, 40, 130_000,
    ),
    CampaignProfile(
        "vk_ads", "vk-retail-wms", "Ритейл: складской учёт", "vk", "cpc", "retail_wms",
        8, None, 20, 110_000,
    ),
    CampaignProfile(
        "telegram", "tg-channel-posts", "Посты в канале «ТехноСфера Про»", "telegram", "social", "channel_posts",
        -14, None, 60, 0,
    ),
    CampaignProfile(
        "telegram", "tg-ads-crm", "Telegram Ads: CRM для B2B", "telegram", "cpm", "tgads_crm",
        2, None, 40, 90_000,
    ),
]  # fmt: skip

# Source-level spend (no campaigns): webinars every month, exhibitions in their months.
WEBINAR_MONTHLY_SPEND = 45_000
EXHIBITIONS = [
    # month, first day, name (the leads follow for three weeks)
    (3, 18, "«СкладТех Экспо»"),
    (6, 3, "«Ритейл Технологии»"),
    (9, 23, "«Логистика и склад»"),
    (11, 12, "«Промавтоматизация»"),
]
EXHIBITION_SPEND = (450_000, 900_000)
EXHIBITION_LEAD_DAYS = 21

# Month-of-year seasonality of demand (January holidays and summer are quieter).
SEASONALITY = {
    1: 0.7, 2: 0.95, 3: 1.05, 4: 1.0, 5: 0.85, 6: 0.95, 7: 0.85, 8: 0.85, 9: 1.1, 10: 1.15, 11: 1.15, 12: 1.0,
}  # fmt: skip

# --- what people write and how they are called -----------------------------------------------

COMMENTS = {
    "crm": [
        "Нужна CRM для отдела продаж на 15 человек, пришлите цены",
        "Сейчас ведём клиентов в Excel, хотим перейти на нормальную систему",
        "Интересует интеграция CRM с 1С и телефонией",
        "Можно демо на следующей неделе? Будет коммерческий директор",
    ],
    "wms": [
        "Интересует складской учёт, у нас 2 склада и около 3000 SKU",
        "Постоянные пересорты при отгрузке, ищем WMS",
        "Переходим на адресное хранение, нужна консультация",
    ],
    "tsd": [
        "Нужны терминалы сбора данных на 10 кладовщиков, какие сроки поставки?",
        "Нужны ТСД под маркировку «Честный знак»",
        "Сколько стоят ТСД с вашей программой? Нужно 6 штук",
    ],
    "implementation": [
        "Сколько стоит внедрение и сколько по времени?",
        "Купили лицензии у другого партнёра, ищем, кто внедрит",
        "Нужен расчёт внедрения для трёх филиалов",
    ],
    "support": [
        "Техподдержка текущего подрядчика не устраивает, ищем замену",
        "Хотим продлить поддержку и добавить пользователей",
    ],
    "training": [
        "Нужно обучение новых сотрудников работе в системе",
        "Есть ли у вас обучение для кладовщиков с выездом?",
    ],
    "": [
        "Перезвоните, пожалуйста, после 14:00",
        "Просим выставить счёт, реквизиты пришлю на почту",
        "Хотим узнать цены, пришлите прайс на почту",
        "",
    ],
}
UPSELL_PRODUCTS = ["support", "training", "implementation", "tsd"]
UNKNOWN_PRODUCT_TEXTS = ["erp", "mobile-app", "1c-unf", "marketplace-integration"]

REJECTION_COMMENTS = {
    "other": [
        "Компания закрывает направление",
        "Решили делать собственную разработку",
        "Проект заморожен решением головного офиса",
        "Клиент просил больше не звонить",
        "Сменился собственник, все закупки остановлены",
    ],
    "chose_competitor": [
        "Выбрали решение конкурента с готовой интеграцией",
        "Остались на текущей системе, продлили лицензии",
    ],
    "price": ["Бюджет в два раза меньше нашего КП", "Просили скидку 40%, согласовать не смогли"],
    "no_budget": ["Бюджет на следующий год ещё не утверждён"],
}
# Why a lead went to nurture (Lead.nurture_reason and the stage change's note).
NURTURE_REASONS = {
    "silent": "3 звонка без ответа",  # what the attempts rule writes, in Russian
    "not_now": [
        "Клиент просил вернуться после нового бюджетного года",
        "Сейчас идёт переезд склада, вернуться через пару месяцев",
        "Интересно, но не в этом квартале",
    ],
}

MALE_FIRST = [
    "Александр", "Алексей", "Андрей", "Антон", "Артём", "Борис", "Вадим", "Василий", "Виктор", "Владимир",
    "Владислав", "Георгий", "Денис", "Дмитрий", "Евгений", "Игорь", "Илья", "Кирилл", "Константин", "Максим",
    "Михаил", "Никита", "Олег", "Павел", "Роман", "Руслан", "Сергей", "Станислав", "Тимур", "Юрий",
]  # fmt: skip
FEMALE_FIRST = [
    "Алина", "Анастасия", "Анна", "Валентина", "Вера", "Галина", "Дарья", "Евгения", "Екатерина", "Елена",
    "Ирина", "Ксения", "Лариса", "Любовь", "Марина", "Мария", "Наталья", "Оксана", "Ольга", "Светлана",
    "Татьяна", "Юлия",
]  # fmt: skip
# Surnames in the masculine form; the feminine one adds «а» (Иванов → Иванова).
SURNAMES = [
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров",
    "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев",
    "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев",
    "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв",
    "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов",
]  # fmt: skip
POSITIONS = [
    ("Генеральный директор", 12),
    ("Коммерческий директор", 14),
    ("Руководитель отдела продаж", 14),
    ("ИТ-директор", 10),
    ("Руководитель склада", 10),
    ("Директор по логистике", 7),
    ("Финансовый директор", 5),
    ("Менеджер по закупкам", 10),
    ("Операционный директор", 6),
    ("Главный инженер", 3),
    ("Офис-менеджер", 4),
    ("", 7),
]
COMPANY_ADJECTIVE_NAMES = [
    "Северный ветер", "Южный терминал", "Восточный путь", "Первый склад", "Новый стандарт", "Уральский холод",
    "Сибирский альянс", "Волжский берег", "Русский двор", "Главный капитал", "Балтийский порт", "Невский путь",
    "Зелёная долина", "Белый медведь", "Красный октябрь", "Золотой колос", "Дальний рейс", "Быстрая доставка",
]  # fmt: skip
COMPANY_PREFIXES = [
    "Техно", "Агро", "Строй", "Мед", "Лес", "Энерго", "Авто", "Пром", "Евро", "Гео", "Альфа", "Вектор",
    "Мега", "Старт", "Волга", "Урал", "Сибирь", "Нева", "Кама", "Дон",
]  # fmt: skip
COMPANY_SUFFIXES = [
    "снаб", "торг", "сервис", "трейд", "пром", "логистик", "маркет", "холдинг", "групп", "ресурс",
]  # fmt: skip
LEGAL_FORMS = [("ООО", 80), ("АО", 12), ("ПАО", 2), ("ИП", 6)]

# Mobile codes of Russian operators; every number built from them is valid for `phonenumbers`.
MOBILE_CODES = [
    "901", "903", "905", "906", "909", "910", "913", "915", "916", "917", "919", "921", "925", "926",
    "929", "936", "951", "958", "960", "964", "965", "977", "980", "982", "985", "987", "995", "999",
]  # fmt: skip

TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def translit(text: str) -> str:
    out = []
    for ch in text.lower():
        if ch in TRANSLIT:
            out.append(TRANSLIT[ch])
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


# --- time: the working calendar ---------------------------------------------------------------

DAY_OPENS, DAY_CLOSES = 9, 19
WORKING_MINUTES_PER_DAY = (DAY_CLOSES - DAY_OPENS) * 60
WORK_HOUR_WEIGHTS = [0.8, 1.2, 1.3, 1.1, 0.8, 1.1, 1.2, 1.1, 0.9, 0.6]  # 9:00 … 18:00
OFF_HOURS = [7, 8, 19, 20, 21, 22, 23]
OFF_HOUR_WEIGHTS = [0.3, 0.6, 0.6, 0.45, 0.35, 0.2, 0.1]


class WorkCalendar:
    """Mon–Fri 9:00–19:00 in the company's zone, Russian public holidays off.

    Simpler than the SLA calendar on purpose: the demo only needs believable
    times, and it must not depend on calendars configured in the database.
    """

    def __init__(self, tz: ZoneInfo, years: list[int]):
        self.tz = tz
        self.days_off = set(holidays.country_holidays("RU", years=years))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.days_off

    def next_open(self, moment: datetime) -> datetime:
        """`moment` if it is working time, else the next opening."""
        if self.is_working_day(moment.date()):
            if DAY_OPENS <= moment.hour < DAY_CLOSES:
                return moment
            if moment.hour < DAY_OPENS:
                return moment.replace(hour=DAY_OPENS, minute=0, second=0, microsecond=0)
        day = moment.date() + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime(day.year, day.month, day.day, DAY_OPENS, tzinfo=self.tz)

    def add_minutes(self, moment: datetime, minutes: float) -> datetime:
        """`moment` plus `minutes` of working time (jumps over nights, weekends, holidays)."""
        moment = self.next_open(moment)
        while True:
            closes = moment.replace(hour=DAY_CLOSES, minute=0, second=0, microsecond=0)
            left = (closes - moment).total_seconds() / 60
            if minutes < left:
                return (moment + timedelta(minutes=minutes)).replace(microsecond=0)
            minutes -= left
            moment = self.next_open(closes)

    def later(self, rng: random.Random, moment: datetime, days: float) -> datetime:
        """Some working moment about `days` calendar days after `moment`."""
        target = moment + timedelta(days=days)
        if target.date() == moment.date():
            return self.add_minutes(moment, rng.uniform(20, 120))
        target = target.replace(hour=DAY_OPENS, minute=0, second=0, microsecond=0)
        return self.add_minutes(target, rng.uniform(0, WORKING_MINUTES_PER_DAY - 30))


# --- the reference data ---------------------------------------------------------------------------


@dataclass
class Reference:
    sources: dict[str, Source]
    campaigns: dict[str, list[tuple[Campaign, CampaignProfile]]]  # per source code
    products: dict[str, Product]
    segments: dict[str, Segment]
    reasons: dict[str, RejectionReason]
    criteria: dict[tuple[str | None, str], list[QualificationCriterion]]  # (segment code, level)
    stage_ids: dict[str, int] = field(init=False)
    stage_kinds: dict[str, str] = field(init=False)
    stage_positions: dict[str, int | None] = field(init=False)
    product_codes: dict[int, str] = field(init=False)

    def __post_init__(self):
        stages = list(Stage.objects.all())
        self.stage_ids = {s.code: s.pk for s in stages}
        self.stage_kinds = {s.code: s.kind for s in stages}
        self.stage_positions = {s.code: s.position for s in stages}
        self.product_codes = {p.pk: code for code, p in self.products.items()}


def month_start(day: date, shift: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def demo_window(today: date) -> tuple[date, date]:
    """The demo year: 365 days ending the day before `today` (today itself stays empty,
    so nothing is in the future whatever the hour)."""
    return today - timedelta(days=365), today


def exhibition_periods(first: date, end: date) -> list[tuple[date, date, str]]:
    periods = []
    for year in range(first.year, end.year + 1):
        for month, day, name in EXHIBITIONS:
            start = date(year, month, day)
            if start < end and start + timedelta(days=EXHIBITION_LEAD_DAYS) > first:
                periods.append((start, start + timedelta(days=EXHIBITION_LEAD_DAYS), name))
    return periods


def ensure_reference_data(today: date, seed: int, leads: int = DEFAULT_LEADS) -> Reference:
    """Upsert sources, campaigns, products, segments, checklist lines and spend."""
    first, end = demo_window(today)
    first_month = month_start(first)

    sources = {}
    for profile in SOURCES:
        sources[profile.code], _ = Source.objects.update_or_create(
            code=profile.code, defaults={"name": profile.name, "kind": profile.kind, "is_active": True}
        )

    campaigns: dict[str, list] = {code: [] for code in sources}
    for profile in CAMPAIGNS:
        starts_on = month_start(first_month, profile.start_month)
        ends_on = None
        if profile.end_month is not None:
            ends_on = month_start(first_month, profile.end_month + 1) - timedelta(days=1)
        campaign, _ = Campaign.objects.update_or_create(
            source=sources[profile.source],
            code=profile.code,
            defaults={
                "name": profile.name,
                "utm_source": profile.utm_source,
                "utm_medium": profile.utm_medium,
                "utm_campaign": profile.utm_campaign,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "is_active": ends_on is None or ends_on >= end,
            },
        )
        campaigns[profile.source].append((campaign, profile))

    products = {}
    for code, name, _weight, _amounts in PRODUCTS:
        products[code], _ = Product.objects.update_or_create(
            code=code, defaults={"name": name, "is_active": True}
        )

    segments = {}
    for data in SEGMENTS:
        data = dict(data)
        code = data.pop("code")
        segments[code], _ = Segment.objects.update_or_create(code=code, defaults={**data, "is_active": True})

    for segment_code, level, code, position, text_ru, text_en in SEGMENT_CRITERIA:
        QualificationCriterion.objects.update_or_create(
            segment=segments[segment_code],
            level=level,
            code=code,
            defaults={"position": position, "text_ru": text_ru, "text_en": text_en, "is_active": True},
        )

    _upsert_spend(sources, campaigns, first, end, seed, leads)

    criteria: dict[tuple[str | None, str], list] = {}
    segment_codes = {s.pk: code for code, s in segments.items()}
    for criterion in QualificationCriterion.objects.filter(is_active=True).order_by(
        "level", "position", "id"
    ):
        if criterion.segment_id is not None and criterion.segment_id not in segment_codes:
            continue  # a segment someone else added; demo leads never land in it
        key = (segment_codes.get(criterion.segment_id), criterion.level)
        criteria.setdefault(key, []).append(criterion)

    return Reference(
        sources=sources,
        campaigns=campaigns,
        products=products,
        segments=segments,
        reasons=RejectionReason.objects.in_bulk(field_name="code"),
        criteria=criteria,
    )


def _upsert_spend(sources, campaigns, first: date, end: date, seed: int, leads: int) -> None:
    # Its own random stream, so the amounts do not shift when the lead count does.
    rng = random.Random(f"spend-{seed}")
    scale = max(leads, 1) / DEFAULT_LEADS
    months = []
    month = month_start(first)
    while month < end:
        months.append(month)
        month = month_start(month, 1)

    def share_of_month(month: date, active_from: date, active_to: date) -> float:
        """The part of `month` that is inside the demo year and the active period."""
        next_month = month_start(month, 1)
        lo, hi = max(month, first, active_from), min(next_month, end, active_to)
        return max((hi - lo).days, 0) / (next_month - month).days

    def amount(base: float, month: date, share: float) -> Decimal:
        growth = 0.85 + 0.3 * (month - first).days / 365
        value = base * scale * share * growth * SEASONALITY[month.month] * rng.uniform(0.85, 1.15)
        return Decimal(round(value, -2)).quantize(Decimal("0.01"))

    for source_code, items in campaigns.items():
        for campaign, profile in items:
            if not profile.monthly_spend:
                continue
            active_to = campaign.ends_on + timedelta(days=1) if campaign.ends_on else end
            for month in months:
                share = share_of_month(month, campaign.starts_on, active_to)
                if share <= 0:
                    continue
                Spend.objects.update_or_create(
                    campaign=campaign,
                    month=month,
                    defaults={
                        "source": sources[source_code],
                        "amount": amount(profile.monthly_spend, month, share),
                        "currency": "RUB",
                    },
                )
    for month in months:
        share = share_of_month(month, first, end)
        Spend.objects.update_or_create(
            source=sources["webinars"],
            campaign=None,
            month=month,
            defaults={"amount": amount(WEBINAR_MONTHLY_SPEND, month, share), "currency": "RUB"},
        )
    for start, _stop, _name in exhibition_periods(first, end):
        if start < first:
            continue  # paid before the demo year began
        Spend.objects.update_or_create(
            source=sources["exhibitions"],
            campaign=None,
            month=month_start(start),
            defaults={"amount": amount(rng.uniform(*EXHIBITION_SPEND), start, 1.0), "currency": "RUB"},
        )


# --- teams and users ------------------------------------------------------------------------------


def demo_users_exist() -> bool:
    return User.objects.filter(username__in=DEMO_USERNAMES).count() == len(DEMO_USERNAMES)


def ensure_users() -> dict[str, User]:
    """Upsert the teams and the demo users (all with the password «demo»)."""
    teams = {}
    for code, name, kind, _head in TEAMS:
        teams[code], _ = Team.objects.update_or_create(code=code, defaults={"name": name, "kind": kind})
    # Hashing is deliberately slow; one hash serves every demo user.
    password = make_password(DEMO_PASSWORD)
    users = {}
    for username, first_name, last_name, role, team_code in USERS:
        user = User.objects.filter(username=username).first() or User(username=username)
        user.first_name, user.last_name = first_name, last_name
        user.email = f"{username}@{EMAIL_DOMAIN}"
        user.role = role
        user.team = teams[team_code] if team_code else None
        user.is_active = True
        user.password = password
        user.save()  # save() keeps the role's group in step
        users[username] = user
    for code, _name, _kind, head in TEAMS:
        Team.objects.filter(pk=teams[code].pk).update(head=users[head])
    return users


# --- the leads --------------------------------------------------------------------------------------


def delete_leads() -> None:
    """Remove every lead with what hangs off it, and all contacts (for --reset)."""
    # Children first with single DELETEs; the cascade would do the same row by row.
    for model in (Deal, CriterionAnswer, ContactAttempt, StageChange, LeadEvent, InboundRequest):
        model.objects.all().delete()
    Lead.objects.all().delete()
    Contact.objects.all().delete()


class _Picker:
    """Weighted choice with precomputed cumulative weights (called 100,000s of times)."""

    def __init__(self, weights: dict):
        self.items = list(weights)
        self.cum = list(accumulate(weights.values()))

    def __call__(self, rng: random.Random):
        return rng.choices(self.items, cum_weights=self.cum)[0]


# Rows that hang off a lead, in the order they are inserted.
CHILD_MODELS = (InboundRequest, StageChange, ContactAttempt, CriterionAnswer, Deal)


class _Chunk:
    """The rows of a few thousand leads, written together.

    Rows are built with plain ids (`source_id=…`) rather than related instances:
    Django's related-object descriptors cost more than everything else here. A
    child keeps its lead beside it until the lead has a primary key.
    """

    def __init__(self):
        self.contacts: list[Contact] = []  # new contacts only
        self.leads: list[tuple[Lead, Contact]] = []
        self.children: dict[type, list] = {model: [] for model in CHILD_MODELS}

    def add(self, row, lead: Lead) -> None:
        self.children[type(row)].append((row, lead))

    def write(self) -> None:
        # bulk_create sets primary keys on PostgreSQL and on SQLite ≥ 3.35.
        Contact.objects.bulk_create(self.contacts, batch_size=BATCH_SIZE)
        for lead, contact in self.leads:
            lead.contact_id = contact.pk
        Lead.objects.bulk_create([lead for lead, _ in self.leads], batch_size=BATCH_SIZE)
        for model, rows in self.children.items():
            for row, lead in rows:
                row.lead_id = lead.pk
                if model in (InboundRequest, Deal):
                    row.contact_id = lead.contact_id
            model.objects.bulk_create([row for row, _ in rows], batch_size=BATCH_SIZE)


class LeadGenerator:
    def __init__(self, ref: Reference, users: dict[str, User], *, seed: int, today: date):
        self.ref = ref
        self.rng = random.Random(seed)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        first, end_day = demo_window(today)
        self.first = first
        self.end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=self.tz)
        self.recent = self.end - timedelta(days=14)
        self.calendar = WorkCalendar(self.tz, list(range(first.year, end_day.year + 1)))
        self.exhibitions = exhibition_periods(first, end_day)

        teams = {u.team.code: u.team for u in users.values() if u.team}
        self.team_ids = {code: teams[code].pk for code in TEAM_SHARE}
        self.reps_by_team = {
            code: [users[u] for u in REPS if users[u].team.code == code] for code in TEAM_SHARE
        }
        self.round_robin = dict.fromkeys(TEAM_SHARE, 0)
        self.team_picker = _Picker(TEAM_SHARE)

        base = {s.code: s.weight for s in SOURCES}
        self.source_picker = _Picker(base)
        self.exhibition_source_picker = _Picker({**base, "exhibitions": 45})
        self.channel_pickers = {s.code: _Picker(s.channels) for s in SOURCES}
        self.segment_pickers = {s.code: _Picker(s.segments) for s in SOURCES}
        self.early_pickers = {s.code: _Picker(s.early_reasons) for s in SOURCES}
        self.unreached_pickers = {s.code: _Picker(s.unreached) for s in SOURCES}
        self.product_picker = _Picker({code: w for code, _n, w, _a in PRODUCTS})
        self.product_amounts = {code: amounts for code, _n, _w, amounts in PRODUCTS}
        self.position_picker = _Picker(dict(POSITIONS))
        self.legal_picker = _Picker(dict(LEGAL_FORMS))
        self.failed_picker = _Picker(
            {AttemptOutcome.NO_ANSWER: 60, AttemptOutcome.BUSY: 25, AttemptOutcome.VOICEMAIL: 15}
        )
        self.sql_fail_picker = _Picker(
            {"no_budget": 34, "no_authority": 26, "not_now": 24, "price": 8, "other": 8}
        )
        self.meeting_fail_picker = _Picker(
            {"chose_competitor": 30, "price": 25, "no_budget": 20, "not_now": 15, "other": 10}
        )
        self.proposal_fail_picker = _Picker(
            {"price": 40, "chose_competitor": 35, "not_now": 10, "no_budget": 10, "other": 5}
        )
        self.companies = [(f"«{n}»", translit(n)) for n in COMPANY_ADJECTIVE_NAMES] + [
            (f"«{p}{s}»", translit(p + s)) for p in COMPANY_PREFIXES for s in COMPANY_SUFFIXES
        ]

        # Phones and emails must not collide with contacts already in the database.
        self.taken_phones = set(Contact.objects.exclude(phone="").values_list("phone", flat=True))
        self.taken_emails = set(Contact.objects.exclude(email="").values_list("email", flat=True))
        self.phone_index = 0
        self.phone_offset = self.rng.randrange(10**7)
        # Contacts whose lead has closed and who may come back with a new request.
        self.returning_pool: list[tuple[datetime, Contact, Segment]] = []
        self.won_phones: set[str] = set()  # contacts with a won deal (phones are unique)

    # --- arrival times -----------------------------------------------------------------------------

    def arrival_times(self, n: int) -> list[datetime]:
        """`n` arrival moments over the demo year: busier on working days, in working
        hours, in the busy season and in recent months (the business grows)."""
        rng, cal = self.rng, self.calendar
        days, weights = [], []
        for offset in range(365):
            day = self.first + timedelta(days=offset)
            weight = 1.0 if cal.is_working_day(day) else 0.15
            days.append(day)
            weights.append(weight * SEASONALITY[day.month] * (0.8 + 0.45 * offset / 365))
        times = []
        for day in rng.choices(days, weights=weights, k=n):
            if cal.is_working_day(day):
                if rng.random() < 0.85:
                    hour = rng.choices(range(DAY_OPENS, DAY_CLOSES), weights=WORK_HOUR_WEIGHTS)[0]
                else:
                    hour = rng.choices(OFF_HOURS, weights=OFF_HOUR_WEIGHTS)[0]
            else:
                hour = rng.randrange(10, 23)
            times.append(
                datetime(
                    day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=self.tz
                )
            )
        times.sort()
        return times

    # --- people ------------------------------------------------------------------------------------

    def next_phone(self) -> str:
        # A permutation of the 7-digit subscriber numbers (the multiplier is coprime
        # to 10), so numbers look random yet never repeat within a run.
        while True:
            i = self.phone_index
            self.phone_index += 1
            code = MOBILE_CODES[i % len(MOBILE_CODES)]
            subscriber = (i // len(MOBILE_CODES) * 7_919_113 + self.phone_offset) % 10**7
            phone = f"+7{code}{subscriber:07d}"
            if phone not in self.taken_phones:
                self.taken_phones.add(phone)
                return phone

    def new_contact(self, created_at: datetime) -> Contact:
        rng = self.rng
        female = rng.random() < 0.4
        first_name = rng.choice(FEMALE_FIRST if female else MALE_FIRST)
        last_name = rng.choice(SURNAMES)
        if female:
            last_name += "а"
        # Forms often ask for the first name only.
        name = first_name if rng.random() < 0.12 else f"{first_name} {last_name}"

        legal = self.legal_picker(rng)
        if legal == "ИП":
            company = f"ИП {last_name} {first_name[0]}. {rng.choice(MALE_FIRST)[0]}."
            domain = translit(last_name)
        else:
            brand, domain = rng.choice(self.companies)
            company = f"{legal} {brand}"
        if rng.random() < 0.04:
            company = ""

        email = ""
        if rng.random() < 0.75:
            first, last = translit(first_name), translit(last_name)
            roll = rng.random()
            if roll < 0.45:
                local = f"{first}.{last}"
            elif roll < 0.7:
                local = f"{first[0]}.{last}"
            elif roll < 0.85:
                local = last
            else:
                local = rng.choice(["info", "sales", "zakupki"])
            # Reserved .example domains: demo mail can never reach a real company.
            email = f"{local}@{domain}.example"
            suffix = 2
            while email in self.taken_emails:
                email = f"{local}{suffix}@{domain}.example"
                suffix += 1
            self.taken_emails.add(email)

        return Contact(
            name=name,
            company=company,
            position=self.position_picker(rng),
            phone=self.next_phone(),
            email=email,
            created_at=created_at,
        )

    def returning_contact(self, created_at: datetime) -> tuple[Contact | None, Segment | None]:
        """A contact whose earlier lead has closed, now back with a new request."""
        pool = self.returning_pool
        for _ in range(3):
            if not pool:
                break
            index = self.rng.randrange(len(pool))
            closed_at, contact, segment = pool[index]
            if closed_at < created_at:
                pool[index] = pool[-1]
                pool.pop()
                return contact, segment
        return None, None

    def assign(self) -> tuple[str, User]:
        """Round-robin within a team; now and then someone is away and the next rep takes it."""
        team_code = self.team_picker(self.rng)
        reps = self.reps_by_team[team_code]
        if self.rng.random() < 0.1:
            rep = self.rng.choice(reps)
        else:
            rep = reps[self.round_robin[team_code] % len(reps)]
            self.round_robin[team_code] += 1
        return team_code, rep

    def priority(self, kind: str) -> str:
        roll = self.rng.random()
        if roll < 0.02:
            return Priority.URGENT
        if kind in (SourceKind.REFERRAL, SourceKind.PARTNER, SourceKind.EVENT) and roll < 0.4:
            return Priority.HIGH
        if roll < 0.08:
            return Priority.HIGH
        if kind == SourceKind.OUTBOUND and roll < 0.45:
            return Priority.LOW
        return Priority.NORMAL

    # --- one lead ----------------------------------------------------------------------------------

    def make_lead(self, created: datetime, chunk: _Chunk) -> None:
        rng, ref = self.rng, self.ref
        in_exhibition = any(start <= created.date() < stop for start, stop, _ in self.exhibitions)
        source_code = (self.exhibition_source_picker if in_exhibition else self.source_picker)(rng)
        profile = SOURCE_BY_CODE[source_code]
        source_id = ref.sources[source_code].pk

        campaign = self.campaign_for(source_code, created.date())
        utm = {}
        if campaign is not None:
            utm = {"utm_source": campaign.utm_source, "utm_medium": campaign.utm_medium}
            utm["utm_campaign"] = campaign.utm_campaign
            if source_code == "yandex_direct" and rng.random() < 0.6:
                utm["utm_term"] = rng.choice(["crm для бизнеса", "программа для склада", "купить тсд", "wms"])
        elif source_code == "seo" and rng.random() < 0.7:
            utm = {"utm_source": "yandex", "utm_medium": "organic"}
        campaign_id = campaign.pk if campaign else None

        contact, segment = None, None
        if self.returning_pool and rng.random() < 0.03:
            contact, segment = self.returning_contact(created)
        is_returning = contact is not None
        # A client coming back buys more: support, training, another rollout.
        is_client = is_returning and contact.phone in self.won_phones
        if contact is None:
            contact = self.new_contact(created)
            chunk.contacts.append(contact)
            segment = ref.segments[self.segment_pickers[source_code](rng)]

        roll = rng.random()
        product_code, product_text = "", ""
        if is_client:
            product_code = rng.choice(UPSELL_PRODUCTS)
        elif roll < 0.92:
            product_code = self.product_picker(rng)
        elif roll < 0.95:
            product_text = rng.choice(UNKNOWN_PRODUCT_TEXTS)  # a code marketing has yet to map
        product_id = ref.products[product_code].pk if product_code else None
        comment = rng.choice(COMMENTS[product_code] if product_code and rng.random() < 0.8 else COMMENTS[""])
        landing = f"{SITE}/{product_code or 'contacts'}/" if FORM in profile.channels else ""
        channel = self.channel_pickers[source_code](rng)

        team_code, owner = self.assign()
        if created >= self.recent and rng.random() < 0.03:
            owner = None  # waiting in the team queue: nobody on shift has taken it yet

        lead = Lead(
            source_id=source_id,
            campaign_id=campaign_id,
            channel=channel,
            utm_source=utm.get("utm_source", ""),
            utm_medium=utm.get("utm_medium", ""),
            utm_campaign=utm.get("utm_campaign", ""),
            utm_term=utm.get("utm_term", ""),
            landing_page=landing,
            product_id=product_id,
            product_text=product_text,
            comment=comment,
            owner_id=owner.pk if owner else None,
            team_id=self.team_ids[team_code],
            stage_id=ref.stage_ids[StageCode.LEAD],
            furthest_stage_id=ref.stage_ids[StageCode.LEAD],
            priority=Priority.HIGH if is_client else self.priority(profile.kind),
            is_returning=is_returning,
            created_at=created,
        )
        chunk.leads.append((lead, contact))
        request = {
            "source_id": source_id,
            "campaign_id": campaign_id,
            "product_text": product_code or product_text,
            "utm": utm,
            "landing_page": landing,
        }
        chunk.add(InboundRequest(channel=channel, comment=comment, received_at=created, **request), lead)

        if owner is not None:
            funnel = _Funnel(self, lead, contact, profile, segment, owner, chunk, is_client)
            funnel.run()
            status = ref.stage_kinds[funnel.stage]
        else:
            status = StageKind.OPEN
            if rng.random() < 0.5:
                lead.segment_id, lead.fit = segment.pk, segment.fit  # marketing has tagged it already

        # A repeat request from the same person while the lead is still open.
        if rng.random() < 0.08:
            until = min(lead.closed_at or self.end, self.end, created + timedelta(days=10))
            span = (until - created).total_seconds()
            if span > 3600:
                chunk.add(
                    InboundRequest(
                        channel=rng.choice([EntryChannel.CALL, EntryChannel.FORM, EntryChannel.CHAT]),
                        comment=rng.choice(
                            ["Оставлял заявку, со мной так и не связались", "Уточните сроки", ""]
                        ),
                        received_at=created + timedelta(seconds=rng.randrange(3600, int(span))),
                        is_repeat=True,
                        **request,
                    ),
                    lead,
                )

        if status in (StageKind.WON, StageKind.LOST) and rng.random() < (
            0.35 if status == StageKind.WON else 0.04
        ):
            self.returning_pool.append((lead.closed_at, contact, segment))

    def campaign_for(self, source_code: str, day: date) -> Campaign | None:
        active = [
            (c, p)
            for c, p in self.ref.campaigns.get(source_code, [])
            if (c.starts_on is None or c.starts_on <= day) and (c.ends_on is None or day <= c.ends_on)
        ]
        if not active:
            return None
        return self.rng.choices([c for c, _ in active], weights=[p.weight for _, p in active])[0]

    # --- the run -----------------------------------------------------------------------------------

    def generate(self, n: int) -> None:
        times = self.arrival_times(n)
        for start in range(0, n, CHUNK_SIZE):
            chunk = _Chunk()
            for created in times[start : start + CHUNK_SIZE]:
                self.make_lead(created, chunk)
            chunk.write()


class _Funnel:
    """How far one assigned lead gets: attempts, qualification, stages and the outcome.

    Every step happens at a working moment after the previous one; a step that would
    fall after the end of the demo year does not happen, so recent leads stay open.
    """

    def __init__(self, gen: LeadGenerator, lead: Lead, contact, profile, segment, owner, chunk, is_client):
        self.gen, self.rng, self.cal = gen, gen.rng, gen.calendar
        self.ref, self.end = gen.ref, gen.end
        self.lead, self.contact, self.chunk = lead, contact, chunk
        self.profile, self.segment = profile, segment
        self.owner_id = owner.pk
        self.rep = REPS[owner.username]
        self.stage = self.furthest = StageCode.LEAD
        self.factor = self.rep.skill * {Fit.OURS: 1.1, Fit.CONDITIONAL: 0.8, Fit.NOT_OURS: 0.5}[segment.fit]
        self.reach = profile.reach
        if is_client:
            self.factor *= 1.8  # they know us, and we know them
            self.reach = 0.97

    def chance(self, base: float) -> bool:
        return self.rng.random() < min(base * self.factor, 0.97)

    # writes -----------------------------------------------------------------------------------
    def move(self, code: str, at: datetime, *, note: str = "") -> None:
        ref, lead = self.ref, self.lead
        self.chunk.add(
            StageChange(
                from_stage_id=ref.stage_ids[self.stage],
                to_stage_id=ref.stage_ids[code],
                changed_by_id=self.owner_id,
                changed_at=at,
                note=note,
            ),
            lead,
        )
        self.stage = code
        lead.stage_id = ref.stage_ids[code]
        lead.stage_changed_at = at
        position = ref.stage_positions[code]
        if position is not None and position > (ref.stage_positions[self.furthest] or 0):
            self.furthest = code
            lead.furthest_stage_id = ref.stage_ids[code]

    def attempt(self, at: datetime, outcome: str, channel: str = AttemptChannel.CALL) -> None:
        rng = self.rng
        duration = None
        if outcome == AttemptOutcome.REACHED:
            duration = int(rng.uniform(60, 900))
        elif outcome == AttemptOutcome.VOICEMAIL:
            duration = int(rng.uniform(10, 40))
        callback_at = None
        if outcome == AttemptOutcome.BUSY and rng.random() < 0.3:
            callback_at = at + timedelta(minutes=rng.randrange(30, 180))
        elif outcome == AttemptOutcome.REACHED and rng.random() < 0.12:
            callback_at = self.cal.later(rng, at, rng.uniform(1, 3))  # «call me back on Thursday»
        self.chunk.add(
            ContactAttempt(
                channel=channel,
                outcome=outcome,
                duration_seconds=duration,
                callback_at=callback_at,
                # Failed calls count towards the «N unanswered calls → nurture» rule.
                counted=outcome in FAILED_CALL_OUTCOMES,
                made_by_id=self.owner_id,
                made_at=at,
            ),
            self.lead,
        )

    def lose(self, at: datetime, reason: str) -> None:
        """Close as lost — or, for «not now», usually send to nurture instead."""
        lead = self.lead
        if reason == "not_now" and self.rng.random() < 0.6:
            self.nurture(
                at, self.rng.choice(NURTURE_REASONS["not_now"]), return_in_days=self.rng.uniform(30, 120)
            )
            return
        self.move(StageCode.LOST, at, note=reason)
        lead.rejection_reason_id = self.ref.reasons[reason].pk
        comments = REJECTION_COMMENTS.get(reason)
        if comments and (reason == "other" or self.rng.random() < 0.3):
            lead.rejection_comment = self.rng.choice(comments)
        lead.closed_at = at

    def nurture(self, at: datetime, reason: str, return_in_days: float | None = None) -> None:
        self.move(StageCode.NURTURE, at, note=reason)
        self.lead.nurture_reason = reason
        if return_in_days is not None:
            # Only a date still ahead: an old nurture with a date long gone would look forgotten.
            return_on = (at + timedelta(days=return_in_days)).date()
            if return_on > self.end.date():
                self.lead.nurture_until = return_on

    def answer(self, level: str, at: datetime, failed: str | None = None) -> None:
        """Tick the checklist of `level`: every line «yes» when it passed; when it failed,
        only the line that failed (reps record what disqualified the lead, not the rest)."""
        ref = self.ref
        criteria = ref.criteria.get((None, level), []) + ref.criteria.get((self.segment.code, level), [])
        for criterion in criteria:
            if failed is not None and criterion.code != failed:
                continue
            self.chunk.add(
                CriterionAnswer(
                    criterion_id=criterion.pk,
                    answer=Answer.YES if failed is None else Answer.NO,
                    answered_by_id=self.owner_id,
                    answered_at=at,
                ),
                self.lead,
            )

    # the story --------------------------------------------------------------------------------
    def run(self) -> None:
        rng, cal, lead = self.rng, self.cal, self.lead
        delay = rng.lognormvariate(math.log(self.rep.first_call_minutes), 0.8)
        if rng.random() < 0.05:
            delay *= rng.uniform(8, 40)  # forgotten for a while
        at = cal.add_minutes(lead.created_at, delay)

        if rng.random() >= self.reach:
            self.unreached(at)
            return
        for _ in range(rng.choices((0, 1, 2), cum_weights=(70, 90, 100))[0]):
            if at >= self.end:
                return
            self.attempt(at, self.gen.failed_picker(rng))
            at = cal.add_minutes(at, rng.uniform(60, 400))
        if at >= self.end:
            return
        messenger = lead.channel == EntryChannel.CHAT and rng.random() < 0.3
        self.attempt(
            at, AttemptOutcome.REACHED, AttemptChannel.MESSENGER if messenger else AttemptChannel.CALL
        )
        lead.first_contact_at = at
        lead.segment_id, lead.fit = self.segment.pk, self.segment.fit
        self.move(StageCode.QUALIFICATION, at)
        self.qualify(at)

    def unreached(self, at: datetime) -> None:
        rng, lead = self.rng, self.lead
        outcome = self.gen.unreached_pickers[self.profile.code](rng)
        if outcome == "junk":
            # Spam or a duplicate is seen at a glance; nobody calls it.
            at = self.cal.add_minutes(lead.created_at, rng.uniform(2, 90))
            if at < self.end:
                self.lose(at, "spam" if rng.random() < 0.6 else "duplicate")
            return
        if outcome == "wrong":
            if at < self.end:
                self.attempt(at, AttemptOutcome.WRONG_NUMBER)
                # The rep tries email and messengers for a day or two before giving up.
                at = self.cal.later(rng, at, rng.uniform(0.5, 3))
                if at < self.end:
                    self.lose(at, "wrong_contacts")
            return
        # Silent: three failed calls, then the system sends the lead to nurture.
        for i in range(3):
            if at >= self.end:
                return
            self.attempt(at, self.gen.failed_picker(rng))
            if i < 2:
                at = self.cal.later(rng, at, rng.uniform(1, 2) if i == 0 else rng.uniform(2, 4))
        at += timedelta(minutes=1)
        if at < self.end:
            self.nurture(at, NURTURE_REASONS["silent"])

    def stalls(self) -> bool:
        # Now and then a lead is simply forgotten at its stage — the data-quality report's job.
        return self.rng.random() < 0.015

    def qualify(self, contacted: datetime) -> None:
        rng, cal, lead, gen = self.rng, self.cal, self.lead, self.gen
        # Some say «no» on the first call; most need a few days (materials, a second call).
        if rng.random() < 0.15:
            at = cal.add_minutes(contacted, rng.uniform(5, 60))
        else:
            at = cal.later(rng, contacted, rng.uniform(1, 12))
        if at >= self.end or self.stalls():
            return
        mql_chance = self.profile.mql if self.segment.fit != Fit.NOT_OURS else 0.12
        if not self.chance(mql_chance):
            reason = "not_target" if self.segment.fit == Fit.NOT_OURS and rng.random() < 0.7 else None
            reason = reason or gen.early_pickers[self.profile.code](rng)
            failed = {"not_target": "icp_fit", "no_need": "real_need", "wrong_contacts": "valid_contacts"}
            self.answer(CriterionLevel.MQL, at, failed=failed.get(reason, "known_context"))
            self.lose(at, reason)
            return
        self.answer(CriterionLevel.MQL, at)
        lead.qualification = Qualification.MQL
        lead.qualified_at = at

        at = cal.later(rng, at, rng.uniform(2, 14))
        if at >= self.end or self.stalls():
            return
        if not self.chance(self.profile.sql):
            reason = gen.sql_fail_picker(rng)
            failed = {"no_budget": "budget", "no_authority": "authority", "not_now": "timeline"}
            self.answer(CriterionLevel.SQL, at, failed=failed.get(reason, "pain_confirmed"))
            self.lose(at, reason)
            return
        self.answer(CriterionLevel.SQL, at)
        lead.qualification = Qualification.SQL
        meeting_at = cal.later(rng, at, rng.uniform(1, 7))  # may still be ahead: a booked meeting
        self.move(StageCode.MEETING, at, note=f"встреча {meeting_at:%Y-%m-%d %H:%M}")
        self.sell(meeting_at)

    def sell(self, meeting: datetime) -> None:
        rng, cal, lead, gen = self.rng, self.cal, self.lead, self.gen
        at = cal.later(rng, meeting, rng.uniform(3, 14))
        if at >= self.end or self.stalls():
            return
        if not self.chance(self.profile.proposal):
            self.lose(at, gen.meeting_fail_picker(rng))
            return
        product_id = lead.product_id or self.ref.products["crm"].pk
        low, high = gen.product_amounts[self.ref.product_codes[product_id]]
        size = {"small_business": 0.5, "manufacturing": 1.4}.get(self.segment.code, 1.0)
        amount = math.exp(rng.uniform(math.log(low), math.log(high))) * size
        amount = Decimal(min(max(round(amount, -3), 150_000), 5_000_000)).quantize(CENTS)
        margin = (amount * Decimal(rng.uniform(0.20, 0.45))).quantize(CENTS)
        amount_note = f"сумма {amount:,.0f} ₽".replace(",", "\N{NO-BREAK SPACE}")
        self.move(StageCode.PROPOSAL, at, note=amount_note)

        cycle = self.segment.deal_cycle_days or 45
        at = cal.later(rng, at, rng.uniform(0.15, 0.8) * cycle)
        if at >= self.end or self.stalls():
            return
        won = self.chance(self.profile.deal)
        if won:
            self.move(StageCode.DEAL, at, note=amount_note)
            lead.closed_at = at
        else:
            self.lose(at, gen.proposal_fail_picker(rng))
        if won or rng.random() < 0.6:
            phone = self.contact.phone
            self.chunk.add(
                Deal(
                    product_id=product_id,
                    amount=amount,
                    margin=margin,
                    currency="RUB",
                    status=DealStatus.WON if won else DealStatus.LOST,
                    is_repeat_sale=won and phone in gen.won_phones,
                    created_at=at,
                    closed_on=at.date(),
                    owner_id=self.owner_id,
                ),
                lead,
            )
            if won:
                gen.won_phones.add(phone)


# --- the command's entry points ------------------------------------------------------------------------


@dataclass
class Result:
    generated: bool
    message: str
    summary: dict


def summary() -> dict:
    by_status = dict(Lead.objects.values_list("stage__kind").annotate(n=Count("id")).order_by())
    deals = Deal.objects.aggregate(
        won=Count("id", filter=Q(status=DealStatus.WON)), lost=Count("id", filter=Q(status=DealStatus.LOST))
    )
    return {
        "leads": sum(by_status.values()),
        "by_status": {kind: by_status.get(kind, 0) for kind in StageKind.values},
        "deals_won": deals["won"],
        "deals_lost": deals["lost"],
        "users": User.objects.filter(username__in=DEMO_USERNAMES).count(),
        "contacts": Contact.objects.count(),
    }


def run(*, leads: int = DEFAULT_LEADS, seed: int = 1, today: date, reset: bool = False) -> Result:
    """Upsert the reference data and users; generate leads unless some exist (or `reset`)."""
    with transaction.atomic():
        ref = ensure_reference_data(today, seed, leads)
        users = ensure_users()
    if Lead.objects.exists() and not reset:
        return Result(False, "Leads already exist; nothing generated (use --reset to regenerate).", summary())
    with transaction.atomic():
        if reset:
            delete_leads()
        LeadGenerator(ref, users, seed=seed, today=today).generate(leads)
        # bulk_create stamps updated_at with the wall clock (auto_now); make it the
        # lead's last move instead, so the data is reproducible and looks lived-in.
        Lead.objects.update(updated_at=Coalesce(F("stage_changed_at"), F("created_at")))
    return Result(True, f"Generated {leads} leads.", summary())


def snapshot() -> list[tuple]:
    """What must be identical between two runs with the same seed and date (for tests)."""
    return list(
        Lead.objects.order_by("created_at", "id").values_list(
            "contact__phone",
            "contact__email",
            "source__code",
            "campaign__code",
            "stage__code",
            "furthest_stage__code",
            "qualification",
            "created_at",
            "first_contact_at",
            "closed_at",
            "owner__username",
            "rejection_reason__code",
        )
    )
