// What both workspaces show of review: the banner on a task a reviewer sent back, and the
// "Ask a question" panel of the item on screen.

import { CommentsPanel } from "./comments.js";
import { h, showMessage } from "./dom.js";

/** "Sent back by <reviewer>: <reason>" on a returned task; hidden on any other. */
export function showReturned(banner, task) {
  const returned = task && task.returned;
  banner.replaceChildren();
  banner.hidden = !returned;
  banner.dataset.itemId = returned ? String(task.item) : "";
  if (!returned) return;
  banner.append(
    `Sent back by ${returned.reviewer || "a reviewer"}: `,
    h("b", { class: "returned-reason" }, returned.reason),
    h("span", { class: "small returned-note" }, " Your previous answer is shown: change what the reviewer asked, then submit."),
  );
}

/**
 * The question threads of the item on screen, in a <details> that loads them when open.
 * @returns {{show(itemId: number|null): void, open(): void, changed(itemId: number): void}}
 */
export function questionsPanel({ details, panel, count, message, projectId, role }) {
  const comments = new CommentsPanel(panel, {
    projectId,
    username: document.body.dataset.username || "",
    canResolveAll: role === "reviewer" || role === "admin",
    onError: (text) => showMessage(message, text, "error"),
    onCount: (open, total) => {
      count.textContent = total ? `· ${open} open of ${total}` : "";
    },
    prompt: "Ask a question about this item",
    sendLabel: "Ask",
  });
  let itemId = null;

  details.addEventListener("toggle", () => {
    if (details.open) comments.show(itemId);
  });

  return {
    show(next) {
      itemId = next;
      if (details.open) comments.show(itemId);
      else if (comments.itemId !== itemId) comments.reset(itemId);
    },
    open() {
      if (!itemId) return;
      if (!details.open) details.open = true; // the toggle event loads the threads
      comments.focus();
    },
    changed(changedItem) {
      if (changedItem === itemId && details.open) comments.reload();
    },
  };
}
