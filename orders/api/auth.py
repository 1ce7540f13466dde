"""Who may place and cancel orders.

With API_KEYS_REQUIRED (the default in production settings), placing or
cancelling an order takes `Authorization: Bearer <key>`, or the session of a
logged-in user (the dashboard). Reading orders and quotes stays open.
Development needs no configuration: the flag is off by default there.

An order placed with a key, or by a logged-in user, is theirs: only they,
or an operator (a staff user), may cancel it. One placed by nobody in
particular (API keys not required, no key sent) is anyone's to cancel who
may place orders.
"""

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Placer:
    """Who places (or cancels) an order: the API key it came with, the
    logged-in user, both or neither."""

    api_key: ApiKey | None = None
    user: object = None

    @classmethod
    def of(cls, request) -> "Placer":
        user = getattr(request, "user", None)
        return cls(
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            user=user if user is not None and user.is_authenticated else None,
        )

    def owner_fields(self) -> dict:
        return {"api_key": self.api_key, "placed_by": self.user}

    def may_cancel(self, order) -> bool:
        if self.user is not None and self.user.is_staff:
            return True
        if order.api_key_id is None and order.placed_by_id is None:
            return True
        if self.api_key is not None and order.api_key_id == self.api_key.pk:
            return True
        return self.user is not None and order.placed_by_id == self.user.pk


NOBODY_IN_PARTICULAR = Placer()
NOT_THE_OWNER = "Only who placed the order (its API key, or its logged-in user) or an operator can cancel it."
