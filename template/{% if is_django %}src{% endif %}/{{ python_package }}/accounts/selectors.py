"""Reads (HackSoft style: selectors read, services change state)."""

from asgiref.sync import sync_to_async
from django.contrib.auth.hashers import make_password

from .models import User


async def user_get(*, user_id: int) -> User | None:
    return await User.objects.filter(id=user_id).afirst()


async def user_exists(*, user_id: int) -> bool:
    return await User.objects.filter(id=user_id).aexists()


async def user_authenticate(*, username: str, password: str) -> User | None:
    user = await User.objects.filter(username=username).afirst()
    if user is None:
        # Hash anyway, as Django's ModelBackend does: timing does not tell unknown names apart.
        await sync_to_async(make_password)(password)
        return None
    return user if await user.acheck_password(password) else None
