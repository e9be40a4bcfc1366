"""The funnel: where leads come from, who they are, and how far they got. One module
per part (reference data, leads and their history, intake, distribution, imports);
everything is imported here, where Django and the rest of the code look for it."""

from leads.models.definitions import DefinitionKind, DefinitionVersion
from leads.models.disputes import RejectionDispute
from leads.models.distribution import Assignment, RoutingRule
from leads.models.feedback import Feedback, FeedbackState, FeedbackTopic
from leads.models.imports import ImportJob, ImportJobQuerySet, ImportKind, ImportState
from leads.models.intake import Consent, IdempotencyRecord, IntakeKey, SiteForm
from leads.models.lead import (
    Contact,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    InboundRequest,
    Lead,
    LeadEvent,
    LeadQuerySet,
    StageChange,
)
from leads.models.marketing import MarketingConsent, MarketingTask, TrackEmail, TrackEmailState, Unsubscribe
from leads.models.nurture import NurtureReturn
from leads.models.reference import (
    Campaign,
    NurtureReason,
    Product,
    QualificationCriterion,
    RejectionReason,
    Segment,
    Source,
    Spend,
    Stage,
    localized,
)
from leads.models.tracks import NurtureStep, NurtureTrack, TrackEnrollment

__all__ = [
    "DefinitionKind",
    "DefinitionVersion",
    "localized",
    "Source",
    "Campaign",
    "Spend",
    "Product",
    "Segment",
    "Stage",
    "RejectionReason",
    "QualificationCriterion",
    "Contact",
    "LeadQuerySet",
    "Lead",
    "InboundRequest",
    "StageChange",
    "LeadEvent",
    "NurtureReturn",
    "RejectionDispute",
    "NurtureReason",
    "NurtureTrack",
    "NurtureStep",
    "TrackEnrollment",
    "MarketingConsent",
    "Unsubscribe",
    "TrackEmail",
    "TrackEmailState",
    "MarketingTask",
    "CriterionAnswer",
    "ContactAttempt",
    "Deal",
    "IntakeKey",
    "SiteForm",
    "IdempotencyRecord",
    "Consent",
    "RoutingRule",
    "Assignment",
    "ImportKind",
    "ImportState",
    "ImportJobQuerySet",
    "ImportJob",
    "Feedback",
    "FeedbackTopic",
    "FeedbackState",
]
