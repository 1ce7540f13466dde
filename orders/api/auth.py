"""Who may place and cancel orders.

With API_KEYS_REQUIRED (the default in production settings), placing or
cancelling an order takes `Authorization: Bearer <key>`, or the session of a
logged-in user (the dashboard). Reading orders and quotes stays open.
Development needs no configuration: the flag is off by default there.

An order placed with a key, or by a logged-in user, is theirs: only they,
or an operator (is_operator), may cancel it. One placed by nobody in
particular (API keys not required, no key sent) is anyone's to cancel who
may place orders.
"""

from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from orders.models import ApiKey

# The admin changes no order by hand: "Can change order" is what lets a staff
# user act on orders and the market (cancel, retry, launch a token, rq's
# queues). A superuser has it; a staff user given only "Can view order" reads.
OPERATE_PERMISSION = "orders.change_order"


def is_operator(user) -> bool:
    return user is not None and user.is_active and user.is_staff and user.has_perm(OPERATE_PERMISSION)


def api_key_from_header(header: str) -> ApiKey | None:
    """The API key an Authorization header names, None without the header.
    AuthenticationFailed for a malformed header or a key unknown or revoked,
    whether keys are required or not: a client that sent one means to be
    identified by it."""
    if not header:
        return None
    scheme, _, raw_key = header.partition(" ")
    if scheme.lower() != "bearer" or not raw_key.strip():
        raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <API key>'.")
    key = ApiKey.find(raw_key.strip())
    if key is None:
        raise exceptions.AuthenticationFailed("This API key is unknown or revoked.")
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        key = api_key_from_header(authentication.get_authorization_header(request).decode("latin-1"))
        return None if key is None else (None, key)

    def authenticate_header(self, request):
        return 'Bearer realm="orders"'


class MayPlaceOrders(permissions.BasePermission):
    message = (
        "Placing orders needs an API key: send 'Authorization: Bearer <key>', or log in to the dashboard."
    )

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS or not settings.API_KEYS_REQUIRED:
            return True
        if not hasattr(view, request.method.lower()):
            return True  # the view answers 405: a wrong method is wrong with a key or without
        return Placer.of(request).identified


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
        """From a DRF request (its key, its user) or a plain Django one (its user)."""
        user = getattr(request, "user", None)
        auth = getattr(request, "auth", None)
        return cls(
            api_key=auth if isinstance(auth, ApiKey) else None,
            user=user if user is not None and user.is_authenticated else None,
        )

    @property
    def identified(self) -> bool:
        """What placing an order takes when API keys are required."""
        return self.api_key is not None or self.user is not None

    def owner_fields(self) -> dict:
        return {"api_key": self.api_key, "placed_by": self.user}

    def may_cancel(self, order) -> bool:
        if is_operator(self.user):
            return True
        if order.api_key_id is None and order.placed_by_id is None:
            return True
        if self.api_key is not None and order.api_key_id == self.api_key.pk:
            return True
        return self.user is not None and order.placed_by_id == self.user.pk


NOBODY_IN_PARTICULAR = Placer()
NOT_THE_OWNER = "Only who placed the order (its API key, or its logged-in user) or an operator can cancel it."
