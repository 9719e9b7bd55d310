"""The one-line root cause of a failed run, and the stage it failed in, for the operator's stderr.

Why this exists: an error raised in a Python worker reaches the driver wrapped (PythonException, a SparkException
"Job aborted ...", a Py4JJavaError) with the real `ValueError: ...` line at the end of a worker traceback, and a
JVM error carries its cause several `getCause()` levels down under hundreds of stack lines; the first line of
`str(exc)` says neither. The full traceback still goes to the log (cli.main logs it).

No pyspark import: the exceptions are read through the attributes py4j and pyspark set (`java_exception`,
`_origin`), and every JVM call is guarded, since the JVM may be gone when a run fails.
"""

from __future__ import annotations

import re

_STAGE_ATTR = "_skuplan_stage"
_TRACEBACK = "Traceback (most recent call last):"
# The exception line ending a Python traceback: `ValueError: msg`, `skuplan.faults.InjectedFault: msg`, `KeyError`.
# The class must be capitalised so that a lower-case continuation line of a multi-line message is not taken.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:: .*)?$")
MAX_CHARS = 600  # one readable line, even when a message embeds a whole plan or path list
_MAX_DEPTH = 30  # cause chains are short; a cycle must not loop forever


def tag_stage(exc: BaseException, stage: str) -> None:
    """Record on the exception the pipeline stage it escaped from (the innermost stage wins)."""
    if getattr(exc, _STAGE_ATTR, None) is None:
        try:
            setattr(exc, _STAGE_ATTR, stage)
        except (AttributeError, TypeError):  # an exception type with __slots__: the stage is then unnamed
            return
        exc.add_note(f"skuplan stage: {stage}")  # shows in the logged traceback as well


def failed_stage(exc: BaseException) -> str | None:
    return getattr(exc, _STAGE_ATTR, None)


def root_cause(exc: BaseException) -> str:
    """`Class: message` of what really went wrong, on one line.

    - an error in a Python worker: the last exception line of the worker's traceback;
    - a JVM error (Py4JJavaError, AnalysisException and other captured exceptions): the innermost Java cause's
      class and message (Delta's "cannot create log path" is less useful than "Parent path is not a directory");
    - anything else: the exception's own class and the first line of its message.
    """
    chain = _python_chain(exc)
    java = [t for e in chain for t in _java_chain(e)]
    texts = [str(e) for e in chain] + [_java_message(t) for t in java]
    for text in texts:
        line = worker_error_line(text)
        if line:
            return _one_line(line)
    for throwable in reversed(java):  # innermost first; a cause without a message says too little
        message = _java_message(throwable)
        if message.strip():
            return _one_line(f"{_java_class(throwable)}: {_first_line(message)}")
    return _one_line(f"{type(exc).__name__}: {_first_line(str(exc))}".rstrip(": "))


def worker_error_line(text: str) -> str | None:
    """The last exception line of the last Python traceback in `text` (None when there is none)."""
    start = text.rfind(_TRACEBACK)
    if start < 0:
        return None
    found = None
    for line in text[start + len(_TRACEBACK):].splitlines():
        if line.startswith("\tat ") or line.startswith("JVM stacktrace"):  # the Java part after the traceback
            break
        if _EXCEPTION_LINE.match(line.rstrip()):
            found = line.rstrip()
    return found


def _python_chain(exc: BaseException) -> list[BaseException]:
    """exc and its explicit causes (`raise ... from`), outermost first."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < _MAX_DEPTH:
        out.append(cur)
        cur = cur.__cause__
    return out


def _java_chain(exc: BaseException) -> list[object]:
    """The Java throwable behind a py4j / pyspark exception and its causes, outermost first."""
    throwable = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    out: list[object] = []
    try:
        while throwable is not None and len(out) < _MAX_DEPTH:
            out.append(throwable)
            throwable = throwable.getCause()
    except Exception:  # the JVM may be gone; what was collected is still useful
        pass
    return out


def _java_message(throwable: object) -> str:
    try:
        return str(throwable.getMessage() or "")
    except Exception:  # a dead gateway: no message rather than a second error
        return ""


def _java_class(throwable: object) -> str:
    try:
        return str(throwable.getClass().getSimpleName())
    except Exception:
        return "JavaException"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
