// The operator API as the page calls it: one header marks the page's own reads (the gateway
// answers them without journaling them), and the operator token, once given, goes with each call.

const TOKEN_KEY = "mockgateway.operatorToken";
let unauthorized = () => {};

export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const all = { "X-Mock-Dashboard": "1", ...extra };
  const given = token();
  if (given) all.Authorization = `Bearer ${given}`;
  return all;
}

/** One call; the answer as {status, ok, data, method, path}, never a throw for an HTTP error. */
export async function call(method, path, { body, text, contentType, ifNoneMatch } = {}) {
  const extra = {};
  if (ifNoneMatch) extra["If-None-Match"] = ifNoneMatch; // a 304 comes back as it is
  let payload;
  if (text !== undefined) {
    payload = text;
    extra["Content-Type"] = contentType || "text/plain";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    extra["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, { method, headers: headers(extra), body: payload, cache: "no-store" });
  } catch (error) {
    return { status: 0, ok: false, data: { error: "No answer", message: String(error) }, method, path };
  }
  const raw = await response.text();
  let data = raw;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    // not JSON (the metrics text, say): kept as text
  }
  if (response.status === 401) unauthorized();
  const etag = response.headers.get("ETag");
  return { status: response.status, ok: response.ok, data, method, path, etag };
}

export class ApiFailure extends Error {
  constructor(answer) {
    const message = answer.data && answer.data.message ? answer.data.message : `HTTP ${answer.status}`;
    super(`${answer.method} ${answer.path}: ${answer.status} ${message}`);
    this.answer = answer;
  }
}

/** A GET whose body is wanted: throws ApiFailure for anything but 2xx. */
export async function read(path) {
  const answer = await call("GET", path);
  if (!answer.ok) throw new ApiFailure(answer);
  return answer.data;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Save a response body as a file (a link cannot send the token, so the page fetches it). */
export async function download(path, filename) {
  const response = await fetch(path, { headers: headers({}), cache: "no-store" });
  if (response.status === 401) unauthorized();
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
