"""Reading the secrets the execution was granted, through the world's ``secrets`` interface.

    password = secrets.get("db-password")
"""

from componentize_py_types import Err
from wit_world.imports import secrets as _wit

from .failure import Denied, InvalidConfig


def get(name: str) -> str:
    """The value of the secret called ``name``.

    A secret that was not granted raises :class:`Denied`, one that does not exist
    :class:`InvalidConfig`; both texts name the secret, so letting them pass through
    ``run`` gives the user a reason to act on.
    """
    try:
        return _wit.get(name)
    except Err as error:
        if isinstance(error.value, _wit.Error_Denied):
            raise Denied(error.value.value) from None
        raise InvalidConfig(error.value.value) from None
