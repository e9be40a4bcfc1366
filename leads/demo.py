"""Demo data: «ТехноСфера», a Russian B2B company selling CRM, warehouse software,
data-collection terminals and the services around them.

`run()` upserts the reference data (sources, campaigns, products, ICP segments,
checklist lines, spend), the teams with their calendars, distribution modes and
routing rules, the demo users and the reps' shifts, then generates a year of leads
that went through the funnel: assignments, contact attempts, qualification, stage
history, rejections, nurture and deals, and the SLA clock of each lead (its
first-contact timer and, when it was missed, the breach and what the head did).

Everything generated comes from `random.Random(seed)` and the `today` date, never
from the clock, so the same seed and date give the same data — with one exception:
when `today` is the current date, the day is cut at the current moment (nothing is
in the future), so two runs on the same day differ in their most recent hours.

Rows are plain attribute bags, not model instances (a model instance costs more
than everything else the generator does). On PostgreSQL they go in with COPY, the
ids reserved from the sequences beforehand; elsewhere with bulk_create. Both paths
write the same values, inside one transaction.
"""

import gc
import math
import multiprocessing
import queue
import random
import threading
from bisect import bisect, bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO
from itertools import accumulate
from operator import itemgetter
from zoneinfo import ZoneInfo

import holidays
from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads import demo_csv
from leads.choices import (
    FAILED_CALL_OUTCOMES,
    Answer,
    AssignmentKind,
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
    Assignment,
    Campaign,
    Contact,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    InboundRequest,
    Lead,
    Product,
    QualificationCriterion,
    RejectionReason,
    RoutingRule,
    Segment,
    Source,
    Spend,
    Stage,
    StageChange,
)
from revops.models import Absence, DistributionMode, Shift, Team, User
from revops.roles import Role
from sla.business_time import add_working_time, windows, working_time_between
from sla.calendars import DEFAULT_CALENDAR_CODE, schedule_for
from sla.defaults import seed_defaults
from sla.models import (
    Breach,
    BusinessCalendar,
    DelayOwner,
    SlaPolicy,
    SlaTimer,
    TimerKind,
    TimerState,
    WorkingHours,
)

DEMO_PASSWORD = "demo"
CENTS = Decimal("0.01")
BATCH_SIZE = 2000
# Leads are built and written this many at a time, so memory stays flat at 100,000 leads.
CHUNK_SIZE = 2000
FORMAT_TIMEOUT = 60  # seconds for the formatting process to turn one table of a chunk (~0.1 s) into CSV
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
    weight: int = 1  # share of new leads in weighted round-robin
    shift: tuple[int, int] = (9, 18)  # Mon–Fri, hours in the team calendar's zone


REPS = {
    "rep1": RepProfile(4, 1.1),
    "rep2": RepProfile(7, 1.05),
    "rep3": RepProfile(25, 0.9),  # the slow one: the SLA report should show it
    "rep4": RepProfile(6, 1.0, weight=2),
    "rep5": RepProfile(12, 0.95, shift=(9, 14)),  # part-time: mornings only
}
# On vacation from two days before `--today` to four days after: the head's board
# shows the absence, and the rep's leads left open wait for a decision.
ABSENT_REP, ABSENCE_DAYS, ABSENCE_NOTE = "rep2", (-2, 4), "Ежегодный отпуск"


@dataclass(frozen=True)
class TeamSetup:
    calendar: str  # code of the team's business calendar
    mode: str  # DistributionMode


TEAM_SETUP = {
    "sales-1": TeamSetup(DEFAULT_CALENDAR_CODE, DistributionMode.ROUND_ROBIN),
    "sales-2": TeamSetup("ekaterinburg", DistributionMode.WEIGHTED),
}
# sales-2 works from Yekaterinburg, two hours ahead of Moscow, without a lunch break:
# the SLA pages show deadlines in another zone. Created when missing, never overwritten.
CALENDARS = {
    "ekaterinburg": {
        "name": "Екатеринбург, пн–пт 9–18",
        "timezone": "Asia/Yekaterinburg",
        "holiday_country": "RU",
        "hours": [(time(9), time(18))],
    }
}
# Routing rules, first match wins: warehouse products go to sales-2, everything else
# to sales-1 (product code, team, position).
ROUTES = [("wms", "sales-2", 10), ("tsd", "sales-2", 20), (None, "sales-1", 100)]
ROUTED_PRODUCTS = {code: team for code, team, _ in ROUTES if code}
CATCH_ALL_TEAM = next(team for code, team, _ in ROUTES if code is None)

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
# Margin as a share of a deal's amount, per product: licences and support keep
# most of the price, terminals are resold hardware, rollouts pay engineers.
MARGIN_SHARES = {
    "crm": (0.55, 0.70),
    "wms": (0.50, 0.65),
    "tsd": (0.12, 0.22),
    "implementation": (0.25, 0.40),
    "support": (0.60, 0.75),
    "training": (0.45, 0.60),
}

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
    """When a rep works: Mon–Fri, `opens`–`closes` o'clock in `tz`, Russian public
    holidays off (by default 9:00–19:00, the company's arrival pattern).

    Simpler than the SLA calendar on purpose: the demo only needs believable
    times, and this runs a million times (the SLA deadlines use the real one).
    """

    def __init__(self, tz: ZoneInfo, years: list[int], opens: int = DAY_OPENS, closes: int = DAY_CLOSES):
        self.tz = tz
        self.opens, self.closes = opens, closes
        self.minutes_per_day = (closes - opens) * 60
        self.days_off = set(holidays.country_holidays("RU", years=years))
        self.working_days: dict[date, bool] = {}

    def is_working_day(self, day: date) -> bool:
        working = self.working_days.get(day)
        if working is None:
            working = self.working_days[day] = day.weekday() < 5 and day not in self.days_off
        return working

    def next_open(self, moment: datetime) -> datetime:
        """`moment` if it is working time, else the next opening."""
        if moment.tzinfo is not self.tz:
            moment = moment.astimezone(self.tz)
        if self.is_working_day(moment.date()):
            if self.opens <= moment.hour < self.closes:
                return moment
            if moment.hour < self.opens:
                return moment.replace(hour=self.opens, minute=0, second=0, microsecond=0)
        day = moment.date() + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime(day.year, day.month, day.day, self.opens, tzinfo=self.tz)

    def add_minutes(self, moment: datetime, minutes: float) -> datetime:
        """`moment` plus `minutes` of working time (jumps over nights, weekends, holidays)."""
        moment = self.next_open(moment)
        while True:
            closes = moment.replace(hour=self.closes, minute=0, second=0, microsecond=0)
            left = (closes - moment).total_seconds() / 60
            if minutes < left:
                return (moment + timedelta(minutes=minutes)).replace(microsecond=0)
            minutes -= left
            moment = self.next_open(closes)

    def later(self, rng: random.Random, moment: datetime, days: float) -> datetime:
        """Some working moment about `days` calendar days after `moment`."""
        moment = moment.astimezone(self.tz)
        target = moment + timedelta(days=days)
        if target.date() == moment.date():
            return self.add_minutes(moment, rng.uniform(20, 120))
        target = target.replace(hour=self.opens, minute=0, second=0, microsecond=0)
        return self.add_minutes(target, rng.uniform(0, self.minutes_per_day - 30))


