"""Writes (HackSoft style: services change state, selectors read it)."""

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction

from .models import User


class UsernameTakenError(Exception):
    pass


async def user_create(*, username: str, password: str) -> User:
    user = User(username=username)
    await sync_to_async(user.set_password)(password)  # argon2, off the event loop
    try:
        await _save_atomically(user)
    except IntegrityError as error:  # the unique index decides, even under races
        raise UsernameTakenError(username) from error
    return user


@sync_to_async
def _save_atomically(user: User) -> None:
    # In a transaction: a sign-up whose request failed is never committed behind its back.
    with transaction.atomic():
        user.save()
