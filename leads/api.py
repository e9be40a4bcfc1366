"""REST endpoints of the funnel. Thin: authorise, parse, call one function."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from leads import actions
from leads.assignment import assign_manually
from leads.choices import ReturnTrigger
from leads.dispute_api import DisputeOpenSerializer, DisputeSerializer, open_for_lead
from leads.feedback_api import FeedbackCreateSerializer, FeedbackSerializer, create_for_lead
from leads.filters import LeadFilter
from leads.models import Lead
from leads.returns import can_return, return_from_nurture
from leads.serializers import (
    AssignSerializer,
    AttemptResultSerializer,
    AttemptSerializer,
    ChecklistSerializer,
    LeadSerializer,
    LeadUpdateSerializer,
    NurtureSerializer,
    RejectSerializer,
    ReturnSerializer,
    StageSerializer,
)
from revops.api import HttpConflict
from revops.roles import Role
from sla.models import SlaTimer, TimerKind


def first_contact_timers():
    return Prefetch(
        "timers",
        queryset=SlaTimer.objects.filter(kind=TimerKind.FIRST_CONTACT).order_by("-started_at"),
        to_attr="first_contact_timers",
    )


ACTION_ERRORS = {
    400: OpenApiResponse(description="{field: [messages]}"),
    403: OpenApiResponse(description="The caller may see the lead but not change it."),
    404: OpenApiResponse(description="No such lead, or not one the caller may see."),
    409: OpenApiResponse(description="The lead's state forbids this (e.g. it is closed)."),
}


class LeadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Leads the caller may see: a rep their own, a head the team's, marketing,
    executives and admins all of them."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    # Any path segment reaches the view, so a malformed id is the API's JSON 404
    # (the router's default pattern would leave "1.5" to Django's HTML page).
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return (
            Lead.objects.visible_to(self.request.user)
            .with_related()
            .prefetch_related(first_contact_timers())
            .order_by("-created_at", "-id")
        )

    def changeable_lead(self) -> Lead:
        lead = self.get_object()  # 404 for a lead the caller cannot see
        if not Lead.objects.changeable_by(self.request.user).filter(pk=lead.pk).exists():
            raise PermissionDenied()
        return lead

    def parsed(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def run(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except actions.Invalid as exc:
            raise ValidationError(exc.errors) from None
        except actions.Conflict as exc:
            raise HttpConflict(str(exc)) from None

    def lead_response(self, lead: Lead, code=status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=lead.pk)
        return Response(LeadSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=LeadUpdateSerializer, responses={200: LeadSerializer, **ACTION_ERRORS})
    def partial_update(self, request, *args, **kwargs):
        lead = self.changeable_lead()
        data = self.parsed(LeadUpdateSerializer)
        self.run(actions.update_lead, lead, request.user, data)
        return self.lead_response(lead)

    @extend_schema(request=AttemptSerializer, responses={201: AttemptResultSerializer, **ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def attempts(self, request, pk=None):
        """Log a call, email or message. Failed calls count towards nurture."""
        lead = self.changeable_lead()
        data = self.parsed(AttemptSerializer)
        attempt, info = self.run(actions.log_attempt, lead, request.user, **data)
        return Response(
            AttemptResultSerializer(attempt, context={"info": info}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=AssignSerializer, responses={200: LeadSerializer, **ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Give the lead to a rep (heads: within their team; admins: anyone in sales)."""
        lead = self.changeable_lead()
        if request.user.role not in (Role.SALES_HEAD, Role.ADMIN) and not request.user.is_superuser:
            raise PermissionDenied()
        data = self.parsed(AssignSerializer)
        self.run(assign_manually, lead, data["owner"], request.user)
        return self.lead_response(lead)

    @extend_schema(request=ChecklistSerializer, responses={200: LeadSerializer, **ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def checklist(self, request, pk=None):
        """Answer MQL/SQL criteria; the lead's qualification follows the answers."""
        lead = self.changeable_lead()
        data = self.parsed(ChecklistSerializer)
        self.run(actions.answer_checklist, lead, request.user, data["answers"])
        return self.lead_response(lead)

    @extend_schema(request=StageSerializer, responses={200: LeadSerializer, **ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def stage(self, request, pk=None):
        """Move along the funnel; a meeting needs its time, a proposal its amount, a deal amount and margin."""
        lead = self.changeable_lead()
        data = self.parsed(StageSerializer)
        self.run(
            actions.move_stage,
            lead,
            request.user,
            data["stage"],
            meeting_at=data.get("meeting_at"),
            amount=data.get("amount"),
            margin=data.get("margin"),
        )
        return self.lead_response(lead)

    @extend_schema(request=RejectSerializer, responses={200: LeadSerializer, **ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Close the lead with a reason from the list ("other" needs a comment)."""
        lead = self.changeable_lead()
        data = self.parsed(RejectSerializer)
        self.run(actions.reject, lead, request.user, data["reason"], data["comment"])
        return self.lead_response(lead)

    @extend_schema(request=NurtureSerializer, responses={200: LeadSerializer, **ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def nurture(self, request, pk=None):
        """Hand the lead to marketing's nurture with a reason and an optional return date."""
        lead = self.changeable_lead()
        data = self.parsed(NurtureSerializer)
        self.run(
            actions.send_to_nurture,
            lead,
            request.user,
            data.get("reason", ""),
            data.get("return_on"),
            cause=data.get("cause", ""),
        )
        return self.lead_response(lead)

    @extend_schema(request=ReturnSerializer, responses={200: LeadSerializer, **ACTION_ERRORS})
    @action(detail=True, methods=["post"], url_path="return")
    def return_from_nurture(self, request, pk=None):
        """Bring the lead back from nurture to the sales queue (marketing and admins):
        the stage it left, a fresh first-contact clock, its owner if still on shift."""
        lead = self.get_object()  # 404 for a lead the caller cannot see
        if not can_return(request.user):
            raise PermissionDenied()
        data = self.parsed(ReturnSerializer)
        self.run(return_from_nurture, lead, ReturnTrigger.HAND, request.user, note=data["note"].strip())
        return self.lead_response(lead)

    # Issue #15: marketing disputes a rejection (leads.disputes; the list and the
    # decision are leads.dispute_api.DisputeViewSet).
    @extend_schema(request=DisputeOpenSerializer, responses={201: DisputeSerializer, **ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def dispute(self, request, pk=None):
        """Dispute the lead's rejection with a comment (marketing and admins); the
        head of the lead's team decides within the team's working time."""
        lead = self.get_object()  # 404 for a lead the caller cannot see
        return open_for_lead(request, lead)

    # Issue #15: sales' feedback for marketing (leads/feedback_api.py).
    @extend_schema(
        request=FeedbackCreateSerializer,
        responses={201: FeedbackSerializer, **{code: r for code, r in ACTION_ERRORS.items() if code != 409}},
    )
    @action(detail=True, methods=["post"])
    def feedback(self, request, pk=None):
        """Feedback for marketing on the lead: a topic from the list and free text."""
        lead = self.changeable_lead()
        return create_for_lead(lead, request.user, request.data)
