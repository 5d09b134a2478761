"""Minimal, dependency-free stand-in for Kestra's ``kestra`` Python package.

runnerd puts this directory on PYTHONPATH so that scripts written for Kestra
(``from kestra import Kestra``) run on hosts that cannot ``pip install kestra``.

Everything is reported to the agent with Kestra's line protocol: one line per
call, exactly ``::`` + a JSON object + ``::``, e.g.::

    ::{"outputs": {"key": "value"}}::
    ::{"metrics": [{"name": "rows", "type": "counter", "value": 3, "tags": {}}]}::
    ::{"logs": [{"level": "INFO", "message": "2024-01-01T00:00:00.000Z - hi"}]}::

Only the standard library is used and the code runs on Python 3.8+.
Not provided: ``Kestra.read`` (Amazon Ion files), ``Flow`` (REST API client)
and ``context``; they need third-party packages or network access.
"""

import json
import logging
import sys
import time
from datetime import datetime, timezone

__all__ = ["Kestra"]

# Python logging level -> Kestra (slf4j) level name. Any other level number,
# e.g. a custom TRACE level (5) or NOTSET, is reported as TRACE, as Kestra's
# own library does.
_LEVEL_NAMES = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "ERROR",
}


def _emit_line(line, stream_name):
    """Write one protocol line to sys.<stream_name> and flush it at once, so
    nothing is lost if the process ends abruptly (os._exit, kill)."""
    stream = getattr(sys, stream_name)
    stream.write(line + "\n")
    stream.flush()


class _ProtocolFormatter(logging.Formatter):
    """Formats a record as ``::{"logs":[{"level": L, "message": M}]}::`` where
    M is ``<UTC timestamp with milliseconds>Z - <message>`` (plus the
    traceback when the record carries one; json.dumps keeps it on one line)."""

    def __init__(self):
        logging.Formatter.__init__(self, "%(asctime)s - %(message)s")

    def formatTime(self, record, datefmt=None):
        when = datetime.fromtimestamp(record.created, timezone.utc)
        return "%s.%03dZ" % (when.strftime("%Y-%m-%dT%H:%M:%S"), when.microsecond // 1000)

    def format(self, record):
        message = logging.Formatter.format(self, record)
        level = _LEVEL_NAMES.get(record.levelno, "TRACE")
        return Kestra.format({"logs": [{"level": level, "message": message}]})


class _ProtocolHandler(logging.Handler):
    """Sends records below WARNING to stdout and WARNING and above to stderr.

    The stream is looked up on every record (sys.stdout / sys.stderr), so a
    script that replaces them later still gets the lines where it expects.
    """

    def emit(self, record):
        try:
            line = self.format(record)
            _emit_line(line, "stderr" if record.levelno >= logging.WARNING else "stdout")
        except Exception:  # pragma: no cover - same policy as StreamHandler
            self.handleError(record)


class Kestra(object):
    """Report outputs, metrics, assets and logs to Kestra.

    Example::

        from kestra import Kestra
        Kestra.outputs({"rows": 3})
        Kestra.counter("rows", 3, {"file": "a.csv"})
        Kestra.logger().info("done")
    """

    _logger = None

    @staticmethod
    def format(map_):
        """Return ``::`` + json.dumps(map_) + ``::``.

        json.dumps with its defaults escapes every non-ASCII character
        (ensure_ascii=True) and every control character, so the result is a
        single line whatever the values contain (U+2028 and U+0085 included).
        """
        return "::" + json.dumps(map_) + "::"

    @staticmethod
    def _send(map_):
        _emit_line(Kestra.format(map_), "stdout")

    @staticmethod
    def _metric(name, type_, value, tags):
        Kestra._send(
            {"metrics": [{"name": name, "type": type_, "value": value, "tags": tags or {}}]}
        )

    @staticmethod
    def outputs(map_):
        """Set task outputs (a dict; merged key by key by Kestra)."""
        Kestra._send({"outputs": map_})

    @staticmethod
    def assets(map_):
        """Emit assets (lineage) information."""
        Kestra._send({"assets": map_})

    @staticmethod
    def counter(name, value, tags=None):
        """Counter metric: values with the same name and tags are added up."""
        Kestra._metric(name, "counter", value, tags)

    @staticmethod
    def gauge(name, value, tags=None):
        """Gauge metric: the last value wins."""
        Kestra._metric(name, "gauge", value, tags)

    @staticmethod
    def timer(name, duration, tags=None):
        """Timer metric in seconds.

        ``duration`` is either a number of seconds or a callable taking no
        argument; the callable is run and the elapsed wall time, in seconds,
        is reported.

        Kestra's own library reports, for a callable,
        ``(now.microsecond - start.microsecond) / 1000``: a difference of the
        microsecond *fields* of two datetimes, which ignores whole seconds and
        can be negative. This implementation reports the real elapsed seconds
        (time.perf_counter difference) instead.
        """
        if callable(duration):
            start = time.perf_counter()
            duration()
            elapsed = time.perf_counter() - start
            Kestra._metric(name, "timer", elapsed, tags)
        else:
            Kestra._metric(name, "timer", duration, tags)

    @staticmethod
    def logger():
        """Return the ``logging.Logger`` named "Kestra" (level DEBUG).

        Each record becomes one ``::{"logs": [...]}::`` line: DEBUG, INFO and
        other levels below WARNING on stdout, WARNING and above on stderr.

        Differences from Kestra's library, which only affect odd setups:
        levels strictly between INFO and WARNING (custom levels 21-29) are
        written to stdout instead of being dropped, and the logger does not
        propagate to the root logger, so a ``logging.basicConfig()`` in the
        script does not print each record a second time as plain text on
        stderr (which Kestra would log as an ERROR line).
        """
        if Kestra._logger is not None:
            return Kestra._logger
        logger = logging.getLogger("Kestra")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        # A reloaded module must not add a second handler (duplicate lines).
        for handler in list(logger.handlers):
            if getattr(handler, "kestra_protocol", False):
                logger.removeHandler(handler)
        handler = _ProtocolHandler(logging.NOTSET)
        handler.kestra_protocol = True
        handler.setFormatter(_ProtocolFormatter())
        logger.addHandler(handler)
        Kestra._logger = logger
        return logger
