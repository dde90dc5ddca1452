// The agent's REST API as the dashboard calls it: the token from session storage in the
// Authorization header (never in a URL), JSON in and out, and failures sorted into the three
// things a page has to tell apart: the agent cannot be reached, the token is wrong, or the agent
// answered with an error of its own. `connection` reports which of the first two is true now.
const TOKEN = 'portwatch.token';

export const connection = new EventTarget();
let state = 'unknown';

function setState(next) {
  if (next === state) return;
  state = next;
  connection.dispatchEvent(new CustomEvent('change', { detail: next }));
}
export function connectionState() { return state; }

export const token = {
  get: () => sessionStorage.getItem(TOKEN) || '',
  set: (value) => sessionStorage.setItem(TOKEN, value),
  clear: () => sessionStorage.removeItem(TOKEN),
};

export class ApiError extends Error {
  // kind: 'offline' (no answer), 'auth' (401), 'http' (any other error status)
  constructor(kind, status, message) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

export function headers(extra = {}) {
  const value = token.get();
  return value ? { ...extra, Authorization: `Bearer ${value}` } : extra;
}

export async function api(path, { method = 'GET', body, signal, credential } = {}) {
  const init = { method, signal, cache: 'no-store', headers: headers({ Accept: 'application/json' }) };
  if (credential !== undefined) {
    init.headers = { Accept: 'application/json' };
    if (credential) init.headers.Authorization = `Bearer ${credential}`;
  }
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    setState('offline');
    throw new ApiError('offline', 0, error.message);
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    if (error.name === 'AbortError') throw error;
  }
  if (response.status === 401) {
    if (credential === undefined) setState('auth');
    throw new ApiError('auth', 401, data?.error || 'unauthorized');
  }
  if (credential === undefined) setState('ok');
  if (!response.ok) {
    throw new ApiError('http', response.status, data?.error || `HTTP ${response.status}`);
  }
  return data;
}

// Query text from an object, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '' && value !== false) search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
