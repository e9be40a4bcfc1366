"""REST endpoints of sales' feedback for marketing (issue #15). Thin: authorise,
parse, call one function of leads/feedback.py.

GET  /api/v1/feedback/                 what the caller may see, filtered as /feedback/
GET  /api/v1/feedback/counts/          per topic and per source, the same filters
POST /api/v1/feedback/{id}/reply/      marketing takes an item into work with a reply
POST /api/v1/leads/{id}/feedback/      feedback on a lead (LeadViewSet.feedback in leads/api.py)
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from leads import actions
from leads.feedback import can_reply, leave_feedback, take_into_work
from leads.feedback import counts as feedback_counts
from leads.feedback_filters import FeedbackFilter
from leads.models import Feedback, FeedbackState, FeedbackTopic
from leads.models.feedback import MAX_FEEDBACK_LENGTH
from revops.api import HttpConflict, StrictSerializer
from revops.errors import Conflict


class FeedbackSerializer(serializers.ModelSerializer):
    topic = serializers.ChoiceField(choices=FeedbackTopic.choices, read_only=True)
    state = serializers.ChoiceField(choices=FeedbackState.choices, read_only=True)
    source = serializers.IntegerField(
        source="lead.source_id", read_only=True, help_text=_("The lead's source id.")
    )
    campaign = serializers.IntegerField(
        source="lead.campaign_id",
        read_only=True,
        allow_null=True,
        help_text=_("The lead's campaign id, or null."),
    )
    segment = serializers.IntegerField(
        source="lead.segment_id",
        read_only=True,
        allow_null=True,
        help_text=_("The lead's segment id, or null."),
    )

    class Meta:
        model = Feedback
        fields = [
            "id",
            "lead",
            "topic",
            "text",
            "author",
            "created_at",
            "source",
            "campaign",
            "segment",
            "state",
            "taken_by",
            "taken_at",
            "reply",
            "replied_at",
        ]
        read_only_fields = fields


class FeedbackCreateSerializer(StrictSerializer):
    topic = serializers.ChoiceField(choices=FeedbackTopic.choices)
    text = serializers.CharField(max_length=MAX_FEEDBACK_LENGTH)


class FeedbackReplySerializer(StrictSerializer):
    reply = serializers.CharField(max_length=MAX_FEEDBACK_LENGTH)


class TopicCountSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=_("The topic's code (as `topic` in the list)."))
    label = serializers.CharField()
    count = serializers.IntegerField()


class SourceCountSerializer(serializers.Serializer):
    key = serializers.IntegerField(help_text=_("The source's id."))
    label = serializers.CharField()
    count = serializers.IntegerField()


class FeedbackCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    topics = TopicCountSerializer(many=True)
    sources = SourceCountSerializer(many=True)


FEEDBACK_ERRORS = {
    400: OpenApiResponse(description="{field: [messages]}"),
    403: OpenApiResponse(description="The caller may see the item but not do this."),
    404: OpenApiResponse(description="No such item, or not one the caller may see."),
}


def feedback_queryset(user):
    return Feedback.objects.visible_to(user).select_related("lead").order_by("-created_at", "-id")


class FeedbackViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Feedback from sales: marketing, executives and admins see all of it, a head
    the team's leads', a rep their own leads'. Marketing replies."""

    serializer_class = FeedbackSerializer
    filterset_class = FeedbackFilter
    # Any path segment reaches the view, so a malformed id is the API's JSON 404.
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return feedback_queryset(self.request.user)

    @extend_schema(
        responses={200: FeedbackCountsSerializer, 400: OpenApiResponse(description="{filter: [messages]}")}
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def counts(self, request):
        """Counts per topic and per source of the feedback the filters select (as on /feedback/)."""
        rows = self.filter_queryset(self.get_queryset())
        return Response(FeedbackCountsSerializer(feedback_counts(rows)).data)

    @extend_schema(
        request=FeedbackReplySerializer,
        responses={
            200: FeedbackSerializer,
            409: OpenApiResponse(description="Already taken."),
            **FEEDBACK_ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        """Take the item into work with a reply; its author is notified."""
        feedback = self.get_object()  # 404 for what the caller cannot see
        if not can_reply(request.user):
            raise PermissionDenied()
        serializer = FeedbackReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            feedback = take_into_work(feedback, request.user, serializer.validated_data["reply"])
        except actions.Invalid as exc:
            raise ValidationError(exc.errors) from None
        except Conflict as exc:
            raise HttpConflict(str(exc)) from None
        return Response(FeedbackSerializer(feedback).data)


def create_for_lead(lead, user, data) -> Response:
    """POST /api/v1/leads/{id}/feedback/ after LeadViewSet checked the caller may work the lead."""
    serializer = FeedbackCreateSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    try:
        feedback = leave_feedback(lead, user, **serializer.validated_data)
    except actions.Invalid as exc:
        raise ValidationError(exc.errors) from None
    feedback = feedback_queryset(user).get(pk=feedback.pk)
    return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)
