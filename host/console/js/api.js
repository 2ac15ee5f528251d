// The console's only way to the server: the same /v1 API as any client, with the token
// the user signed in with as `Authorization: Bearer`. The token lives in sessionStorage
// (this tab only, gone when it closes) and never in a URL.

const TOKEN_KEY = 'sandcron.token';

/** A refusal of the API: its status, its `error` text and the `field` it names. */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || '';
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  /** Who the token stands for, from GET /v1: {tenant, admin}. */
  caller: null,
  /** Called when the server no longer accepts the token. */
  onUnauthorized: () => {},
};

/** Sends a request; resolves to {data, total, response}, rejects with an ApiError. */
export async function api(method, path, { body, contentType, signal, stream } = {}) {
  const headers = { Authorization: `Bearer ${session.token}` };
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  } else if (contentType) {
    headers['Content-Type'] = contentType;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, signal, cache: 'no-store' });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, `cannot reach the server: ${error.message}`);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let field = '';
    try {
      const refusal = await response.json();
      message = refusal.error || message;
      field = refusal.field || '';
    } catch { /* not JSON: keep the status line */ }
    if (response.status === 401) session.onUnauthorized(message);
    throw new ApiError(response.status, message, field);
  }
  if (stream) return { response };
  const total = response.headers.get('X-Total-Count');
  const text = await response.text();
  return {
    data: text ? JSON.parse(text) : null,
    total: total === null ? null : Number(total),
    response,
  };
}

/** GET, answering the data only. */
export async function get(path, options) {
  return (await api('GET', path, options)).data;
}

/** `/v1/jobs/NAME`, escaped. */
export function jobPath(name, ...rest) {
  return ['/v1/jobs', encodeURIComponent(name), ...rest.map(String)].join('/');
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.append(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
