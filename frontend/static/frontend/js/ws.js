// The project's push channel: /ws/projects/<id>/, reconnected with backoff when it drops.

/**
 * connectProject(id, {onEvent(event), onStatus(status, info)}) -> {close()}
 * status is "open" (info.reconnected tells a reconnect from the first open),
 * "closed" (info.retryInMs) or "denied" (the server refused: logged out or no access).
 */
export function connectProject(projectId, { onEvent, onStatus = () => {} } = {}) {
  let socket = null;
  let attempt = 0;
  let opened = 0;
  let stopped = false;
  let retryTimer = null;
  let pingTimer = null;

  function open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/ws/projects/${projectId}/`);
    socket.addEventListener("open", () => {
      attempt = 0;
      opened += 1;
      onStatus("open", { reconnected: opened > 1 });
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && event.type !== "pong") onEvent(event);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(pingTimer);
      if (stopped) return;
      if (event.code === 4403) {
        onStatus("denied", { code: event.code });
        return;
      }
      const delay = Math.min(15000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      onStatus("closed", { retryInMs: Math.round(delay) });
      retryTimer = setTimeout(open, delay);
    });
  }

  open();
  return {
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(pingTimer);
      if (socket) socket.close();
    },
    get socket() {
      return socket;
    },
  };
}
