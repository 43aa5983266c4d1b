// The JSON API, called with URLs relative to the page (no leading slash), so the dashboard
// works behind a gateway that serves it under a path prefix. The bearer token lives in
// sessionStorage: it goes when the tab closes, and no other site can read it.

const TOKEN_KEY = 'seriesguard.token';
let unauthorized = () => {};

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Called with the error of any 401 (an expired or revoked token): the shell logs out.
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function queryString(query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

// One path segment, encoded: api('api/v1/models/' + seg(id)).
export function seg(value) {
  return encodeURIComponent(String(value));
}

// GET unless told; answers the parsed body, or throws ApiError with the server's message.
export async function api(path, { method = 'GET', body, query, signal, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  const held = token();
  if (held) headers.Authorization = `Bearer ${held}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', `cannot reach the server (${error.message})`);
  }
  const payload = await readBody(response);
  if (response.ok) return payload;
  const error = errorOf(response, payload);
  if (response.status === 401 && !quiet401) unauthorized(error);
  throw error;
}

// A file (the plot image) fetched with the token, for a link that a plain navigation could not
// authorise; throws ApiError like api().
export async function apiBlob(path, { query } = {}) {
  const headers = {};
  const held = token();
  if (held) headers.Authorization = `Bearer ${held}`;
  const response = await fetch(path + queryString(query), { headers, cache: 'no-store' });
  if (response.ok) return response.blob();
  const error = errorOf(response, await readBody(response));
  if (response.status === 401) unauthorized(error);
  throw error;
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// {"error": {"code", "message", "details": [{"type", "loc", "msg"}]}} -> one readable line.
function errorOf(response, payload) {
  const error = payload && typeof payload === 'object' ? payload.error : null;
  if (!error) {
    return new ApiError(response.status, `http_${response.status}`,
      `${response.status} ${response.statusText || 'error'}`.trim());
  }
  const details = Array.isArray(error.details) ? error.details : [];
  let message = error.message || error.code || `HTTP ${response.status}`;
  const first = details[0];
  if (first && first.msg && !message.includes(first.msg)) {
    const where = Array.isArray(first.loc) ? ` (${first.loc.join('.')})` : '';
    message = `${message}: ${first.msg}${where}`;
  }
  return new ApiError(response.status, error.code || `http_${response.status}`, message, details);
}
