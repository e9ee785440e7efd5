from fastapi import APIRouter, Depends, HTTPException

from ..dependencies import (
    CurrentUserId,
    SessionDep,
    SettingsDep,
    require_json_body,
    unauthorized,
)
from ..errors import problem_responses
from ..routing import ParsedJsonRoute
from ..schemas import Credentials, UserOut
from ..services.users import UsernameTakenError, create_user, get_user

router = APIRouter(
    prefix="/users",
    tags=["users"],
    dependencies=[Depends(require_json_body)],
    route_class=ParsedJsonRoute,
)


@router.post("", status_code=201, responses=problem_responses(403, 409))
async def sign_up(credentials: Credentials, session: SessionDep, settings: SettingsDep) -> UserOut:
    if not settings.allow_signup:
        raise HTTPException(403, "Sign-up is closed")
    try:
        user = await create_user(
            session, username=credentials.username, password=credentials.password
        )
    except UsernameTakenError:
        raise HTTPException(409, "That username is taken") from None
    return UserOut.model_validate(user)


@router.get("/me")
async def read_me(user_id: CurrentUserId, session: SessionDep) -> UserOut:
    user = await get_user(session, user_id)
    if user is None:
        raise unauthorized("The token's user no longer exists")
    return UserOut.model_validate(user)
