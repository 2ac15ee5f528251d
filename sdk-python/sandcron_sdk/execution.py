"""One execution of a job, as the host hands it to ``run``."""

import time
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Sequence, Tuple, Type, TypeVar

from . import config as _config
from . import output

T = TypeVar("T")


class Execution:
    """What the host tells the executor about this execution.

    Attributes: ``job_name``, ``execution_id`` (unique across the cluster; use it as an
    idempotency key), ``attempt`` (1 for the first), ``scheduled_at_ms``,
    ``time_left_ms`` (before the host ends the execution), ``executor_config`` and
    ``environment`` (the job's pairs, in order).
    """

    def __init__(self, wit_execution) -> None:
        self.job_name: str = wit_execution.job_name
        self.execution_id: str = wit_execution.execution_id
        self.attempt: int = wit_execution.attempt
        self.scheduled_at_ms: int = wit_execution.scheduled_at_ms
        self.time_left_ms: int = wit_execution.time_left_ms
        self.executor_config: List[Tuple[str, str]] = list(wit_execution.executor_config)
        self.environment: List[Tuple[str, str]] = list(wit_execution.environment)
        self._started = time.monotonic()

    def config(self, cls: Type[T]) -> T:
        """The ``executor_config`` read into the dataclass ``cls``; raises
        :class:`~sandcron_sdk.InvalidConfig` naming the key. See :mod:`sandcron_sdk.config`."""
        return _config.parse(cls, self.executor_config)

    def config_value(self, key: str) -> Optional[str]:
        """The raw value of one ``executor_config`` key."""
        return _lookup(self.executor_config, key)

    def env(self, name: str) -> Optional[str]:
        """The value of one of the job's environment variables (data for the executor: the
        host's own environment is never shown)."""
        return _lookup(self.environment, name)

    @property
    def time_left(self) -> timedelta:
        """The time left before the host ends this execution, counting down from the call."""
        elapsed = time.monotonic() - self._started
        return max(timedelta(milliseconds=self.time_left_ms) - timedelta(seconds=elapsed),
                   timedelta(0))

    @property
    def scheduled_at(self) -> datetime:
        """The instant this execution was scheduled for, in UTC."""
        return datetime.fromtimestamp(self.scheduled_at_ms / 1000, tz=timezone.utc)

    def print_config(self, secret_keys: Sequence[str] = ()) -> None:
        """Writes the ``executor_config`` to the output, one ``key: value`` line each, the
        values of ``secret_keys`` shown as ``***``: what Dkron's ``debug`` key prints."""
        lines = ["debug: config:\n"]
        for key, value in self.executor_config:
            shown = "***" if key in secret_keys and value else value
            lines.append(f"  {key}: {shown}\n")
        output.print("".join(lines))


def _lookup(pairs: Sequence[Tuple[str, str]], key: str) -> Optional[str]:
    return next((value for name, value in pairs if name == key), None)
