// Typed `executor_config`: read the job's string map by a schema.
//
// As in Dkron every config value is a string. `parse(schema, pairs)` reads each key the
// schema names as its `type` asks: `string` as it is, `bool` as Go's strconv.ParseBool
// does (true, 1, t, false, 0, f, ...), `int` and `number` parsed from the text, `duration`
// as a Go duration (30s, 1h30m) in milliseconds, `size` as a byte size (512M) in bytes,
// `list` as a comma list of strings, `enum` as one of `values`. A key is optional unless
// `required: true`; an absent optional key takes `default` (or is left undefined). Keys the
// schema does not name are ignored, since Dkron configs carry keys for other executors.
//
// Every error is an `InvalidConfig` naming the key: `command: is required`,
// `repeat: "two" is not a whole number`.
import { invalidConfig } from './failure.js';

/**
 * Reads `pairs` (the execution's `executorConfig`, `[key, value]` pairs) by `schema`, an
 * object of key to `{ type, required, default, values }`. Returns an object of key to
 * value; throws `InvalidConfig` naming the key that is missing or wrong.
 */
export function parse(schema, pairs) {
  const values = new Map(pairs);
  const config = {};
  for (const [key, spec] of Object.entries(schema)) {
    if (!values.has(key)) {
      if (spec.required) throw invalidConfig(key, 'is required');
      if ('default' in spec) config[key] = spec.default;
      continue;
    }
    try {
      config[key] = parseValue(spec, values.get(key));
    } catch (error) {
      if (error instanceof ValueError) throw invalidConfig(key, error.message);
      throw error;
    }
  }
  return config;
}

/** A text that is not what a key asks for; the message says what it is not. */
export class ValueError extends Error {}

const quote = (text) => JSON.stringify(text);

/** Reads one value by its spec (`{ type, values }`). */
export function parseValue(spec, text) {
  switch (spec.type ?? 'string') {
    case 'string':
      return text;
    case 'bool':
      return parseBool(text);
    case 'int': {
      const trimmed = text.trim();
      if (!/^[+-]?\d+$/.test(trimmed)) throw new ValueError(`${quote(text)} is not a whole number`);
      return Number(trimmed);
    }
    case 'number': {
      const value = Number(text.trim());
      if (text.trim() === '' || Number.isNaN(value)) throw new ValueError(`${quote(text)} is not a number`);
      return value;
    }
    case 'duration':
      return parseDuration(text);
    case 'size':
      return parseSize(text);
    case 'list':
      return text.split(',').map((part) => part.trim()).filter((part) => part !== '');
    case 'enum':
      if (!spec.values.includes(text)) {
        throw new ValueError(`${quote(text)} is not one of ${spec.values.join(', ')}`);
      }
      return text;
    default:
      throw new TypeError(`config type ${quote(spec.type)} is not supported`);
  }
}

/** Reads a boolean as Go's `strconv.ParseBool` does. */
export function parseBool(text) {
  const value = text.trim();
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new ValueError(`${quote(text)} is not a boolean (true or false)`);
}

const DURATION_UNITS = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };

/**
 * Reads a duration in Go's `time.ParseDuration` grammar (`300ms`, `1.5h`, `2h45m`) into
 * milliseconds. Negative durations and numbers without a unit are errors.
 */
export function parseDuration(text) {
  const fail = (reason) => new ValueError(`${quote(text)} is not a duration: ${reason}`);
  let rest = text;
  if (rest.startsWith('-')) {
    if (parseDuration(rest.slice(1)) === 0) return 0;
    throw fail('it is negative');
  }
  if (rest.startsWith('+')) rest = rest.slice(1);
  if (rest === '0') return 0;
  if (rest === '') throw fail('it is empty (write one like 30s, 5m or 1h30m)');
  let millis = 0;
  const part = /^(\d*)(?:\.(\d*))?([^\d.]*)/;
  while (rest !== '') {
    const [whole, integer, fraction = '', unit] = part.exec(rest);
    if (integer === '' && fraction === '') throw fail('expected a number followed by a unit, like 30s, 5m or 1h30m');
    if (unit === '') throw fail('a number needs a unit: ns, us, ms, s, m or h');
    if (!(unit in DURATION_UNITS)) throw fail(`unknown unit ${quote(unit)} (use ns, us, ms, s, m or h)`);
    millis += Number(`${integer || '0'}.${fraction || '0'}`) * DURATION_UNITS[unit];
    rest = rest.slice(whole.length);
  }
  if (millis > 9223372036854.775) throw fail('it is longer than 292 years');
  return millis;
}

const SIZE_UNITS = [
  ['KIB', 2 ** 10], ['MIB', 2 ** 20], ['GIB', 2 ** 30], ['TIB', 2 ** 40],
  ['KB', 2 ** 10], ['MB', 2 ** 20], ['GB', 2 ** 30], ['TB', 2 ** 40],
  ['K', 2 ** 10], ['M', 2 ** 20], ['G', 2 ** 30], ['T', 2 ** 40], ['B', 1],
];

/** Reads a byte size (`512M`, `1GB`, `1048576`; 1024-based units in any case) into bytes. */
export function parseSize(text) {
  const upper = text.trim().toUpperCase();
  if (upper === '') throw new ValueError(`${quote(text)} is not a size: it is empty (write one like 512M or 1G)`);
  let number = upper;
  let multiplier = 1;
  for (const [suffix, scale] of SIZE_UNITS) {
    if (upper.endsWith(suffix)) {
      number = upper.slice(0, -suffix.length).trimEnd();
      multiplier = scale;
      break;
    }
  }
  if (!/^\d*(\.\d*)?$/.test(number) || number === '' || number === '.') {
    throw new ValueError(`${quote(text)} is not a size: expected a number of bytes, optionally followed by B, K, M, G or T`);
  }
  return Math.floor(Number(number) * multiplier);
}
