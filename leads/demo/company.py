"""The demo company «ТехноСфера»: its people and its reference data, as plain
values (the upserts are in leads.demo.setup, the generated history in
leads.demo.generator and leads.demo.story).

A Russian B2B company selling CRM, warehouse software, data-collection terminals
and the services around them, with two sales teams, a marketing team, nine lead
sources and their campaigns.
"""

from dataclasses import dataclass
from datetime import time
from decimal import Decimal

from leads.choices import CriterionLevel, EntryChannel, Fit, SourceKind
from revops.models import DistributionMode, Team
from revops.roles import Role
from sla.calendars import DEFAULT_CALENDAR_CODE

DEMO_PASSWORD = "demo"
CENTS = Decimal("0.01")
EMAIL_DOMAIN = "demo.revops.local"
SITE = "https://technosfera.example"
# Spend figures are sized for the default volume; a bigger run scales them so
# cost per lead and ROMI stay believable.
DEFAULT_LEADS = 3000
# How the demo tells its own leads from real ones: every request it sends through
# intake carries this key in its extra data (shown on the lead card with the rest).
DEMO_MARK = "demo"
DEMO_MARK_VALUE = "ТехноСфера"

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
    "rep1": RepProfile(3, 1.1),
    "rep2": RepProfile(4, 1.05),
    "rep3": RepProfile(9, 0.9),  # the slow one: the SLA report should show it
    "rep4": RepProfile(4, 1.0, weight=2),
    "rep5": RepProfile(6, 0.95, shift=(9, 14)),  # part-time: mornings only
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
    # Chances of each funnel step: the person is reached, fits as MQL, becomes SQL,
    # agrees to a meeting, the meeting leads to a proposal, the proposal to a deal.
    reach: float
    mql: float
    sql: float
    meeting: float
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
    # reach, mql, sql, meeting, proposal, deal, segments, early reasons, unreached outcomes
    SourceProfile(
        "yandex_direct", "Яндекс Директ", SourceKind.PAID, 26, {FORM: 60, CHAT: 22, CALL: 18},
        0.80, 0.45, 0.40, 0.74, 0.58, 0.36, _SEGMENTS_DEFAULT, _EARLY_DEFAULT, _UNREACHED_DEFAULT,
    ),
    SourceProfile(
        "vk_ads", "VK Реклама", SourceKind.PAID, 11, {FORM: 70, CHAT: 25, CALL: 5},
        0.66, 0.28, 0.30, 0.62, 0.50, 0.30, {**_SEGMENTS_DEFAULT, "small_business": 42},
        {"not_target": 40, "spam": 14, "no_need": 20, "not_now": 8, "wrong_contacts": 8, "duplicate": 5, "other": 5},
        {"silent": 55, "wrong": 25, "junk": 20},
    ),
    SourceProfile(
        "seo", "SEO / органика", SourceKind.ORGANIC, 16, {FORM: 55, CHAT: 20, CALL: 25},
        0.85, 0.50, 0.42, 0.78, 0.60, 0.38, _SEGMENTS_DEFAULT, _EARLY_DEFAULT, _UNREACHED_DEFAULT,
    ),
    SourceProfile(
        "telegram", "Telegram-канал", SourceKind.SOCIAL, 6, {CHAT: 55, FORM: 40, CALL: 5},
        0.80, 0.40, 0.36, 0.7, 0.55, 0.33, _SEGMENTS_DEFAULT, _EARLY_DEFAULT, _UNREACHED_DEFAULT,
    ),
    SourceProfile(
        "webinars", "Вебинары", SourceKind.EVENT, 4, {FORM: 65, API: 35},
        0.84, 0.50, 0.40, 0.8, 0.55, 0.35, _SEGMENTS_DEFAULT, _EARLY_DEFAULT, _UNREACHED_DEFAULT,
    ),
    # Weight 0: exhibition leads follow the exhibition calendar instead (EXHIBITIONS).
    SourceProfile(
        "exhibitions", "Выставки", SourceKind.EVENT, 0, {IMPORT: 60, MANUAL: 30, FORM: 10},
        0.86, 0.55, 0.45, 0.82, 0.60, 0.38, _SEGMENTS_WARM, _EARLY_DEFAULT, {"silent": 70, "wrong": 25, "junk": 5},
    ),
    SourceProfile(
        "referrals", "Рекомендации", SourceKind.REFERRAL, 8, {CALL: 50, MANUAL: 30, FORM: 20},
        0.95, 0.75, 0.60, 0.92, 0.70, 0.46, _SEGMENTS_WARM, _EARLY_WARM, {"silent": 85, "wrong": 10, "junk": 5},
    ),
    SourceProfile(
        "partners", "Партнёры", SourceKind.PARTNER, 7, {API: 60, FORM: 20, CALL: 20},
        0.93, 0.70, 0.55, 0.88, 0.65, 0.42, _SEGMENTS_WARM, _EARLY_WARM, {"silent": 80, "wrong": 12, "junk": 8},
    ),
    SourceProfile(
        "cold_outreach", "Холодный обзвон", SourceKind.OUTBOUND, 9, {MANUAL: 70, CALL: 30},
        0.78, 0.25, 0.30, 0.55, 0.50, 0.30, _SEGMENTS_DEFAULT,
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
# Why a lead a rep reached went to nurture instead of being closed (the silent ones:
# the product's attempts rule writes its own reason).
NURTURE_REASONS = [
    "Клиент просил вернуться после нового бюджетного года",
    "Сейчас идёт переезд склада, вернуться через пару месяцев",
    "Интересно, но не в этом квартале",
]

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


# --- when clients write, and what goes wrong ------------------------------------------------------

# Arrivals: most on working days in the company's hours (9:00–19:00 Moscow), some
# in the evening and early morning, a few at weekends.
DAY_OPENS, DAY_CLOSES = 9, 19
WORK_HOUR_WEIGHTS = [0.8, 1.2, 1.3, 1.1, 0.8, 1.1, 1.2, 1.1, 0.9, 0.6]  # 9:00 … 18:00
OFF_HOURS = [7, 8, 19, 20, 21, 22, 23]
OFF_HOUR_WEIGHTS = [0.3, 0.6, 0.6, 0.45, 0.35, 0.2, 0.1]

# Why a step of the funnel fails (rejection reason codes, weights).
SQL_FAILURES = {"no_budget": 34, "no_authority": 26, "not_now": 24, "price": 8, "other": 8}
# An SQL lead that never gets to a meeting: the decision maker would not meet.
NO_MEETING_FAILURES = {"no_authority": 30, "not_now": 30, "chose_competitor": 20, "no_budget": 12, "other": 8}
MEETING_FAILURES = {"chose_competitor": 30, "price": 25, "no_budget": 20, "not_now": 15, "other": 10}
PROPOSAL_FAILURES = {"price": 40, "chose_competitor": 35, "not_now": 10, "no_budget": 10, "other": 5}
# The checklist line a rep answers «no» when the lead fails for that reason.
FAILED_CRITERION = {
    "not_target": "icp_fit",
    "no_need": "real_need",
    "wrong_contacts": "valid_contacts",
    "no_budget": "budget",
    "no_authority": "authority",
    "not_now": "timeline",
}
FAILED_CALLS_BEFORE_REACHING = {0: 75, 1: 20, 2: 5}
FAILED_CALL_OUTCOMES_WEIGHTS = {"no_answer": 60, "busy": 25, "voicemail": 15}

# Leads that arrive shortly before the demo stops, by working minutes since arrival,
# and whether the rep has called since: when `today` is the current date, the
# queue shows fresh, at-risk and overdue clocks side by side.
FRESH = ((3, False), (11, False), (35, False), (100, True), (220, True))
BREACH_COMMENTS = [
    "Заявка пришла в обед, менеджер был на встрече",
    "Разобрали на планёрке: звонить сразу, без переписки",
    "Клиент перезвонил сам, проблема в распределении",
    "Менеджер был на больничном, заявки перераспределены",
    "Сбой телефонии, звонки не проходили",
    "",
]
