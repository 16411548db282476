// fetch wrapper for the labeler API: session cookies, the CSRF header on writes,
// JSON in and out, and errors that carry the server's message.

export class ApiError extends Error {
  constructor(status, body) {
    super(describeBody(body) || `The server answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

export class NetworkError extends Error {
  constructor(cause) {
    super("Cannot reach the server. Check your connection.");
    this.name = "NetworkError";
    this.cause = cause;
  }
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** api(url, {method, body}) -> parsed JSON (or null); throws ApiError or NetworkError. */
export async function api(url, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  const options = { method, headers, credentials: "same-origin", signal };
  if (!SAFE.has(method)) headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new NetworkError(error);
  }
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function readBody(response) {
  const text = await response.text().catch(() => "");
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A readable sentence from a DRF error body: {detail}, {field: [msgs]}, [msgs] or text. */
export function describeBody(body) {
  if (body === null || body === undefined) return "";
  if (typeof body === "string") return body.trimStart().startsWith("<") ? "" : body.slice(0, 500);
  if (Array.isArray(body)) return body.map(describeBody).filter(Boolean).join(" ");
  if (typeof body === "object") {
    if (body.detail !== undefined) return describeBody(body.detail);
    return Object.entries(body)
      .filter(([key]) => !["code", "reason", "row_errors", "columns"].includes(key))
      .map(([key, value]) => (key === "non_field_errors" ? describeBody(value) : `${key}: ${describeBody(value)}`))
      .join(" ");
  }
  return String(body);
}

/** {field: "message"} from a 400 body, for showing next to form fields. */
export function fieldErrors(body) {
  const errors = {};
  if (body && typeof body === "object" && !Array.isArray(body)) {
    for (const [key, value] of Object.entries(body)) {
      if (["detail", "code", "reason", "row_errors", "columns"].includes(key)) continue;
      errors[key] = describeBody(value);
    }
  }
  return errors;
}

export function errorMessage(error) {
  if (error instanceof NetworkError) return error.message;
  if (error instanceof ApiError) {
    if (error.status === 403 && /credentials|authenticat/i.test(error.message)) {
      return "Your session has ended. Reload the page and log in again.";
    }
    return error.message;
  }
  return (error && error.message) || String(error);
}

/** Worth retrying with the same request: the network, or the server being briefly down. */
export function isTransient(error) {
  return error instanceof NetworkError || (error instanceof ApiError && [429, 502, 503, 504].includes(error.status));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A version 4 UUID, also where crypto.randomUUID is missing (plain http on a LAN address). */
export function uuid4() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** URLs of one project's API. */
export function projectApi(projectId) {
  const base = `/api/projects/${projectId}/`;
  return {
    project: base,
    classes: `${base}classes/`,
    cls: (id) => `${base}classes/${id}/`,
    members: `${base}members/`,
    member: (id) => `${base}members/${id}/`,
    claim: `${base}tasks/claim/`,
    skip: (id) => `${base}tasks/${id}/skip/`,
    annotations: `${base}annotations/`,
    undo: `${base}annotations/undo/`,
    progress: `${base}progress/`,
    rounds: `${base}rounds/`,
    jobs: `${base}jobs/`,
    import: `${base}import/`,
    export: (fmt) => `${base}export/?export_format=${fmt}`,
  };
}
