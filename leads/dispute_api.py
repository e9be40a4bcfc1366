"""Disputed rejections over the API and the one FilterSet of the /disputes/ page
(leads.disputes holds the logic). `POST /api/v1/leads/{id}/dispute/` is an
action of the lead viewset (leads/api.py); the list and the decision live here."""

import django_filters
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from leads import disputes
from leads.actions import Invalid
from leads.choices import DisputeOutcome, DisputeState
from leads.models import RejectionDispute, Source
from revops.api import HttpConflict, StrictSerializer
from revops.errors import Conflict
from revops.inputs import IdModelChoiceFilter, parse_id
from revops.models import Team


class DisputeFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(label=_("State"), choices=DisputeState.choices)
    team = IdModelChoiceFilter(label=_("Team"), field_name="lead__team", queryset=Team.objects.all())
    source = IdModelChoiceFilter(label=_("Source"), field_name="lead__source", queryset=Source.objects.all())

    class Meta:
        model = RejectionDispute
        fields = ["state", "team", "source"]


def listed(user):
    """The disputes `user` may read, with what a list row shows, in a fixed
    number of queries."""
    return (
        disputes.visible_disputes(user)
        .select_related(
            "lead__contact",
            "lead__source",
            "lead__team",
            "lead__stage",
            "rejection_reason",
            "lost_change__from_stage",
            "opened_by",
            "decided_by",
        )
        .order_by("-opened_at", "-id")
    )


class DisputeSerializer(serializers.ModelSerializer):
    rejection_reason = serializers.SlugRelatedField(slug_field="code", read_only=True)
    rejected_from = serializers.SerializerMethodField()
    team = serializers.IntegerField(source="lead.team_id", read_only=True, allow_null=True)
    source = serializers.IntegerField(source="lead.source_id", read_only=True)

    class Meta:
        model = RejectionDispute
        fields = [
            "id",
            "lead",
            "team",
            "source",
            "state",
            "rejection_reason",
            "rejection_comment",
            "rejected_from",
            "comment",
            "opened_by",
            "opened_at",
            "decide_by",
            "remind_at",
            "reminded_at",
            "escalated_at",
            "decided_by",
            "decided_at",
            "decision_comment",
        ]
        read_only_fields = fields

    def get_rejected_from(self, dispute) -> str | None:
        """The code of the stage the lead left for lost (where an overturn reopens it)."""
        stage = dispute.lost_change.from_stage
        return stage.code if stage else None


class DisputeOpenSerializer(StrictSerializer):
    comment = serializers.CharField(max_length=disputes.MAX_COMMENT)


class DecideSerializer(StrictSerializer):
    outcome = serializers.ChoiceField(choices=DisputeOutcome.choices)
    comment = serializers.CharField(
        max_length=disputes.MAX_COMMENT, required=False, allow_blank=True, default=""
    )


ERRORS = {
    400: OpenApiResponse(description="{field: [messages]}"),
    403: OpenApiResponse(description="The caller may see the dispute but not decide it."),
    404: OpenApiResponse(description="No such dispute, or not one the caller may see."),
    409: OpenApiResponse(description="The dispute was decided already."),
}


def run(fn, *args, **kwargs):
    """Call a leads.disputes function, its errors as the API's."""
    try:
        return fn(*args, **kwargs)
    except Invalid as exc:
        raise ValidationError(exc.errors) from None
    except Conflict as exc:
        raise HttpConflict(str(exc)) from None


class DisputeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Disputed rejections: heads of sales see their team's, marketing,
    executives and admins all; reps none (403)."""

    serializer_class = DisputeSerializer
    filterset_class = DisputeFilter
    lookup_value_regex = "[^/]+"  # a malformed id is the API's JSON 404

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not disputes.may_list(request.user):
            raise PermissionDenied()

    def get_queryset(self):
        return listed(self.request.user)

    def get_object(self):
        if parse_id(str(self.kwargs.get("pk", ""))) is None:
            raise Http404
        return super().get_object()

    @extend_schema(request=DecideSerializer, responses={200: DisputeSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Uphold the rejection or overturn it (the lead reopens at the stage it
        left, with a fresh clock): the head of the lead's team, admins, and
        executives once the dispute is past its deadline."""
        dispute = self.get_object()
        if not disputes.can_decide(request.user, dispute, dispute.lead):
            raise PermissionDenied()
        serializer = DecideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run(disputes.decide, dispute, request.user, data["outcome"], data["comment"])
        return Response(DisputeSerializer(self.get_queryset().get(pk=dispute.pk)).data)


def open_for_lead(request, lead):
    """`POST /api/v1/leads/{id}/dispute/` (LeadViewSet.dispute): 201 with the dispute."""
    if not disputes.can_open(request.user):
        raise PermissionDenied()
    serializer = DisputeOpenSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    dispute = run(disputes.open_dispute, lead, request.user, serializer.validated_data["comment"])
    return Response(
        DisputeSerializer(listed(request.user).get(pk=dispute.pk)).data, status=status.HTTP_201_CREATED
    )
