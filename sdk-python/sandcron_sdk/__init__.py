"""Write Sandcron executors in Python, as WebAssembly components built with componentize-py.

An executor is a function ``run(execution)`` that the host calls once per execution, in a
fresh instance. It returns ``None`` when the work succeeded, or raises a
:class:`Failure` (``InvalidConfig``, ``Denied``, ``Failed``, ``Unavailable``) whose text
is shown to the user. It reaches the world only through the capabilities the host grants:
:mod:`~sandcron_sdk.output`, :mod:`~sandcron_sdk.http`, :mod:`~sandcron_sdk.process` and
:mod:`~sandcron_sdk.secrets`.

    import sandcron_sdk as sandcron

    def run(execution: sandcron.Execution) -> None:
        sandcron.output.print(f"hello from {execution.job_name}\\n")

    WitWorld = sandcron.export(run)

componentize-py looks for the class ``WitWorld`` in the app module: :func:`export` makes
it from your function.
"""

import traceback
from typing import Callable

import wit_world
from componentize_py_types import Err
from wit_world.imports import sandcron_executor_types as _types

from . import config, http, output, process, secrets
from .config import Size
from .execution import Execution
from .failure import Denied, Failed, Failure, InvalidConfig, Unavailable, invalid_config

__version__ = "0.1.0"

_WIT_FAILURES = {
    "invalid-config": _types.Failure_InvalidConfig,
    "denied": _types.Failure_Denied,
    "failed": _types.Failure_Failed,
    "unavailable": _types.Failure_Unavailable,
}


def export(run: Callable[[Execution], None]) -> type:
    """The component's export, made from ``run``: assign it to ``WitWorld`` in the app
    module. A :class:`Failure` raised by ``run`` fails the execution with its kind and
    text; any other exception fails it as ``Failed`` naming the exception, with the
    traceback written to the output's stderr."""

    class WitWorld(wit_world.WitWorld):
        def run(self, execution: _types.Execution) -> None:
            try:
                run(Execution(execution))
            except Failure as failure:
                raise Err(_WIT_FAILURES[failure.kind](failure.message)) from None
            except Exception as error:  # noqa: BLE001 (every ending becomes a failure)
                output.eprint(traceback.format_exc())
                text = f"unhandled {type(error).__name__}: {error}"
                raise Err(_types.Failure_Failed(text)) from None

    return WitWorld


__all__ = [
    "Denied", "Execution", "Failed", "Failure", "InvalidConfig", "Size", "Unavailable",
    "config", "export", "http", "invalid_config", "output", "process", "secrets",
]
