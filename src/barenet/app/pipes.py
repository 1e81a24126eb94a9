"""Output that outlives its reader: ``barenet train | head -3`` must not lose the run.

When the program reading barenet's output exits (``head`` after three lines, a closed terminal),
the next write raises BrokenPipeError. ``survive_closed_pipes()`` wraps standard output and error
so that the first write that meets a closed pipe points the stream at the null device instead:
the command goes on (training trains and saves, as it would have), saying nothing more there, and
ends quietly, as ``ls | head`` does.
"""
from __future__ import annotations

import os
import sys

__all__ = ["survive_closed_pipes", "Survivor"]


class Survivor:
    """A text stream that turns a closed pipe into silence (see the module).

    Parameters
    ----------
    stream : file
        The stream it writes to (standard output or error).
    """

    def __init__(self, stream):
        self._stream = stream
        self.reader_gone = False

    def _silence(self):
        self.reader_gone = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())  # what is still buffered drains into it too
            os.close(null)
        except (OSError, ValueError, AttributeError):  # no descriptor (a test's StringIO): just stop
            pass

    def write(self, text):
        """Write ``text``, or nothing once the reader is gone; return its length either way."""
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self):
        """Flush the stream; a closed pipe silences it."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def survive_closed_pipes() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` (once) for the rest of this command."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, Survivor):
            setattr(sys, name, Survivor(stream))
