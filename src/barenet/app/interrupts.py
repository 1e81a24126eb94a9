"""Ctrl-C in the ``barenet`` command, from its first instant (``barenet.app.entry``).

Two quirks of CPython are met here:

- a compiled module that runs Python code while it is imported may catch the KeyboardInterrupt
  and carry on, so the interrupt is lost. The handler installed by the command counts
  interrupts, and ``raise_if_interrupted`` raises again where the command passes a checkpoint
  (after the imports, after the command line is read, after the data set is loaded). Once the
  data set is loaded, ``raise_if_interrupted(hand_over=True)`` gives Ctrl-C back to Python's own
  handler, so that the training loop's "stop after this batch" takes over;
- an interrupt raised in a callback that Python calls on its own (a weak reference's, say) is
  not raised but printed as "Exception ignored in ...", a traceback; such interrupts are counted
  and raised at the next checkpoint, and not printed;
- CPython remembers such an interrupt even when it was caught, and would end the process by
  SIGINT instead of with the exit code asked for (``forget_caught_interrupts``).
"""
import signal
import sys

BEFORE_START = "interrupted before anything started"  # what a Ctrl-C before the command starts says
_interrupts = 0


def install() -> None:
    """Count Ctrl-C from now on (unless SIGINT is ignored, as under nohup: then it stays so)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_interrupt)
        sys.unraisablehook = _unraisable


def _unraisable(unraisable):
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return  # counted by on_interrupt, raised at the next checkpoint
    sys.__unraisablehook__(unraisable)


def on_interrupt(signum, frame):
    """Count a Ctrl-C, then interrupt as Python's own handler does: the command's SIGINT handler."""
    global _interrupts
    _interrupts += 1
    raise KeyboardInterrupt


def interrupted() -> bool:
    """Return whether Ctrl-C was pressed since ``install``."""
    return _interrupts > 0


def raise_if_interrupted(hand_over: bool = False) -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed and something swallowed it.

    Had the interrupt been handled, the command would have ended: still running means it was lost.
    ``hand_over``: afterwards, Ctrl-C goes to Python's own handler again.
    """
    if hand_over and signal.getsignal(signal.SIGINT) is on_interrupt:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if _interrupts:
        raise KeyboardInterrupt


def forget_caught_interrupts() -> None:
    """Let a caught Ctrl-C end the process with our exit code.

    CPython remembers a KeyboardInterrupt that was raised while C code ran Python source (as
    compiled extension modules do while they are imported), even when it was caught later, and
    then ends the process by SIGINT instead of with the exit code asked for. Running any source
    through that same C function starts it with a clean memory.
    """
    try:
        import ctypes
        ctypes.pythonapi.PyRun_SimpleString(b"pass")
    except (ImportError, AttributeError, OSError):  # not CPython: nothing to forget
        pass