class Deadlines:
    """Working-time arithmetic on a team's SLA schedule for a hundred thousand leads.

    The schedule's windows over the demo period come from
    `sla.business_time.windows()` once; a deadline is then two binary searches over
    the running total of working time. The answers are those of
    `sla.business_time.add_working_time` (the tests compare them on every timer),
    which is used directly outside the precomputed period.
    """

    def __init__(self, schedule, start: datetime, end: datetime):
        self.schedule = schedule
        self.starts: list[datetime] = []
        self.ends: list[datetime] = []
        self.before: list[timedelta] = []  # working time before each window
        self.after: list[timedelta] = []  # … and up to its end
        total = timedelta(0)
        for window_start, window_end in windows(schedule, start, end):
            window_start, window_end = window_start.astimezone(UTC), window_end.astimezone(UTC)
            self.starts.append(window_start)
            self.ends.append(window_end)
            self.before.append(total)
            total += window_end - window_start
            self.after.append(total)

    def _offset(self, at: datetime) -> tuple[int, timedelta] | None:
        """The window holding `at` (or the next one) and the working time before `at`."""
        at = at.astimezone(UTC)  # one zone: comparisons need no offsets
        i = bisect_right(self.ends, at)  # a window's end is not in it
        if i == 0 or i >= len(self.ends):
            return None  # outside the precomputed period
        return i, self.before[i] + max(at - self.starts[i], timedelta(0))

    def add(self, at: datetime, amount: timedelta) -> datetime:
        """`add_working_time(schedule, at, amount)`, in UTC (`amount` > 0)."""
        found = self._offset(at)
        if found is not None:
            i, offset = found
            target = offset + amount
            j = bisect_left(self.after, target, i)  # a deadline on a closing time stays there
            if j < len(self.after):
                return self.starts[j] + (target - self.before[j])
        return add_working_time(self.schedule, at, amount).astimezone(UTC)

    def minus(self, at: datetime, amount: timedelta) -> datetime | None:
        """The moment `amount` of working time before `at` (None before the period)."""
        found = self._offset(at)
        if found is None or found[1] < amount:
            return None
        target = found[1] - amount
        j = bisect_right(self.after, target)
        return self.starts[j] + (target - self.before[j])

    def next_open(self, at: datetime) -> datetime:
        """`at` if it is working time, else the next opening."""
        found = self._offset(at)
        if found is None:
            return next(windows(self.schedule, at))[0].astimezone(UTC)
        return max(at.astimezone(UTC), self.starts[found[0]])


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
    """The demo year: the 365 days before `today` (spend and campaigns cover them);
    leads also arrive on `today` itself, up to `demo_cutoff()`."""
    return today - timedelta(days=365), today


def demo_cutoff(today: date, now: datetime) -> datetime:
    """Where the generated history stops: the current moment when `today` is the
    current date (nothing may lie in the future), else the end of `today`."""
    tz = ZoneInfo(settings.TIME_ZONE)
    if today == now.astimezone(tz).date():
        return now.astimezone(tz).replace(microsecond=0)
    following = today + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=tz)


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


# --- teams, users, calendars, shifts, routing -------------------------------------------------------


def demo_users_exist() -> bool:
    return User.objects.filter(username__in=DEMO_USERNAMES).count() == len(DEMO_USERNAMES)


def ensure_calendars() -> dict[str, BusinessCalendar]:
    """The company's default calendar (seeded by a migration; recreated if missing)
    and the teams' own ones. Created when missing, never overwritten."""
    seed_defaults()
    calendars = {DEFAULT_CALENDAR_CODE: BusinessCalendar.objects.get(code=DEFAULT_CALENDAR_CODE)}
    for code, data in CALENDARS.items():
        calendar, created = BusinessCalendar.objects.get_or_create(
            code=code,
            defaults={
                "name": data["name"],
                "timezone": data["timezone"],
                "holiday_country": data["holiday_country"],
            },
        )
        if created:
            for weekday in range(5):
                for opens, closes in data["hours"]:
                    WorkingHours.objects.create(
                        calendar=calendar, weekday=weekday, opens=opens, closes=closes
                    )
            calendar.refresh_from_db()
        calendars[code] = calendar
    return calendars


def ensure_users(calendars: dict[str, BusinessCalendar] | None = None) -> dict[str, User]:
    """Upsert the teams (calendar, distribution mode), the demo users (all with the
    password «demo») and the reps' weekly shifts (only for reps who have none)."""
    calendars = calendars or ensure_calendars()
    teams = {}
    for code, name, kind, _head in TEAMS:
        defaults = {"name": name, "kind": kind}
        if code in TEAM_SETUP:
            setup = TEAM_SETUP[code]
            defaults |= {"calendar": calendars[setup.calendar], "distribution_mode": setup.mode}
        teams[code], _ = Team.objects.update_or_create(code=code, defaults=defaults)
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
        if username in REPS:
            user.lead_weight = REPS[username].weight
        user.save()  # save() keeps the role's group in step
        users[username] = user
    for code, _name, _kind, head in TEAMS:
        Team.objects.filter(pk=teams[code].pk).update(head=users[head])
    with_shifts = set(Shift.objects.filter(user__username__in=REPS).values_list("user__username", flat=True))
    Shift.objects.bulk_create(
        Shift(
            user=users[username], weekday=weekday, starts=time(profile.shift[0]), ends=time(profile.shift[1])
        )
        for username, profile in REPS.items()
        if username not in with_shifts
        for weekday in range(5)
    )
    return users


def ensure_routing(ref: "Reference", users: dict[str, User]) -> dict[str | None, RoutingRule]:
    """Upsert the routing rules (keyed by their condition), by product code."""
    teams = {u.team.code: u.team for u in users.values() if u.team}
    rules = {}
    for product_code, team_code, position in ROUTES:
        product = ref.products[product_code] if product_code else None
        rules[product_code], _ = RoutingRule.objects.update_or_create(
            source=None,
            segment=None,
            product=product,
            defaults={"team": teams[team_code], "position": position, "is_active": True},
        )
    return rules


def ensure_absence(users: dict[str, User], today: date) -> Absence:
    """The demo vacation around `today` (a previous run's is replaced)."""
    rep = users[ABSENT_REP]
    Absence.objects.filter(user__username__in=REPS, note=ABSENCE_NOTE).delete()
    return Absence.objects.create(
        user=rep,
        kind=Absence.Kind.VACATION,
        starts_on=today + timedelta(days=ABSENCE_DAYS[0]),
        ends_on=today + timedelta(days=ABSENCE_DAYS[1]),
        note=ABSENCE_NOTE,
    )


# --- deleting (--reset) ------------------------------------------------------------------------------


def _demo_owned() -> tuple[list[type], dict[type, list[str]]]:
    """The models whose rows hang off leads or contacts, however deep, in an order
    that deletes referencing rows first; and, for the models that only may point at
    them (a nullable key and no required one), the names of those keys."""
    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.managed]
    owned, partial = {Contact, Lead}, {}
    changed = True
    while changed:
        changed = False
        for model in models:
            if model in owned or model in partial:
                continue
            keys = [f for f in model._meta.concrete_fields if f.many_to_one and f.related_model in owned]
            if not keys:
                continue
            if all(f.null for f in keys):
                partial[model] = [f.name for f in keys]
            else:
                owned.add(model)
                changed = True
    members = owned | set(partial)
    order: list[type] = []

    def visit(model):
        if model in order:
            return
        order.append(model)  # placeholder against cycles; moved below
        for other in members:
            if other is not model and any(
                f.many_to_one and f.related_model is model for f in other._meta.concrete_fields
            ):
                visit(other)
        order.remove(model)
        order.append(model)

    for model in sorted(members, key=lambda m: m._meta.label):
        visit(model)
    return order, partial


def delete_leads() -> None:
    """Remove every lead with what hangs off it (timers, breaches, assignments, …), and
    all contacts. On PostgreSQL one TRUNCATE (a table that merely may point at a lead,
    the notifications outbox, is emptied too — unless it holds rows about no lead,
    then rows are deleted instead); elsewhere DELETEs, children first."""
    order, partial = _demo_owned()
    unrelated = any(
        model._base_manager.filter(**{f"{name}__isnull": True for name in names}).exists()
        for model, names in partial.items()
    )
    if connection.vendor == "postgresql" and not unrelated:
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in order)
        with connection.cursor() as cursor:
            # Checks still pending in this transaction would forbid the TRUNCATE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {tables}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    for model in order:
        rows = model._base_manager.all()
        if model in partial:
            condition = Q()
            for name in partial[model]:
                condition |= Q(**{f"{name}__isnull": False})
            rows = rows.filter(condition)
        rows.delete()


