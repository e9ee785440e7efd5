from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import User
from ..security import hash_password, verify_password


class UsernameTakenError(Exception):
    pass


async def create_user(session: AsyncSession, *, username: str, password: str) -> User:
    user = User(username=username, password_hash=await hash_password(password))
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as error:  # the unique index decides, even under races
        await session.rollback()
        raise UsernameTakenError(username) from error
    return user


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def authenticate(session: AsyncSession, *, username: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(User.username == username))
    if await verify_password(password, user.password_hash if user else None):
        return user
    return None
