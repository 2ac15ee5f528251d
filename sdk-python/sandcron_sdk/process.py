"""Running programs on the host machine, through the world's ``process`` interface.

The program must be on the allow-list the executor was granted, or :func:`run` raises
:class:`~sandcron_sdk.Denied` without starting anything. Its stdout and stderr go straight
into the execution's output as they arrive. Nothing of the host's environment is
inherited: ``env`` is the process's whole environment.

    status = process.run("pg_dump", ["--format=custom", "mydb"],
                         env={"PATH": "/usr/bin:/bin"}, timeout=600)
    if not status.success:
        raise Failed(f"pg_dump: {status}")
"""

import math
from dataclasses import dataclass
from typing import Dict, List, Optional

from componentize_py_types import Err
from wit_world.imports import process as _wit

from .failure import Denied, Failed


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended. ``code`` is set when it exited by itself, ``signal`` when a
    signal ended it; ``timed_out`` and ``memory_exceeded`` when Sandcron killed it."""

    code: Optional[int] = None
    signal: Optional[int] = None
    timed_out: bool = False
    memory_exceeded: bool = False

    @property
    def success(self) -> bool:
        """Whether the process exited by itself with code 0."""
        return self.code == 0

    def __str__(self) -> str:
        if self.code is not None:
            return f"exit status {self.code}"
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        return "timed out" if self.timed_out else "memory limit exceeded"


def run(
    program: str,
    args: Optional[List[str]] = None,
    *,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[str] = None,
    stdin: Optional[bytes] = None,
    timeout: Optional[float] = None,
    memory_limit: Optional[int] = None,
) -> ExitStatus:
    """Runs ``program`` (an absolute path, or a name the host looks up in its ``PATH``) to
    its end and reports how it ended.

    ``timeout`` is in seconds (rounded up to a millisecond), ``memory_limit`` in bytes of
    resident memory of the process group. A non-zero exit is an :class:`ExitStatus`, not an
    exception; a program that is not allowed raises :class:`~sandcron_sdk.Denied`, one
    that is missing or cannot start :class:`~sandcron_sdk.Failed`.
    """
    command = _wit.Command(
        program=program,
        args=list(args or []),
        env=list((env or {}).items()),
        cwd=cwd,
        stdin=stdin,
        timeout_ms=None if timeout is None else math.ceil(timeout * 1000),
        memory_limit_bytes=memory_limit,
    )
    try:
        status = _wit.run(command)
    except Err as error:
        if isinstance(error.value, _wit.Error_Denied):
            raise Denied(error.value.value) from None
        raise Failed(error.value.value) from None
    if isinstance(status, _wit.ExitStatus_Exited):
        return ExitStatus(code=status.value)
    if isinstance(status, _wit.ExitStatus_Signaled):
        return ExitStatus(signal=status.value)
    if isinstance(status, _wit.ExitStatus_TimedOut):
        return ExitStatus(timed_out=True)
    return ExitStatus(memory_exceeded=True)
