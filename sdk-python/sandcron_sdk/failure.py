"""Why an execution failed: exceptions whose text is shown to the user as the reason.

Raise one from ``run`` (or let one raised by a capability helper pass through) and the
execution fails with that kind and text. Each kind is a variant of the world's ``failure``:

* :class:`InvalidConfig`: the ``executor_config`` is wrong; the text names the key
  (``greeting: is required``). Build one with :func:`invalid_config`.
* :class:`Denied`: a capability refused a call; the text names the capability and target.
* :class:`Failed`: the work ran and did not succeed.
* :class:`Unavailable`: the work could not be done now; a retry may succeed.

Any other exception escaping ``run`` fails the execution as ``Failed`` with the
exception's type and text, its traceback written to the output's stderr.
"""


class Failure(Exception):
    """Base of the four failure kinds. ``kind`` is the WIT name, ``message`` the text."""

    kind = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidConfig(Failure):
    """The ``executor_config`` is wrong. The text names the key: ``key: problem``."""

    kind = "invalid-config"


class Denied(Failure):
    """A capability refused a call; the text names the capability and the target."""

    kind = "denied"


class Failed(Failure):
    """The work ran and did not succeed (a non-zero exit, an unexpected status...)."""

    kind = "failed"


class Unavailable(Failure):
    """The work could not be done now (a peer is down); a retry may succeed."""

    kind = "unavailable"


def invalid_config(key: str, problem: str) -> InvalidConfig:
    """An :class:`InvalidConfig` about ``key``, reading ``key: problem``."""
    return InvalidConfig(f"{key}: {problem}")
