// A small blocking HTTP client over `wasi:http/outgoing-handler`.
//
// The host checks every request against the hosts the executor was granted before any
// connection is made. Errors are thrown as the failure they mean, each text starting with
// `http:` (the capability): a refused request is `Denied` (`http: request to URL denied:
// not in the allowed hosts`), a connection refused or a timeout `Unavailable`, a bad URL or
// a broken answer `Failed`. Responses are read whole into memory.
//
// (StarlingMonkey's `fetch` works too, through the same checks, but its errors do not say
// that a request was denied.)
import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import {
  Fields, IncomingBody, OutgoingBody, OutgoingRequest, RequestOptions, httpErrorCode,
} from 'wasi:http/types@0.2.12';
import { now, subscribeInstant } from 'wasi:clocks/monotonic-clock@0.2.12';
import { poll } from 'wasi:io/poll@0.2.12';
import { Denied, Failed, Failure, Unavailable } from './failure.js';
import { errorPayload } from './wit.js';

const READ_CHUNK = 64n * 1024n;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A response read to its end: `status`, `headers` (`[name, value]` pairs), `body` bytes. */
export class Response {
  constructor(status, headers, body) {
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  /** The first value of header `name`, matched without regard to case. */
  header(name) {
    const lower = name.toLowerCase();
    return this.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
  }

  /** The body as text. */
  text() {
    return decoder.decode(this.body);
  }

  /** The body parsed as JSON; a body that is not JSON throws `Failed`. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (error) {
      throw new Failed(`http: the response is not JSON: ${error.message}`);
    }
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }
}

/** Sends a `GET` to `url`; see `request`. */
export function get(url, options = {}) {
  return request('GET', url, options);
}

/** Sends a `POST` with `body` to `url`; see `request`. */
export function post(url, body, options = {}) {
  return request('POST', url, { ...options, body });
}

/**
 * Sends a request and blocks until the whole response is read, `timeout` seconds (the
 * whole exchange) run out, or the request fails. Options: `headers` (an object or
 * `[name, value]` pairs), `body` (string or Uint8Array), `timeout` (seconds).
 */
export function request(method, url, options = {}) {
  const pairs = Array.isArray(options.headers) ? [...options.headers] : Object.entries(options.headers ?? {});
  const data = typeof options.body === 'string' ? encoder.encode(options.body) : (options.body ?? new Uint8Array());
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new Failed(`http: invalid request: ${JSON.stringify(url)} is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Failed(`http: invalid request: ${JSON.stringify(url)} is not an absolute http:// or https:// URL`);
  }
  const context = new Context(url, parsed.host);
  const deadline = options.timeout === undefined ? undefined : now() + BigInt(Math.round(options.timeout * 1e9));

  const witMethod = methodOf(method);
  const has = new Set(pairs.map(([name]) => name.toLowerCase()));
  if ((data.length > 0 || ['post', 'put', 'patch'].includes(witMethod.tag)) && !has.has('content-length')) {
    pairs.push(['content-length', String(data.length)]);
  }
  if ((parsed.username || parsed.password) && !has.has('authorization')) {
    const userinfo = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    pairs.push(['authorization', `Basic ${btoa(userinfo)}`]);
  }
  const fields = new Fields();
  for (const [name, value] of pairs) {
    try {
      fields.append(name, encoder.encode(String(value)));
    } catch {
      throw new Failed(`http: invalid request: header ${JSON.stringify(name)} is not a valid header`);
    }
  }
  const outgoing = new OutgoingRequest(fields);
  try {
    outgoing.setMethod(witMethod);
    outgoing.setScheme({ tag: parsed.protocol === 'https:' ? 'HTTPS' : 'HTTP' });
    outgoing.setAuthority(parsed.host);
    outgoing.setPathWithQuery(`${parsed.pathname}${parsed.search}`);
  } catch {
    throw new Failed(`http: invalid request: ${JSON.stringify(url)} is not a valid URL`);
  }
  const body = outgoing.body();

  let requestOptions;
  if (options.timeout !== undefined) {
    const nanos = BigInt(Math.round(options.timeout * 1e9));
    requestOptions = new RequestOptions();
    for (const set of ['setConnectTimeout', 'setFirstByteTimeout', 'setBetweenBytesTimeout']) {
      try {
        requestOptions[set](nanos);
      } catch {
        // The deadline applies regardless.
      }
    }
  }
  let future;
  try {
    future = handle(outgoing, requestOptions);
  } catch (error) {
    throw context.error(errorPayload(error));
  }
  // When the body cannot be sent the response future says why, which is the better error;
  // a server may also answer before reading the whole body. The response decides.
  try {
    writeBody(body, data, deadline, context);
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
  }
  const response = waitForResponse(future, deadline, context);
  return readResponse(response, deadline, context);
}

function methodOf(name) {
  if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)) {
    throw new Failed(`http: invalid request: ${JSON.stringify(name)} is not a valid method`);
  }
  const standard = ['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch'];
  const lower = name.toLowerCase();
  return standard.includes(lower) ? { tag: lower } : { tag: 'other', val: name };
}

