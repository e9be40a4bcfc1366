"""REST endpoints of the funnel. Thin: authorise, parse, call one function."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from leads.actions import update_lead
from leads.filters import LeadFilter
from leads.models import Lead
from leads.serializers import LeadSerializer, LeadUpdateSerializer


class LeadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Leads the caller may see: a rep their own, a head the team's, marketing,
    executives and admins all of them."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return Lead.objects.visible_to(self.request.user).with_related().order_by("-created_at", "-id")

    @extend_schema(request=LeadUpdateSerializer, responses=LeadSerializer)
    def partial_update(self, request, *args, **kwargs):
        lead = self.get_object()  # 404 for a lead the caller cannot see
        if not Lead.objects.changeable_by(request.user).filter(pk=lead.pk).exists():
            raise PermissionDenied()
        serializer = LeadUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        update_lead(lead, request.user, serializer.validated_data)
        return Response(LeadSerializer(lead, context=self.get_serializer_context()).data)
