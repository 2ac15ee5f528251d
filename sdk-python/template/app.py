"""A starting point for a Sandcron executor in Python.

The host calls ``run`` once per execution, in a fresh instance. Everything the executor
needs arrives in the ``Execution``: the job's name, its ``executor_config`` (all strings,
as in Dkron), its environment, and the time left before the host stops it. ``run``
returns to succeed, or raises a ``sandcron.Failure`` whose text is shown to the user.

Build:  sandcron executor build   (componentize-py; docs/sdk.md in the Sandcron repository)
Try it: sandcron exec executor.wasm --config greeting=hi
"""

from dataclasses import dataclass
from typing import Optional

import sandcron_sdk as sandcron
from sandcron_sdk import Execution, http, output, secrets

MAX_REPEAT = 100
"""The most lines one execution may write."""


@dataclass
class Config:
    """The ``executor_config`` this executor reads. Each field is a key; a missing required
    key or a value that does not parse fails the execution with ``InvalidConfig`` naming the
    key (``greeting: is required``, ``repeat: "two" is not a whole number``)."""

    greeting: str
    """What to say. Required."""
    repeat: int = 1
    """How many times to say it."""
    url: Optional[str] = None
    """A URL to fetch after greeting. The host sends the request only if the job's grants
    allow the host (``http``); otherwise the execution fails as denied."""
    secret: Optional[str] = None
    """The name of a secret to read (granted to the job); its length is printed."""


def run(execution: Execution) -> None:
    # Typed config: the SDK parses each value and names the key on errors.
    config = execution.config(Config)

    # Checks the dataclass cannot express are yours; raise InvalidConfig naming the key.
    if not config.greeting.strip():
        raise sandcron.invalid_config("greeting", "is empty")
    if not 1 <= config.repeat <= MAX_REPEAT:
        raise sandcron.invalid_config("repeat", f"{config.repeat} is not between 1 and {MAX_REPEAT}")

    # Output: output.print / output.eprint (print() works too).
    output.eprint(f"{execution.execution_id} (attempt {execution.attempt}), "
                  f"{execution.time_left_ms} ms left\n")
    for i in range(1, config.repeat + 1):
        output.print(f"{config.greeting} from {execution.job_name} ({i}/{config.repeat})\n")

    # Capabilities: a secret the job was granted; a denied one raises Denied naming it.
    if config.secret:
        value = secrets.get(config.secret)
        output.print(f"secret {config.secret}: {len(value)} characters\n")

    # An HTTP request goes through the host, which checks it against the grants; a denied
    # one raises Denied naming the URL, and the execution fails with that reason.
    if config.url:
        response = http.get(config.url, timeout=10)
        output.print(f"GET {config.url}: {response.status}\n")


# The component's export: componentize-py looks for a class named WitWorld in this module.
WitWorld = sandcron.export(run)
