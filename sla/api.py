from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from revops.api import HttpConflict, StrictSerializer
from revops.errors import Conflict
from revops.roles import Role
from sla import actions
from sla.filters import BreachFilter
from sla.models import Breach


class BreachSerializer(serializers.ModelSerializer):
    timer_kind = serializers.CharField(source="kind", read_only=True)
    breached_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Breach
        fields = [
            "id",
            "lead",
            "timer_kind",
            "owner",
            "team",
            "source",
            "delay_owner",
            "due_at",
            "breached_at",
            "escalate_at",
            "escalated_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "comment",
        ]
        read_only_fields = fields


class BreachCommentSerializer(StrictSerializer):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class BreachViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """SLA breaches: a rep sees own, a head the team's, marketing, executives and admins all.
    Heads and admins acknowledge and resolve."""

    serializer_class = BreachSerializer
    filterset_class = BreachFilter
    # Any path segment reaches the view, so a malformed id is the API's JSON 404
    # (the router's default pattern would leave "1.5" to Django's HTML page).
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return Breach.objects.visible_to(self.request.user).order_by("-created_at", "-id")

    def _act(self, fn):
        breach = self.get_object()
        user = self.request.user
        if user.role not in (Role.SALES_HEAD, Role.ADMIN) and not user.is_superuser:
            raise PermissionDenied()
        serializer = BreachCommentSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        try:
            breach = fn(breach, user, serializer.validated_data["comment"])
        except Conflict as exc:
            raise HttpConflict(str(exc)) from None
        return Response(BreachSerializer(breach).data)

    @extend_schema(request=BreachCommentSerializer, responses=BreachSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._act(actions.acknowledge)

    @extend_schema(request=BreachCommentSerializer, responses=BreachSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._act(actions.resolve)
