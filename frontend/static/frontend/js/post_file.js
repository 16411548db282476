// One file as the multipart field `file`, with the same errors as api(): ApiError with the
// server's body, NetworkError when the server cannot be reached.

import { ApiError, NetworkError, csrfToken } from "./api.js";

export async function postFile(url, file) {
  const data = new FormData();
  data.append("file", file);
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
  } catch (error) {
    throw new NetworkError(error);
  }
  const text = await response.text().catch(() => "");
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}