function writeBody(body, data, deadline, context) {
  if (data.length > 0) {
    const stream = body.write();
    let rest = data;
    while (rest.length > 0) {
      const permitted = Number(call(() => stream.checkWrite(), context));
      if (permitted === 0) {
        wait(stream.subscribe(), deadline);
        continue;
      }
      call(() => stream.write(rest.subarray(0, permitted)), context);
      rest = rest.subarray(permitted);
    }
    try {
      stream.flush();
      wait(stream.subscribe(), deadline);
      stream.checkWrite();
    } catch (error) {
      // The peer may close the body once it has all of it: `closed` is success.
      if (errorPayload(error).tag !== 'closed') throw context.streamError(errorPayload(error));
    }
    dispose(stream);
  }
  try {
    OutgoingBody.finish(body, undefined);
  } catch (error) {
    throw context.error(errorPayload(error));
  }
}

function waitForResponse(future, deadline, context) {
  for (;;) {
    const result = future.get();
    if (result === undefined) {
      wait(future.subscribe(), deadline);
      continue;
    }
    if (result.tag === 'err') throw new Failed('http: the response was already taken');
    if (result.val.tag === 'err') throw context.error(result.val.val);
    return result.val.val;
  }
}

function readResponse(response, deadline, context) {
  const status = response.status();
  const headers = response.headers().entries().map(([name, value]) => [name, decoder.decode(value)]);
  const incoming = response.consume();
  const stream = incoming.stream();
  const chunks = [];
  let length = 0;
  for (;;) {
    let chunk;
    try {
      chunk = stream.read(READ_CHUNK);
    } catch (error) {
      const payload = errorPayload(error);
      if (payload.tag === 'closed') break;
      throw context.streamError(payload);
    }
    if (chunk.length > 0) {
      chunks.push(chunk);
      length += chunk.length;
    } else {
      wait(stream.subscribe(), deadline);
    }
  }
  // Children before parents: the stream, then the body, then the response.
  dispose(stream);
  IncomingBody.finish(incoming);
  dispose(response);
  const body = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return new Response(status, headers, body);
}

/** Runs a stream call, turning its error into the failure it means. */
function call(operation, context) {
  try {
    return operation();
  } catch (error) {
    throw context.streamError(errorPayload(error));
  }
}

/** Blocks until `pollable` is ready or `deadline` passes, then drops the pollables: each
 * is a child of the stream or future it came from, which cannot be dropped before it. */
function wait(pollable, deadline) {
  try {
    if (deadline === undefined) {
      pollable.block();
      return;
    }
    const timer = subscribeInstant(deadline);
    try {
      const ready = poll([pollable, timer]);
      if (!Array.from(ready).includes(0)) throw new Unavailable('http: the request timed out');
    } finally {
      dispose(timer);
    }
  } finally {
    dispose(pollable);
  }
}

/** The method that drops a resource now (componentize-js names it so where the engine
 * has no `Symbol.dispose`). */
const DISPOSE = Symbol.dispose ?? Symbol.for('dispose');

/** Drops a resource now: a child (a body's stream) must be gone before its parent ends. */
function dispose(resource) {
  resource[DISPOSE]();
}

/** What an error message needs to name. */
class Context {
  constructor(url, host) {
    this.url = url;
    this.host = host;
  }

  /** Turns a `wasi:http` error code into the failure it means. */
  error(code) {
    const host = this.host;
    const tag = code.tag.toLowerCase();
    if (tag === 'http-request-denied' || tag === 'destination-ip-prohibited') {
      return new Denied(`http: request to ${this.url} denied: not in the allowed hosts`);
    }
    if (['dns-timeout', 'connection-timeout', 'connection-read-timeout', 'connection-write-timeout',
      'http-response-timeout'].includes(tag)) {
      return new Unavailable('http: the request timed out');
    }
    const unavailable = {
      'dns-error': `cannot resolve ${host}`,
      'destination-not-found': `cannot resolve ${host}`,
      'destination-unavailable': `${host} is unavailable`,
      'destination-ip-unroutable': `${host} is unreachable`,
      'connection-refused': `connection to ${host} refused`,
      'connection-terminated': `connection to ${host} closed unexpectedly`,
      'connection-limit-reached': `too many connections to ${host}`,
      'tls-protocol-error': `TLS handshake with ${host} failed`,
      'tls-alert-received': `TLS alert from ${host}`,
    };
    if (tag in unavailable) return new Unavailable(`http: ${unavailable[tag]}`);
    const detail = typeof code.val === 'string' ? code.val : code.tag;
    return new Failed(`http: request to ${host} failed: ${detail}`);
  }

  /** Turns a body stream error into the failure it means. */
  streamError(error) {
    if (error.tag === 'closed') {
      return new Unavailable(`http: connection to ${this.host} closed during the exchange`);
    }
    const code = httpErrorCode(error.val);
    if (code !== undefined) return this.error(code);
    return new Unavailable(`http: connection to ${this.host} failed: ${error.val.toDebugString()}`);
  }
}