# --- rows and how they are written ---------------------------------------------------------------------


class _Row:
    """One row to insert: attributes named like the model's (`source_id`, …), plus
    `_lead` / `_contact` / `_timer` for rows whose ids exist only once written."""

    def __init__(self, **values):
        self.__dict__ = values


# In the order they are written: parents before children.
TABLES = (
    Contact,
    Lead,
    InboundRequest,
    StageChange,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    Assignment,
    SlaTimer,
    Breach,
)
WITH_CONTACT = (InboundRequest, Deal)  # rows that also point at the lead's contact


class _Chunk:
    """The rows of a few thousand leads, written together."""

    def __init__(self):
        self.rows: dict[type, list[_Row]] = {model: [] for model in TABLES}

    def add(self, model: type, **values) -> _Row:
        row = _Row.__new__(_Row)
        row.__dict__ = values
        self.rows[model].append(row)
        return row

    def write(self, writer) -> None:
        for model in TABLES:
            rows = self.rows[model]
            if not rows:
                continue
            for row in rows:
                values = row.__dict__
                if "_contact" in values:
                    values["contact_id"] = values["_contact"].id
                if "_lead" in values:
                    lead = values["_lead"]
                    values["lead_id"] = lead.id
                    if model in WITH_CONTACT:
                        values["contact_id"] = lead.contact_id
                if "_timer" in values:
                    values["timer_id"] = values["_timer"].id
            writer.write(model, rows)


class OrmWriter:
    """bulk_create: any database (SQLite ≥ 3.35 and PostgreSQL return the new ids)."""

    def submit(self, chunk: "_Chunk") -> None:
        chunk.write(self)

    def stop(self) -> None:
        pass

    def write(self, model: type, rows: list[_Row]) -> None:
        objects = [model(**{k: v for k, v in row.__dict__.items() if k[0] != "_"}) for row in rows]
        model.objects.bulk_create(objects, batch_size=BATCH_SIZE)
        for row, obj in zip(rows, objects, strict=True):
            row.id = obj.pk

    def finish(self) -> None:
        # bulk_create stamps updated_at with the wall clock (auto_now); put back the
        # lead's last move, as the COPY path writes it.
        Lead.objects.update(updated_at=Coalesce(F("stage_changed_at"), F("created_at")))


_TEXT_FIELDS = {"CharField", "TextField", "SlugField", "EmailField", "URLField", "GenericIPAddressField"}


