import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError, ValidationError
from pydantic import ValidationError as PydanticValidationError

from ..core.middleware import FORM, JSON
from ..core.openapi import Problem
from . import selectors, services
from .schemas import Credentials, Token, UserOut
from .tokens import BearerToken, caller_id, create_access_token

users_router = Router(tags=["users"])
auth_router = Router(tags=["auth"])


@users_router.post("", response={201: UserOut, 403: Problem, 409: Problem})
async def sign_up(request: HttpRequest, data: Credentials) -> Status[UserOut]:
    if not settings.ALLOW_SIGNUP:
        raise HttpError(403, "Sign-up is closed")
    try:
        user = await services.user_create(username=data.username, password=data.password)
    except services.UsernameTakenError:
        raise HttpError(409, "That username is taken") from None
    return Status(201, UserOut.model_validate(user, from_attributes=True))


@users_router.get("/me", response=UserOut, auth=BearerToken())
async def read_me(request: HttpRequest) -> UserOut:
    user = await selectors.user_get(user_id=caller_id(request))
    if user is None:  # the token outlived its user
        raise HttpError(401, "The token's user no longer exists")
    return UserOut.model_validate(user, from_attributes=True)


def _credentials(request: HttpRequest) -> Credentials:
    """JSON for API clients, a form for OAuth2 password-flow clients such as /docs."""
    raw: Any
    content_type = (request.content_type or "").lower()
    if content_type == FORM:
        raw = request.POST.dict()  # every field: one not in the schema is a 422 too
    elif content_type == JSON:  # JsonBodyMiddleware refused other types and empty bodies
        try:
            raw = json.loads(request.body)
        except (ValueError, RecursionError):  # deep nesting exhausts the parser's stack
            raise HttpError(400, "The request body is not valid JSON") from None
    else:
        raise HttpError(415, "Send credentials as application/json or as a form")
    try:
        return Credentials.model_validate(raw)
    except PydanticValidationError as error:
        raise ValidationError(
            [{**detail, "loc": ("body", "data", *detail["loc"])} for detail in error.errors()]
        ) from None


@auth_router.post(
    "/token",
    response={200: Token, 401: Problem},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": Credentials.model_json_schema()},
                FORM: {"schema": Credentials.model_json_schema()},
            },
        }
    },
)
async def issue_token(request: HttpRequest) -> Token:
    credentials = _credentials(request)
    user = await selectors.user_authenticate(
        username=credentials.username, password=credentials.password
    )
    if user is None:
        raise HttpError(401, "Invalid username or password")
    return Token(access_token=create_access_token(user.pk), expires_in=settings.JWT_TTL_S)
