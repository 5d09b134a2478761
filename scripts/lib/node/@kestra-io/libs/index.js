'use strict';
/*
 * runnerd's dependency-free stand-in for Kestra's `@kestra-io/libs` package.
 *
 * runnerd puts the parent `node` directory on NODE_PATH, so scripts written
 * for Kestra work unchanged on hosts that cannot `npm install`:
 *
 *   const Kestra = require('@kestra-io/libs');      // default export
 *   const { Kestra } = require('@kestra-io/libs');  // named export
 *
 * Every call writes one line of Kestra's protocol, `::` + JSON object + `::`:
 *   ::{"outputs":{"key":"value"}}::
 *   ::{"metrics":[{"name":"rows","type":"counter","value":3,"tags":{}}]}::
 *   ::{"logs":[{"level":"INFO","message":"hi"}]}::
 */

const util = require('util');

// JSON.stringify escapes control characters but leaves U+0085 (NEL),
// U+2028 and U+2029 raw; some line readers treat them as line breaks, which
// would cut a protocol line in two. Write them as \uXXXX escapes.
const LINE_BREAKERS = /[\u0085\u2028\u2029]/g;

function escapeLineBreaker(ch) {
  return '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');
}

/** Kestra is a function object, like Kestra's own export. */
function Kestra() {}

/** Returns '::' + JSON + '::' as a single line. */
Kestra.format = function format(map) {
  return '::' + JSON.stringify(map).replace(LINE_BREAKERS, escapeLineBreaker) + '::';
};

/* Writes to stdout/stderr go through console (synchronous for files and, on
 * POSIX, for pipes), so every line is written before the next statement runs
 * and survives an immediate process.exit(). */
Kestra._send = function _send(map) {
  console.log(Kestra.format(map));
};

Kestra._metrics = function _metrics(name, type, value, tags) {
  Kestra._send({ metrics: [{ name: name, type: type, value: value, tags: tags || {} }] });
};

/** Sets task outputs (an object; Kestra merges it key by key). */
Kestra.outputs = function outputs(outputs) {
  Kestra._send({ outputs: outputs });
};

/** Emits assets (lineage) information. */
Kestra.assets = function assets(assets) {
  Kestra._send({ assets: assets });
};

/** Counter metric: values with the same name and tags are added up. */
Kestra.counter = function counter(name, value, tags) {
  Kestra._metrics(name, 'counter', value, tags);
};

/** Gauge metric: the last value wins. */
Kestra.gauge = function gauge(name, value, tags) {
  Kestra._metrics(name, 'gauge', value, tags);
};

/**
 * Timer metric in seconds. `duration` is a number of seconds, or a function
 * called with a `done` callback: the metric (elapsed milliseconds / 1000) is
 * sent when `done()` is called.
 */
Kestra.timer = function timer(name, duration, tags) {
  if (typeof duration === 'function') {
    const start = Date.now();
    duration(function done() {
      Kestra._metrics(name, 'timer', (Date.now() - start) / 1000, tags);
    });
  } else {
    Kestra._metrics(name, 'timer', duration, tags);
  }
};

// Kestra reads a log message as a string: an object or array message would
// make the whole line unreadable (it would be dropped), so non-strings are
// rendered as console.log would render them.
function messageText(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error && value.stack) return value.stack;
  return util.inspect(value, { breakLength: Infinity });
}

function logLine(level, args) {
  return Kestra.format({
    logs: Array.prototype.map.call(args, function (value) {
      return { level: level, message: messageText(value) };
    }),
  });
}

/**
 * Returns a logger. Each call writes one line holding one log entry per
 * argument: trace, warn and error on stderr, debug and info on stdout (the
 * streams of the console methods Kestra's library uses).
 */
Kestra.logger = function logger() {
  return {
    // Kestra's library uses console.trace, which prefixes the line with
    // "Trace: " and appends a stack trace, so Kestra never recognises the
    // line as protocol. Write the bare line to stderr instead.
    trace: function trace() {
      console.error(logLine('TRACE', arguments));
    },
    debug: function debug() {
      console.debug(logLine('DEBUG', arguments));
    },
    info: function info() {
      console.info(logLine('INFO', arguments));
    },
    warn: function warn() {
      console.warn(logLine('WARN', arguments));
    },
    error: function error() {
      console.error(logLine('ERROR', arguments));
    },
  };
};

Kestra.Kestra = Kestra;
Kestra.default = Kestra;

module.exports = Kestra;
