from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.models import Tenant


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "timezone", "license_subject"]


class TenantApi(APIView):
    """The caller's own tenant."""

    serializer_class = TenantSerializer

    def get(self, request):
        return Response(TenantSerializer(request.tenant).data)
