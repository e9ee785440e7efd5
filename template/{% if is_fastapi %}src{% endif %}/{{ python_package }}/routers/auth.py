from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ..asgi import is_json_content_type
from ..dependencies import SessionDep, SettingsDep, unauthorized
from ..errors import problem_responses
from ..routing import ParsedJsonRoute
from ..schemas import Credentials, Token
from ..security import create_access_token
from ..services.users import authenticate

router = APIRouter(prefix="/auth", tags=["auth"], route_class=ParsedJsonRoute)

_FORM = "application/x-www-form-urlencoded"
_credentials_schema = Credentials.model_json_schema()


async def _read_credentials(request: Request) -> Credentials:
    """JSON for API clients, a form for OAuth2 password-flow clients such as /docs."""
    content_type = request.headers.get("content-type", "")
    raw: Any
    if content_type.split(";")[0].strip().lower() == _FORM:
        form = await request.form()
        raw = {key: form[key] for key in ("username", "password") if key in form}
    elif is_json_content_type(content_type):
        raw = await request.json()  # parsed and checked by the JsonBody layer
    else:
        raise HTTPException(415, "Send credentials as application/json or as a form")
    try:
        return Credentials.model_validate(raw)
    except ValidationError as error:
        errors = [
            {**detail, "loc": ("body", *detail["loc"])}
            for detail in error.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


@router.post(
    "/token",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _credentials_schema},
                _FORM: {"schema": _credentials_schema},
            },
        }
    },
    responses=problem_responses(401),
)
async def issue_token(request: Request, session: SessionDep, settings: SettingsDep) -> Token:
    credentials = await _read_credentials(request)
    user = await authenticate(session, username=credentials.username, password=credentials.password)
    if user is None:
        raise unauthorized("Invalid username or password")
    return Token(access_token=create_access_token(user.id, settings), expires_in=settings.jwt_ttl_s)
