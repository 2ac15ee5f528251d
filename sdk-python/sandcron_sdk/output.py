"""The execution's output, through the world's ``output`` interface.

Everything written here is kept with the execution (its tail, up to the host's cap) and
streamed live to anyone following it. Writes return at once. ``print()`` works too: the
host routes the component's standard output and error into the same output.
"""

from wit_world.imports import output as _wit


def print(text: str) -> None:  # noqa: A001 (the module is used as ``output.print``)
    """Appends ``text`` to the output as regular output. Add the ``\\n`` yourself."""
    write(text.encode(), stderr=False)


def eprint(text: str) -> None:
    """Appends ``text`` to the output as a diagnostic. Add the ``\\n`` yourself."""
    write(text.encode(), stderr=True)


def write(chunk: bytes, stderr: bool = False) -> None:
    """Appends raw bytes to the output, on stderr when ``stderr`` is true."""
    if chunk:
        channel = _wit.Channel.STDERR if stderr else _wit.Channel.STDOUT
        _wit.write(channel, bytes(chunk))