def _formatting_pool():
    """One forked worker process for `demo_csv.csv_text`, or None where processes
    cannot be forked (then the formatting thread does it, on one core).

    Forked, not spawned: the rows hold choices of Django models, which a fresh
    interpreter could not unpickle without setting Django up. It is forked
    before CopyWriter starts its threads (a fork copies only the calling thread)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    try:
        return multiprocessing.get_context("fork").Pool(1, initializer=demo_csv.ignore_interrupts)
    except (OSError, ValueError):
        return None


class CopyWriter:
    """PostgreSQL's COPY FROM STDIN, in CSV, from in-memory buffers (the csv module
    writes the lines in C: per-value Python would cost more than the data).

    The loaded tables are locked against other writers for the transaction, so ids
    are counted on from one nextval per table (the sequence is set past them at the
    end) and children point at their parents before anything is written. The
    foreign keys of the loaded tables are dropped for the load and added back at the
    end, which checks every row in one pass instead of a trigger per row and key
    (that was most of the time); so are the secondary indexes, built once at the
    end. A background thread numbers each chunk's rows and takes their values
    while the next chunk is generated; a second process turns them into CSV (a
    third of the work, and the GIL would make a thread of no help); another thread
    feeds the CSV to COPY, so the database, the generator and the formatter all
    work at once.
    """

    def __init__(self):
        self.cursor = connection.cursor()
        self.raw = self.cursor.cursor  # psycopg's own cursor
        self.specs: dict[type, tuple] = {}
        tables = [m._meta.db_table for m in TABLES]
        quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
        self.raw.execute(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE")
        self.raw.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY conrelid::regclass::text, conname",
            [tables],
        )
        self.foreign_keys = self.raw.fetchall()
        # Secondary indexes not backing a constraint (partial unique ones included)
        # are built once at the end: a sort beats a million insertions into each.
        self.raw.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY 1",
            [tables],
        )
        self.indexes = self.raw.fetchall()
        self._alter(
            [
                *(
                    f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}"
                    for table, name, _definition in self.foreign_keys
                ),
                *(f"DROP INDEX {index}" for index, _definition in self.indexes),
            ]
        )
        for model in TABLES:
            self._spec(model)
        # Ids: nobody else inserts while the tables are locked, so each table's ids
        # are counted on from one nextval and the sequence set past them at the end.
        self.next_ids = {}
        for model, (_sql, _values, sequence, _increment, _json) in self.specs.items():
            self.raw.execute("SELECT nextval(%s)", [sequence])
            self.next_ids[model] = self.raw.fetchone()[0]
        self.error: BaseException | None = None
        self.pool = _formatting_pool()
        # Two stages: one thread formats chunks, the other feeds them to COPY (and
        # mostly waits for the server), so formatting, COPY and generation overlap.
        self.chunks: queue.Queue = queue.Queue(maxsize=1)
        self.copies: queue.Queue = queue.Queue(maxsize=len(TABLES))
        self.formatter = threading.Thread(target=self._format, name="demo-format", daemon=True)
        self.copier = threading.Thread(target=self._copy, name="demo-copy", daemon=True)
        self.formatter.start()
        self.copier.start()

    @staticmethod
    def supported() -> bool:
        if connection.vendor != "postgresql":
            return False
        raw = connection.cursor().cursor
        return hasattr(raw, "copy_expert") or hasattr(raw, "copy")

    def _spec(self, model: type) -> tuple:
        """The COPY statement, the row's values in column order, and the sequence."""
        columns, names, defaults, not_null_text, json_names = [], [], {}, [], []
        for f in model._meta.concrete_fields:
            column = connection.ops.quote_name(f.column)
            columns.append(column)
            names.append(f.attname)
            kind = f.get_internal_type()
            # A value the generator leaves out gets the field's default; callable
            # defaults (the clock) are never left to chance: those must be given.
            default = f.get_default() if f.has_default() and not callable(f.default) else None
            if f.has_default() and f.default in (dict, list):
                default = f.default()
            elif not f.has_default() and not f.null and f.empty_strings_allowed:
                default = ""
            if not f.primary_key:
                defaults[f.attname] = default
            # In CSV an empty unquoted value is NULL; in a NOT NULL text column it is
            # the empty string. (The generator never writes NULL into text.)
            if kind in _TEXT_FIELDS and not f.null:
                not_null_text.append(column)
            if kind == "JSONField":
                json_names.append(f.attname)
        options = "FORMAT csv"
        if not_null_text:
            options += f", FORCE_NOT_NULL ({', '.join(not_null_text)})"
        table = connection.ops.quote_name(model._meta.db_table)
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH ({options})"
        getter = itemgetter(*names)

        def values(row, defaults=defaults, getter=getter):
            try:
                return getter(row.__dict__)  # the generator usually gives every column
            except KeyError:
                return getter({**defaults, **row.__dict__})

        json_positions = tuple(names.index(name) for name in json_names)

        pk = model._meta.pk
        self.raw.execute("SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, pk.column])
        sequence = self.raw.fetchone()[0]
        self.raw.execute("SELECT seqincrement FROM pg_sequence WHERE seqrelid = %s::regclass", [sequence])
        increment = self.raw.fetchone()[0]
        self.specs[model] = (sql, values, sequence, increment, json_positions)
        return self.specs[model]

    def _put(self, where: queue.Queue, item) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                where.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def submit(self, chunk: "_Chunk") -> None:
        self._put(self.chunks, chunk)

    def _format(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            if self.error is None:
                try:
                    chunk.write(self)
                except BaseException as error:  # handed to the generating thread
                    self.error = error
        self.copies.put(None)

    def _copy(self) -> None:
        while (item := self.copies.get()) is not None:
            if self.error is None:
                sql, pending = item
                try:
                    # A lost worker would leave the task unanswered: never wait forever.
                    buffer = StringIO(pending if isinstance(pending, str) else pending.get(FORMAT_TIMEOUT))
                    if hasattr(self.raw, "copy_expert"):  # psycopg2
                        self.raw.copy_expert(sql, buffer, size=1 << 20)
                    else:  # psycopg 3
                        with self.raw.copy(sql) as copy:
                            copy.write(buffer.getvalue())
                except BaseException as error:
                    self.error = error

    def write(self, model: type, rows: list["_Row"]) -> None:
        """Number and format one table's rows of a chunk (in the formatting thread)."""
        sql, values, _sequence, increment, json_positions = self.specs[model]
        first = self.next_ids[model]
        self.next_ids[model] = first + len(rows) * increment
        for row, pk in zip(rows, range(first, self.next_ids[model], increment), strict=True):
            row.id = pk
        args = (list(map(values, rows)), json_positions)
        pending = (
            self.pool.apply_async(demo_csv.csv_text, args)
            if self.pool is not None
            else demo_csv.csv_text(*args)
        )
        self._put(self.copies, (sql, pending))

    def stop(self) -> None:
        """Wait for the chunks in flight (after a failure too)."""
        if self.formatter.is_alive():
            self.chunks.put(None)
            self.formatter.join()
        self.copier.join()
        if self.pool is not None:
            if self.error is None:
                self.pool.close()
            else:
                self.pool.terminate()
            self.pool.join()
            self.pool = None

    def finish(self) -> None:
        self.stop()
        if self.error is not None:
            raise self.error
        for model, (_sql, _values, sequence, _increment, _json) in self.specs.items():
            self.raw.execute("SELECT setval(%s, %s, false)", [sequence, self.next_ids[model]])
        self.raw.execute("SET LOCAL maintenance_work_mem = '256MB'")
        self._alter(
            [
                *(definition for _index, definition in self.indexes),
                *(
                    f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
                    for table, name, definition in self.foreign_keys
                ),
            ]
        )
        self.cursor.close()

    def _alter(self, statements) -> None:
        # A table with deferred checks still pending in this transaction (the users
        # just upserted) cannot be altered: run those checks first. Django declares
        # its foreign keys DEFERRABLE INITIALLY DEFERRED, which is restored after.
        self.raw.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for statement in statements:
            self.raw.execute(statement)
        self.raw.execute("SET CONSTRAINTS ALL DEFERRED")


def _choice(rng: random.Random, items):
    """`rng.choice(items)` at a third of the cost (one `random()` draw)."""
    return items[int(rng.random() * len(items))]


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


class _Picker:
    """Weighted choice with precomputed cumulative weights (called 100,000s of times);
    the same draw as `rng.choices(items, cum_weights=…)[0]`, without its overhead."""

    def __init__(self, weights: dict):
        self.items = list(weights)
        self.cum = list(accumulate(weights.values()))
        self.total = self.cum[-1] + 0.0
        self.hi = len(self.items) - 1

    def __call__(self, rng: random.Random):
        return self.items[bisect(self.cum, rng.random() * self.total, 0, self.hi)]


# --- the generator -------------------------------------------------------------------------------------

# Leads each rep received shortly before the demo stops, by working minutes since
# arrival, and whether the rep has worked on them since: when `today` is the current
# date, the queue shows fresh, at-risk and overdue clocks side by side, and the head's
# board has today's calls and contacts.
FRESH = ((3, False), (11, False), (35, False), (100, True), (220, True))
# A running clock this much overdue at the cut stays running: the sweep of the
# running app breaches it within seconds, as it would have.
RUNNING_GRACE = timedelta(hours=1)
BREACH_DELAY = timedelta(seconds=2)  # the sweep runs every two seconds
BREACH_COMMENTS = [
    "Заявка пришла в обед, менеджер был на встрече",
    "Разобрали на планёрке: звонить сразу, без переписки",
    "Клиент перезвонил сам, проблема в распределении",
    "Менеджер был на больничном, заявки перераспределены",
    "Сбой телефонии, звонки не проходили",
    "",
]


class LeadGenerator:
    def __init__(
        self,
        ref: "Reference",
        users: dict[str, User],
        calendars: dict[str, BusinessCalendar],
        rules: dict[str | None, RoutingRule],
        *,
        seed: int,
        today: date,
        cutoff: datetime,
        writer=None,
    ):
        self.ref, self.users = ref, users
        self.writer = writer or OrmWriter()
        self.rng = random.Random(seed)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        first, _ = demo_window(today)
        self.first, self.today = first, today
        self.end = cutoff  # nothing happens at or after it
        self.recent = datetime(today.year, today.month, today.day, tzinfo=self.tz) - timedelta(days=14)
        years = list(range(first.year, today.year + 2))
        self.calendar = WorkCalendar(self.tz, years)  # the company's: when clients write
        self.exhibitions = exhibition_periods(first, today)

        teams = {u.team.code: u.team for u in users.values() if u.team}
        self.teams = {code: teams[code] for code in TEAM_SETUP}
        self.team_reps = {code: [u for u in REPS if users[u].team.code == code] for code in TEAM_SETUP}
        self.heads = {code: users[head] for code, _n, _k, head in TEAMS}
        team_calendars = {code: calendars[setup.calendar] for code, setup in TEAM_SETUP.items()}
        self.calendar_ids = {code: c.pk for code, c in team_calendars.items()}
        self.team_tz = {code: c.tz for code, c in team_calendars.items()}
        self.modes = {code: str(setup.mode) for code, setup in TEAM_SETUP.items()}
        begin = datetime(first.year, first.month, first.day, tzinfo=self.tz) - timedelta(days=2)
        self.deadlines = {
            code: Deadlines(schedule_for(c), begin, cutoff + timedelta(days=40))
            for code, c in team_calendars.items()
        }
        # Each rep calls within their shift, in their team's zone.
        self.rep_calendars = {
            username: WorkCalendar(team_calendars[users[username].team.code].tz, years, *profile.shift)
            for username, profile in REPS.items()
        }
        start, stop = (today + timedelta(days=d) for d in ABSENCE_DAYS)
        self.absence = (ABSENT_REP, start, stop)
        absent_tz = team_calendars[users[ABSENT_REP].team.code].tz
        self.absence_starts = datetime(start.year, start.month, start.day, tzinfo=absent_tz)

        policy = SlaPolicy.objects.filter(is_default=True).first()
        self.policy_id = policy.pk
        self.budget = timedelta(seconds=policy.first_contact_seconds)
        self.remind_budget = (
            timedelta(seconds=policy.first_contact_seconds * policy.reminder_percent / 100)
            if policy.reminder_percent
            else None
        )
        self.escalate_after = (
            timedelta(seconds=policy.escalate_after_seconds)
            if policy.escalate_after_seconds is not None
            else None
        )

        # Distribution: smooth weighted round-robin per team, like leads.assignment.
        self.credits = {code: dict.fromkeys(reps, 0) for code, reps in self.team_reps.items()}
        self.last_assigned: dict[str, str | None] = dict.fromkeys(TEAM_SETUP)
        self.routed = {
            code: {"code": "routed", "params": {"rule": str(rule)}} for code, rule in rules.items()
        }

        base = {s.code: s.weight for s in SOURCES}
        self.source_picker = _Picker(base)
        self.exhibition_source_picker = _Picker({**base, "exhibitions": 45})
        self.channel_pickers = {s.code: _Picker(s.channels) for s in SOURCES}
        self.segment_pickers = {s.code: _Picker(s.segments) for s in SOURCES}
        self.early_pickers = {s.code: _Picker(s.early_reasons) for s in SOURCES}
        self.unreached_pickers = {s.code: _Picker(s.unreached) for s in SOURCES}
        self.product_picker = _Picker({code: w for code, _n, w, _a in PRODUCTS})
        self.team_product_pickers = {
            team: _Picker(
                {code: w for code, _n, w, _a in PRODUCTS if ROUTED_PRODUCTS.get(code, CATCH_ALL_TEAM) == team}
            )
            for team in TEAM_SETUP
        }
        self.product_amounts = {code: amounts for code, _n, _w, amounts in PRODUCTS}
        self.position_picker = _Picker(dict(POSITIONS))
        self.legal_picker = _Picker(dict(LEGAL_FORMS))
        self.failed_first_picker = _Picker({0: 70, 1: 20, 2: 10})  # failed calls before reaching
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
        self.active_campaigns: dict[tuple[str, date], tuple] = {}

        # Phones and emails must not collide with contacts already in the database.
        self.taken_phones = set(Contact.objects.exclude(phone="").values_list("phone", flat=True))
        self.taken_emails = set(Contact.objects.exclude(email="").values_list("email", flat=True))
        self.phone_index = 0
        self.phone_offset = self.rng.randrange(10**7)
        # Contacts whose lead has closed and who may come back with a new request.
        self.returning_pool: list[tuple[datetime, _Row, Segment]] = []
        self.won_phones: set[str] = set()  # contacts with a won deal (phones are unique)

    # --- arrival times -----------------------------------------------------------------------------

    def arrival_times(self, n: int) -> list[datetime]:
        """`n` arrival moments over the demo year and `today` up to the cut: busier on
        working days, in working hours, in the busy season and in recent months (the
        business grows)."""
        rng, cal = self.rng, self.calendar
        hour_weights = {}
        for day_kind in (True, False):
            weights = dict.fromkeys(range(24), 0.0)
            if day_kind:
                for hour, w in zip(range(DAY_OPENS, DAY_CLOSES), WORK_HOUR_WEIGHTS, strict=True):
                    weights[hour] = 0.85 * w / sum(WORK_HOUR_WEIGHTS)
                for hour, w in zip(OFF_HOURS, OFF_HOUR_WEIGHTS, strict=True):
                    weights[hour] = 0.15 * w / sum(OFF_HOUR_WEIGHTS)
            else:
                for hour in range(10, 23):
                    weights[hour] = 1 / 13
            hour_weights[day_kind] = weights
        days, weights = [], []
        for offset in range(366):
            day = self.first + timedelta(days=offset)
            working = cal.is_working_day(day)
            weight = (1.0 if working else 0.15) * SEASONALITY[day.month] * (0.8 + 0.45 * offset / 365)
            if day == self.today:
                # Only the part of the day before the cut.
                weight *= sum(w * self._hour_share(day, h) for h, w in hour_weights[working].items())
            days.append(day)
            weights.append(weight)
        work_hours = _Picker(dict(zip(range(DAY_OPENS, DAY_CLOSES), WORK_HOUR_WEIGHTS, strict=True)))
        off_hours = _Picker(dict(zip(OFF_HOURS, OFF_HOUR_WEIGHTS, strict=True)))
        times = []
        for day in rng.choices(days, weights=weights, k=n):
            working = cal.is_working_day(day)
            if day != self.today:
                if working:
                    hour = work_hours(rng) if rng.random() < 0.85 else off_hours(rng)
                else:
                    hour = rng.randrange(10, 23)
                times.append(
                    datetime(
                        day.year,
                        day.month,
                        day.day,
                        hour,
                        _below(rng, 60),
                        _below(rng, 60),
                        tzinfo=self.tz,
                    )
                )
                continue
            hours = [(h, w * self._hour_share(day, h)) for h, w in hour_weights[working].items()]
            hour = rng.choices([h for h, _ in hours], weights=[w for _, w in hours])[0]
            start = datetime(day.year, day.month, day.day, hour, tzinfo=self.tz)
            span = min(3600, int((self.end - start).total_seconds()))
            times.append(start + timedelta(seconds=rng.randrange(max(span, 1))))
        times.sort()
        return times

    def _hour_share(self, day: date, hour: int) -> float:
        """How much of `hour` on `day` lies before the cut (0…1)."""
        start = datetime(day.year, day.month, day.day, hour, tzinfo=self.tz)
        return min(max((self.end - start).total_seconds() / 3600, 0.0), 1.0)

    def fresh_arrivals(self, limit: int) -> list[tuple[datetime, str, bool]]:
        """The `FRESH` leads of each rep available then (one per rep before anyone gets
        a second): (arrival, rep, worked on)."""
        found = []
        for age, worked in FRESH:
            for username in REPS:
                team_code = self.users[username].team.code
                at = self.deadlines[team_code].minus(self.end, timedelta(minutes=age))
                if at is None or at >= self.end or self.unavailable(username, at):
                    continue
                found.append((at.astimezone(self.tz).replace(microsecond=0), username, worked))
        return found[:limit]

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

    def new_contact(self, created_at: datetime, chunk: _Chunk) -> _Row:
        rng = self.rng
        female = rng.random() < 0.4
        first_name = _choice(rng, FEMALE_FIRST if female else MALE_FIRST)
        last_name = _choice(rng, SURNAMES)
        if female:
            last_name += "а"
        # Forms often ask for the first name only.
        name = first_name if rng.random() < 0.12 else f"{first_name} {last_name}"

        legal = self.legal_picker(rng)
        if legal == "ИП":
            company = f"ИП {last_name} {first_name[0]}. {_choice(rng, MALE_FIRST)[0]}."
            domain = translit(last_name)
        else:
            brand, domain = _choice(rng, self.companies)
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
                local = _choice(rng, ["info", "sales", "zakupki"])
            # Reserved .example domains: demo mail can never reach a real company.
            email = f"{local}@{domain}.example"
            suffix = 2
            while email in self.taken_emails:
                email = f"{local}{suffix}@{domain}.example"
                suffix += 1
            self.taken_emails.add(email)

        return chunk.add(
            Contact,
            name=name,
            company=company,
            position=self.position_picker(rng),
            phone=self.next_phone(),
            email=email,
            created_at=created_at,
        )

    def returning_contact(self, created_at: datetime) -> tuple[_Row | None, Segment | None]:
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

    def campaign_for(self, source_code: str, day: date) -> Campaign | None:
        key = (source_code, day)
        if key not in self.active_campaigns:
            active = [
                (c, p)
                for c, p in self.ref.campaigns.get(source_code, [])
                if (c.starts_on is None or c.starts_on <= day) and (c.ends_on is None or day <= c.ends_on)
            ]
            self.active_campaigns[key] = _Picker({c: p.weight for c, p in active}) if active else None
        picker = self.active_campaigns[key]
        return picker(self.rng) if picker else None

    # --- distribution ------------------------------------------------------------------------------

    def unavailable(self, username: str, at: datetime) -> str | None:
        """Why `username` cannot take a lead at `at` (a reason code), or None."""
        calendar = self.rep_calendars[username]
        local = at.astimezone(calendar.tz)
        return self._unavailable(username, calendar, local, local.date())

    def _unavailable(self, username: str, calendar: WorkCalendar, local: datetime, day: date) -> str | None:
        rep, starts_on, ends_on = self.absence
        if username == rep and starts_on <= day <= ends_on:
            return "absent"
        if not (calendar.is_working_day(day) and calendar.opens <= local.hour < calendar.closes):
            return "off_shift"
        return None

    def choose(self, team_code: str, at: datetime, reasons: list, exclude: str | None = None) -> str | None:
        """The rep who gets a lead of `team_code` at `at` (smooth weighted round-robin
        among the reps available), recording why, like leads.assignment.choose_rep."""
        eligible = []
        local = at.astimezone(self.team_tz[team_code])
        day = local.date()
        for username in self.team_reps[team_code]:
            if username == exclude:
                continue
            why = self._unavailable(username, self.rep_calendars[username], local, day)
            if why:
                reasons.append({"code": why, "params": {"user": username}})
            else:
                eligible.append(username)
        if not eligible:
            reasons.append({"code": "nobody_available", "params": {"team": self.teams[team_code].name}})
            return None
        mode = self.modes[team_code]
        reasons.append({"code": "mode", "params": {"mode": mode}})
        credits = self.credits[team_code]
        if mode == DistributionMode.WEIGHTED:
            weights = {u: REPS[u].weight for u in eligible}
            total = sum(weights.values())
        else:
            weights, total = dict.fromkeys(eligible, 1), len(eligible)
        for username in eligible:
            credits[username] += weights[username]
        chosen = max(eligible, key=credits.__getitem__)
        credits[chosen] -= total
        previous = self.last_assigned[team_code]
        if previous and previous != chosen:
            reasons.append({"code": "next_after", "params": {"user": previous}})
        self.last_assigned[team_code] = chosen
        return chosen

    def assignment(self, chunk, lead, at, owner, kind, reasons, *, by=None, previous=None, left=None):
        chunk.add(
            Assignment,
            _lead=lead,
            team_id=lead.team_id,
            from_owner_id=self.users[previous].id if previous else None,
            to_owner_id=self.users[owner].id if owner else None,
            assigned_by_id=by.id if by else None,
            kind=kind,
            reasons=reasons,
            sla_left_seconds=int(self.budget.total_seconds()) if left is None else left,
            created_at=at,
        )

    def distribute(self, lead, team_code, chunk, fresh_owner: str | None):
        """Who gets the lead and when, as the distribution would have decided it, with
        its Assignment rows. Returns [(since, owner or None)] and the final owner."""
        created, deadlines = lead.created_at, self.deadlines[team_code]
        team_name = self.teams[team_code].name
        routed = self.routed[lead._route]
        waits = [{"code": "waits_in_queue", "params": {"team": team_name}}]
        if fresh_owner is not None:
            reasons = [routed, {"code": "mode", "params": {"mode": self.modes[team_code]}}]
            self.assignment(chunk, lead, created, fresh_owner, AssignmentKind.AUTO, reasons)
            self.last_assigned[team_code] = fresh_owner
            return [(created, fresh_owner)], fresh_owner
        if created >= self.recent and self.rng.random() < 0.03:
            # Nobody on shift has taken it yet: it waits in the team's queue.
            reasons = [routed, {"code": "nobody_available", "params": {"team": team_name}}, *waits]
            self.assignment(chunk, lead, created, None, AssignmentKind.AUTO, reasons)
            return [(created, None)], None
        opens = deadlines.next_open(created)
        if opens > created:
            # Outside the team's hours: the lead waits and the queue hands it out at the opening.
            reasons = [routed]
            for username in self.team_reps[team_code]:
                why = "absent" if self.unavailable(username, created) == "absent" else "calendar_closed"
                reasons.append({"code": why, "params": {"user": username}})
            reasons += [{"code": "nobody_available", "params": {"team": team_name}}, *waits]
            self.assignment(chunk, lead, created, None, AssignmentKind.AUTO, reasons)
            if opens >= self.end:
                return [(created, None)], None
            reasons = []
            owner = self.choose(team_code, opens, reasons)
            if owner is None:
                return [(created, None)], None
            self.assignment(chunk, lead, opens, owner, AssignmentKind.QUEUE, reasons)
            return [(created, None), (opens, owner)], owner
        reasons = [routed]
        owner = self.choose(team_code, created, reasons)
        if owner is None:
            self.assignment(chunk, lead, created, None, AssignmentKind.AUTO, reasons + waits)
            return [(created, None)], None
        self.assignment(chunk, lead, created, owner, AssignmentKind.AUTO, reasons)
        history = [(created, owner)]
        if self.rng.random() < 0.015:
            # The rep has not called for a while: the head hands the lead to someone else.
            at = self.rep_calendars[owner].add_minutes(created, self.rng.uniform(30, 150))
            others = [u for u in self.team_reps[team_code] if u != owner and not self.unavailable(u, at)]
            if at < self.end and others:
                other = others[0]
                head = self.heads[team_code]
                due = deadlines.add(created, self.budget)
                schedule = deadlines.schedule
                left = (
                    working_time_between(schedule, at, due)
                    if at <= due
                    else -working_time_between(schedule, due, at)
                )
                self.assignment(
                    chunk,
                    lead,
                    at,
                    other,
                    AssignmentKind.MANUAL,
                    [{"code": "manual", "params": {"by": head.username}}],
                    by=head,
                    previous=owner,
                    left=int(left.total_seconds()),
                )
                self.last_assigned[team_code] = other
                history.append((at, other))
                owner = other
        return history, owner

    # --- one lead ----------------------------------------------------------------------------------

    def make_lead(
        self, created: datetime, chunk: _Chunk, fresh_owner: str | None = None, worked: bool = True
    ) -> None:
        rng, ref = self.rng, self.ref
        in_exhibition = any(start <= created.date() < stop for start, stop, _ in self.exhibitions)
        source_code = (self.exhibition_source_picker if in_exhibition else self.source_picker)(rng)
        profile = SOURCE_BY_CODE[source_code]
        source_id = ref.sources[source_code].id

        campaign = self.campaign_for(source_code, created.date())
        utm = {}
        if campaign is not None:
            utm = {"utm_source": campaign.utm_source, "utm_medium": campaign.utm_medium}
            utm["utm_campaign"] = campaign.utm_campaign
            if source_code == "yandex_direct" and rng.random() < 0.6:
                utm["utm_term"] = _choice(
                    rng, ["crm для бизнеса", "программа для склада", "купить тсд", "wms"]
                )
        elif source_code == "seo" and rng.random() < 0.7:
            utm = {"utm_source": "yandex", "utm_medium": "organic"}
        campaign_id = campaign.id if campaign else None

        contact, segment = None, None
        if self.returning_pool and rng.random() < 0.03:
            contact, segment = self.returning_contact(created)
        is_returning = contact is not None
        # A client coming back buys more: support, training, another rollout.
        is_client = is_returning and contact.phone in self.won_phones
        if contact is None:
            contact = self.new_contact(created, chunk)
            segment = ref.segments[self.segment_pickers[source_code](rng)]

        roll = rng.random()
        product_code, product_text = "", ""
        if fresh_owner is not None:
            # A product the rules route to the rep's team.
            product_code = self.team_product_pickers[self.users[fresh_owner].team.code](rng)
        elif is_client:
            product_code = _choice(rng, UPSELL_PRODUCTS)
        elif roll < 0.92:
            product_code = self.product_picker(rng)
        elif roll < 0.95:
            product_text = _choice(rng, UNKNOWN_PRODUCT_TEXTS)  # a code marketing has yet to map
        product_id = ref.products[product_code].id if product_code else None
        comment = _choice(
            rng, COMMENTS[product_code] if product_code and rng.random() < 0.8 else COMMENTS[""]
        )
        landing = f"{SITE}/{product_code or 'contacts'}/" if FORM in profile.channels else ""
        channel = self.channel_pickers[source_code](rng)

        route = product_code if product_code in ROUTED_PRODUCTS else None
        team_code = ROUTED_PRODUCTS.get(product_code, CATCH_ALL_TEAM)
        lead = chunk.add(
            Lead,
            _contact=contact,
            _route=route,
            source_id=source_id,
            campaign_id=campaign_id,
            channel=channel,
            utm_source=utm.get("utm_source", ""),
            utm_medium=utm.get("utm_medium", ""),
            utm_campaign=utm.get("utm_campaign", ""),
            utm_content="",
            utm_term=utm.get("utm_term", ""),
            landing_page=landing,
            product_id=product_id,
            product_text=product_text,
            comment=comment,
            segment_id=None,
            fit=Fit.UNKNOWN,
            owner_id=None,
            team_id=self.teams[team_code].id,
            stage_id=ref.stage_ids[StageCode.LEAD],
            furthest_stage_id=ref.stage_ids[StageCode.LEAD],
            qualification=Qualification.NONE,
            priority=Priority.HIGH if is_client else self.priority(profile.kind),
            rejection_reason_id=None,
            rejection_comment="",
            nurture_reason="",
            nurture_until=None,
            is_returning=is_returning,
            created_at=created,
            first_contact_at=None,
            qualified_at=None,
            stage_changed_at=None,
            closed_at=None,
        )
        request = {
            "source_id": source_id,
            "campaign_id": campaign_id,
            "product_text": product_code or product_text,
            "utm": utm,
            "landing_page": landing,
        }
        chunk.add(
            InboundRequest,
            _lead=lead,
            channel=channel,
            comment=comment,
            received_at=created,
            is_repeat=False,
            **request,
        )

        history, owner = self.distribute(lead, team_code, chunk, fresh_owner)
        if owner is not None:
            lead.owner_id = self.users[owner].id
        end = self.end
        if owner == self.absence[0]:
            end = min(end, self.absence_starts)  # the rep went on vacation; the lead waits for them
        if owner is not None and worked:
            funnel = _Funnel(self, lead, contact, profile, segment, owner, chunk, is_client, end)
            funnel.run(history[-1][0])
            status = ref.stage_kinds[funnel.stage]
        else:
            status = StageKind.OPEN
            if owner is None and rng.random() < 0.5:
                lead.segment_id, lead.fit = segment.id, segment.fit  # marketing has tagged it already

        # A repeat request from the same person while the lead is still open.
        if rng.random() < 0.08:
            until = min(lead.closed_at or self.end, self.end, created + timedelta(days=10))
            span = (until - created).total_seconds()
            if span > 3600:
                chunk.add(
                    InboundRequest,
                    _lead=lead,
                    channel=_choice(rng, [EntryChannel.CALL, EntryChannel.FORM, EntryChannel.CHAT]),
                    comment=_choice(
                        rng, ["Оставлял заявку, со мной так и не связались", "Уточните сроки", ""]
                    ),
                    received_at=created + timedelta(seconds=rng.randrange(3600, int(span))),
                    is_repeat=True,
                    **request,
                )

        self.clock(lead, team_code, history, chunk)
        lead.updated_at = lead.stage_changed_at or created

        if status in (StageKind.WON, StageKind.LOST) and rng.random() < (
            0.35 if status == StageKind.WON else 0.04
        ):
            self.returning_pool.append((lead.closed_at, contact, segment))

    # --- the SLA clock -----------------------------------------------------------------------------

    def clock(self, lead, team_code: str, history: list, chunk: _Chunk) -> None:
        """The lead's first-contact timer as the app would have left it (sla.clock and
        sla.sweep), and its breach with what the head did about it."""
        deadlines, end = self.deadlines[team_code], self.end
        created, contacted, closed = lead.created_at, lead.first_contact_at, lead.closed_at
        due = deadlines.add(created, self.budget)
        remind = deadlines.add(created, self.remind_budget) if self.remind_budget else None
        sweep = due + BREACH_DELAY  # when the sweep would breach it
        met_at = breached_at = cancelled_at = None
        if contacted is not None and contacted <= sweep:
            state, met_at, stopped = TimerState.MET, contacted, contacted
        elif contacted is None and closed is not None and closed <= sweep:
            state, cancelled_at, stopped = TimerState.CANCELLED, closed, closed
        elif sweep < end and (contacted is not None or closed is not None or due < end - RUNNING_GRACE):
            # Breached; a late contact is recorded too (it stays breached).
            state, breached_at, met_at, stopped = TimerState.BREACHED, sweep, contacted, due
        else:
            state, stopped = TimerState.RUNNING, due  # reminders go out only before the deadline
        reminded_at = None
        if remind is not None and remind < stopped and remind + BREACH_DELAY < end:
            reminded_at = remind + BREACH_DELAY
        timer = chunk.add(
            SlaTimer,
            _lead=lead,
            kind=TimerKind.FIRST_CONTACT,
            policy_id=self.policy_id,
            calendar_id=self.calendar_ids[team_code],
            state=state,
            started_at=created,
            budget_seconds=int(self.budget.total_seconds()),
            due_at=due,
            remind_at=remind,
            reminded_at=reminded_at,
            met_at=met_at,
            breached_at=breached_at,
            cancelled_at=cancelled_at,
            sweep_retry_at=None,
            attempt_id=None,
        )
        if state == TimerState.BREACHED:
            self.breach(lead, timer, team_code, history, chunk)

    def breach(self, lead, timer, team_code: str, history: list, chunk: _Chunk) -> None:
        rng, end = self.rng, self.end
        owner = None
        for since, username in history:  # who owned the lead at the deadline
            if since <= timer.due_at:
                owner = username
        at = timer.breached_at
        escalate_at = at + self.escalate_after if self.escalate_after is not None else None
        # Heads deal with most breaches within the hour; the rest the sweep escalates to
        # the executive. Recent ones are still on the board.
        roll = rng.random()
        acknowledged_at = resolved_at = None
        if roll < (0.9 if at < end - timedelta(days=14) else 0.55):
            acknowledged_at = at + timedelta(minutes=rng.uniform(2, 40))
            resolved_at = acknowledged_at + timedelta(minutes=rng.uniform(1, 20))
        elif roll < 0.97:
            acknowledged_at = at + timedelta(minutes=rng.uniform(30, 240))
            if rng.random() < 0.7:
                resolved_at = acknowledged_at + timedelta(hours=rng.uniform(1, 48))
        if acknowledged_at is not None and acknowledged_at >= end:
            acknowledged_at = resolved_at = None
        if resolved_at is not None and resolved_at >= end:
            resolved_at = None
        escalated_at = None
        if (
            escalate_at is not None
            and escalate_at + BREACH_DELAY < end
            and (resolved_at is None or resolved_at > escalate_at)
        ):
            escalated_at = escalate_at + BREACH_DELAY  # the sweep escalated it to the executive
        head = self.heads[team_code]
        comment = ""
        if acknowledged_at is not None:
            text = _choice(rng, BREACH_COMMENTS)
            if text:
                comment = f"{acknowledged_at.astimezone(self.tz):%Y-%m-%d %H:%M} {head}: {text}"
        chunk.add(
            Breach,
            _lead=lead,
            _timer=timer,
            kind=TimerKind.FIRST_CONTACT,
            owner_id=self.users[owner].id if owner else None,
            team_id=lead.team_id,
            source_id=lead.source_id,
            delay_owner=DelayOwner.REP if owner else DelayOwner.SYSTEM,
            due_at=timer.due_at,
            created_at=at,
            escalate_at=escalate_at,
            escalated_at=escalated_at,
            acknowledged_at=acknowledged_at,
            acknowledged_by_id=head.id if acknowledged_at else None,
            resolved_at=resolved_at,
            resolved_by_id=head.id if resolved_at else None,
            comment=comment,
        )

    # --- the run -----------------------------------------------------------------------------------

    def generate(self, n: int) -> None:
        fresh = self.fresh_arrivals(limit=n // 15)
        arrivals = [(t, None, True) for t in self.arrival_times(n - len(fresh))] + fresh
        arrivals.sort(key=lambda item: item[0])
        # A million small rows, and no reference cycles among them: the cyclic garbage
        # collector would only rescan them over and over (a third of the time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            for start in range(0, n, CHUNK_SIZE):
                chunk = _Chunk()
                for created, owner, worked in arrivals[start : start + CHUNK_SIZE]:
                    self.make_lead(created, chunk, owner, worked)
                self.writer.submit(chunk)
        finally:
            self.writer.stop()  # never leave a write running on the connection
            if collecting:
                gc.enable()
        self.writer.finish()


class _Funnel:
    """How far one assigned lead gets: attempts, qualification, stages and the outcome.

    Every step happens at a working moment after the previous one; a step that would
    fall after the end of the demo year does not happen, so recent leads stay open.
    """

    def __init__(
        self, gen: LeadGenerator, lead, contact, profile, segment, owner: str, chunk, is_client, end
    ):
        self.gen, self.rng, self.cal = gen, gen.rng, gen.rep_calendars[owner]
        self.ref, self.end = gen.ref, end
        self.lead, self.contact, self.chunk = lead, contact, chunk
        self.profile, self.segment = profile, segment
        self.owner_id = gen.users[owner].id
        self.rep = REPS[owner]
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
            StageChange,
            _lead=lead,
            from_stage_id=ref.stage_ids[self.stage],
            to_stage_id=ref.stage_ids[code],
            changed_by_id=self.owner_id,
            changed_at=at,
            note=note,
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
            ContactAttempt,
            _lead=self.lead,
            channel=channel,
            outcome=outcome,
            duration_seconds=duration,
            callback_at=callback_at,
            # Failed calls count towards the «N unanswered calls → nurture» rule.
            counted=outcome in FAILED_CALL_OUTCOMES,
            made_by_id=self.owner_id,
            made_at=at,
            recording_url="",
            note="",
        )

    def lose(self, at: datetime, reason: str) -> None:
        """Close as lost — or, for «not now», usually send to nurture instead."""
        lead = self.lead
        if reason == "not_now" and self.rng.random() < 0.6:
            self.nurture(
                at, _choice(self.rng, NURTURE_REASONS["not_now"]), return_in_days=self.rng.uniform(30, 120)
            )
            return
        self.move(StageCode.LOST, at, note=reason)
        lead.rejection_reason_id = self.ref.reasons[reason].id
        comments = REJECTION_COMMENTS.get(reason)
        if comments and (reason == "other" or self.rng.random() < 0.3):
            lead.rejection_comment = _choice(self.rng, comments)
        lead.closed_at = at

    def nurture(self, at: datetime, reason: str, return_in_days: float | None = None) -> None:
        self.move(StageCode.NURTURE, at, note=reason)
        self.lead.nurture_reason = reason
        if return_in_days is not None:
            # Only a date still ahead: an old nurture with a date long gone would look forgotten.
            return_on = (at + timedelta(days=return_in_days)).date()
            if return_on > self.gen.end.date():
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
                CriterionAnswer,
                _lead=self.lead,
                criterion_id=criterion.id,
                answer=Answer.YES if failed is None else Answer.NO,
                answered_by_id=self.owner_id,
                answered_at=at,
            )

    # the story --------------------------------------------------------------------------------
    def run(self, start: datetime) -> None:
        """The story from `start`, when the rep got the lead."""
        rng, cal, lead = self.rng, self.cal, self.lead
        delay = rng.lognormvariate(math.log(self.rep.first_call_minutes), 0.8)
        if rng.random() < 0.05:
            delay *= rng.uniform(8, 40)  # forgotten for a while
        at = cal.add_minutes(start, delay)

        if rng.random() >= self.reach:
            self.unreached(at)
            return
        for i in range(self.gen.failed_first_picker(rng)):
            if at >= self.end:
                return
            self.attempt(at, self.gen.failed_picker(rng))
            # No answer: a second try within minutes (the clock is ticking), then later.
            at = cal.add_minutes(at, rng.uniform(3, 12) if i == 0 else rng.uniform(60, 400))
        if at >= self.end:
            return
        messenger = lead.channel == EntryChannel.CHAT and rng.random() < 0.3
        self.attempt(
            at, AttemptOutcome.REACHED, AttemptChannel.MESSENGER if messenger else AttemptChannel.CALL
        )
        lead.first_contact_at = at
        lead.segment_id, lead.fit = self.segment.id, self.segment.fit
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
        self.move(StageCode.MEETING, at, note=f"встреча {meeting_at.astimezone(self.gen.tz):%Y-%m-%d %H:%M}")
        self.sell(meeting_at)

    def sell(self, meeting: datetime) -> None:
        rng, cal, lead, gen = self.rng, self.cal, self.lead, self.gen
        at = cal.later(rng, meeting, rng.uniform(3, 14))
        if at >= self.end or self.stalls():
            return
        if not self.chance(self.profile.proposal):
            self.lose(at, gen.meeting_fail_picker(rng))
            return
        product_id = lead.product_id or self.ref.products["crm"].id
        low, high = gen.product_amounts[self.ref.product_codes[product_id]]
        size = {"small_business": 0.5, "manufacturing": 1.4}.get(self.segment.code, 1.0)
        amount = math.exp(rng.uniform(math.log(low), math.log(high))) * size
        amount = Decimal(min(max(round(amount, -3), 150_000), 5_000_000)).quantize(CENTS)
        share = MARGIN_SHARES.get(self.ref.product_codes[product_id], (0.20, 0.45))
        margin = (amount * Decimal(rng.uniform(*share))).quantize(CENTS)
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
                Deal,
                _lead=lead,
                product_id=product_id,
                amount=amount,
                margin=margin,
                currency="RUB",
                status=DealStatus.WON if won else DealStatus.LOST,
                is_repeat_sale=won and phone in gen.won_phones,
                created_at=at,
                closed_on=at.astimezone(gen.tz).date(),
                owner_id=self.owner_id,
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
    timers = dict(
        SlaTimer.objects.filter(kind=TimerKind.FIRST_CONTACT)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "leads": sum(by_status.values()),
        "by_status": {kind: by_status.get(kind, 0) for kind in StageKind.values},
        "deals_won": deals["won"],
        "deals_lost": deals["lost"],
        "users": User.objects.filter(username__in=DEMO_USERNAMES).count(),
        "contacts": Contact.objects.count(),
        "timers": {state: timers.get(state, 0) for state in TimerState.values},
        "breaches": Breach.objects.count(),
    }


def run(
    *,
    leads: int = DEFAULT_LEADS,
    seed: int = 1,
    today: date,
    reset: bool = False,
    now: datetime | None = None,
    use_copy: bool | None = None,
) -> Result:
    """Upsert the reference data, teams and users; generate leads unless some exist
    (or `reset`). `now` (default: the clock) only decides where `today` is cut;
    `use_copy` forces the write path (default: COPY on PostgreSQL)."""
    with transaction.atomic():
        ref = ensure_reference_data(today, seed, leads)
        calendars = ensure_calendars()
        users = ensure_users(calendars)
        rules = ensure_routing(ref, users)
    if Lead.objects.exists() and not reset:
        return Result(False, "Leads already exist; nothing generated (use --reset to regenerate).", summary())
    cutoff = demo_cutoff(today, now or timezone.now())
    with transaction.atomic():
        if reset:
            delete_leads()
        ensure_absence(users, today)
        copy = CopyWriter.supported() if use_copy is None else use_copy
        writer = CopyWriter() if copy else OrmWriter()
        try:
            generator = LeadGenerator(
                ref, users, calendars, rules, seed=seed, today=today, cutoff=cutoff, writer=writer
            )
        except BaseException:
            writer.stop()  # its threads and process; generate() does this from here on
            raise
        generator.generate(leads)
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
