"""Who may place orders.

With API_KEYS_REQUIRED (the default in production settings), placing or
cancelling an order takes `Authorization: Bearer <key>`, or the session of a
logged-in user (the dashboard). Reading orders and quotes stays open.
Development needs no configuration: the flag is off by default there.
"""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from orders.models import ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_key.strip():
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <API key>'.")
        key = ApiKey.find(raw_key.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("This API key is unknown or revoked.")
        return (None, key)

    def authenticate_header(self, request):
        return 'Bearer realm="orders"'


class MayPlaceOrders(permissions.BasePermission):
    message = (
        "Placing orders needs an API key: send 'Authorization: Bearer <key>', or log in to the dashboard."
    )

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS or not settings.API_KEYS_REQUIRED:
            return True
        user = getattr(request, "user", None)
        return isinstance(request.auth, ApiKey) or bool(user and user.is_authenticated)


class ApiKeySchema(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the key."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the admin; "
            "required to place orders when API_KEYS_REQUIRED is on.",
        }
