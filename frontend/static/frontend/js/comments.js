// The comment threads of one item: annotators ask, reviewers and admins answer and
// resolve. Used by both workspaces ("Ask a question") and by the review page.
// Enter sends, Shift+Enter starts a new line, Esc leaves the box so the page's keys work.

import { api, errorMessage } from "./api.js";
import { formatTime, h } from "./dom.js";

export function commentUrls(projectId) {
  const base = `/api/projects/${projectId}/`;
  return {
    threads: (itemId) => `${base}items/${itemId}/comments/`,
    resolve: (commentId) => `${base}comments/${commentId}/resolve/`,
  };
}

export class CommentsPanel {
  /**
   * @param {HTMLElement} root filled with the threads and the form
   * @param {{projectId: number, username: string, canResolveAll: boolean,
   *          onError: (text: string) => void, onCount?: (open: number, total: number) => void,
   *          prompt?: string, sendLabel?: string}} options
   */
  constructor(root, { projectId, username, canResolveAll = false, onError, onCount = () => {}, prompt, sendLabel }) {
    this.root = root;
    this.urls = commentUrls(projectId);
    this.username = username;
    this.canResolveAll = canResolveAll;
    this.onError = onError;
    this.onCount = onCount;
    this.itemId = null;
    this.threads = [];
    this.token = 0;
    this.replyDrafts = new Map(); // thread id -> the reply being written, kept across re-renders
    this.list = h("ol", { class: "threads" });
    this.empty = h("p", { class: "small muted comments-empty" }, "No questions on this item yet.");
    this.input = h("textarea", {
      class: "comment-new", rows: "2", "aria-label": prompt || "Ask a question about this item",
      placeholder: `${prompt || "Ask a question about this item"} (Enter sends)`,
    });
    this.sendButton = h("button", { type: "submit", class: "btn-small btn-primary comment-send" }, sendLabel || "Ask");
    this.form = h("form", { class: "comment-form", onsubmit: (event) => this.onAsk(event) }, this.input, this.sendButton);
    bindTextKeys(this.input, () => this.form.requestSubmit());
    root.replaceChildren(this.empty, this.list, this.form);
    root.classList.add("comments");
  }

  /** Show the threads of an item (null clears the panel). */
  async show(itemId) {
    if (itemId !== this.itemId) this.forgetDrafts();
    this.itemId = itemId;
    this.root.dataset.itemId = itemId ? String(itemId) : "";
    if (!itemId) {
      this.threads = [];
      this.render();
      return;
    }
    await this.reload();
  }

  async reload() {
    const itemId = this.itemId;
    if (!itemId) return;
    const token = ++this.token;
    try {
      const threads = await api(this.urls.threads(itemId));
      if (token !== this.token) return;
      this.threads = threads;
      this.render();
    } catch (error) {
      if (token === this.token) this.onError(`Could not load the comments: ${errorMessage(error)}`);
    }
  }

  /** Switch to another item without loading its threads yet (the panel is closed). */
  reset(itemId) {
    if (itemId !== this.itemId) this.forgetDrafts();
    this.itemId = itemId;
    this.root.dataset.itemId = itemId ? String(itemId) : "";
    this.token += 1;
    this.threads = [];
    this.render();
  }

  /** Threads given by the caller (the review page loads them with the item). */
  setThreads(itemId, threads) {
    if (itemId !== this.itemId) this.forgetDrafts();
    this.itemId = itemId;
    this.root.dataset.itemId = String(itemId);
    this.token += 1;
    this.threads = threads;
    this.render();
  }

  focus() {
    this.input.focus();
  }

  forgetDrafts() {
    this.input.value = "";
    this.replyDrafts.clear();
  }

  render() {
    const open = this.threads.filter((thread) => !thread.resolved).length;
    const active = document.activeElement;
    const replying = active && active.classList.contains("reply-body") ? active.closest(".thread").dataset.commentId : null;
    this.root.dataset.threads = String(this.threads.length);
    this.empty.hidden = this.threads.length > 0;
    this.list.replaceChildren(...this.threads.map((thread) => this.renderThread(thread)));
    if (replying) this.list.querySelector(`.thread[data-comment-id="${replying}"] .reply-body`)?.focus();
    this.onCount(open, this.threads.length);
  }

  renderThread(thread) {
    const replyInput = h("textarea", { class: "reply-body", rows: "2", "aria-label": "Your reply", placeholder: "Reply (Enter sends)" });
    const replyForm = h(
      "form",
      { class: "reply-form", hidden: !this.replyDrafts.has(thread.id), onsubmit: (event) => this.onReply(event, thread, replyInput) },
      replyInput,
      h("button", { type: "submit", class: "btn-small" }, "Send reply"),
    );
    replyInput.value = this.replyDrafts.get(thread.id) || "";
    replyInput.addEventListener("input", () => this.replyDrafts.set(thread.id, replyInput.value));
    bindTextKeys(replyInput, () => replyForm.requestSubmit(), () => {
      replyForm.hidden = true;
      this.replyDrafts.delete(thread.id);
    });
    const actions = h(
      "div",
      { class: "thread-actions" },
      h("button", {
        type: "button",
        class: "btn-small reply-button",
        onclick: () => {
          if (!this.replyDrafts.has(thread.id)) this.replyDrafts.set(thread.id, "");
          replyForm.hidden = false;
          replyInput.focus();
        },
      }, "Reply"),
    );
    if (this.canResolveAll || thread.author === this.username) {
      actions.append(
        h("button", {
          type: "button",
          class: "btn-small resolve-button",
          onclick: (event) => this.onResolve(event.currentTarget, thread, !thread.resolved),
        }, thread.resolved ? "Reopen" : "Resolve"),
      );
    }
    return h(
      "li",
      { class: "thread", dataset: { commentId: String(thread.id), resolved: String(thread.resolved) } },
      renderComment(thread),
      thread.resolved ? h("div", { class: "small resolved-note" }, `Resolved${thread.resolved_by ? ` by ${thread.resolved_by}` : ""}`) : null,
      thread.replies && thread.replies.length
        ? h("ol", { class: "replies" }, thread.replies.map((reply) => h("li", { class: "reply" }, renderComment(reply))))
        : null,
      actions,
      replyForm,
    );
  }

  async onAsk(event) {
    event.preventDefault();
    const body = this.input.value.trim();
    if (!body) {
      this.onError("Write your question first.");
      this.input.focus();
      return;
    }
    const itemId = this.itemId;
    if (!itemId) return;
    this.sendButton.disabled = true;
    try {
      await api(this.urls.threads(itemId), { method: "POST", body: { body } });
      if (itemId === this.itemId) this.input.value = "";
      await this.reload();
    } catch (error) {
      this.onError(`Your comment was not posted: ${errorMessage(error)}`);
    } finally {
      this.sendButton.disabled = false;
    }
  }

  async onReply(event, thread, input) {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) {
      this.onError("Write your reply first.");
      input.focus();
      return;
    }
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api(this.urls.threads(thread.item), { method: "POST", body: { body, parent: thread.id } });
      this.replyDrafts.delete(thread.id);
      await this.reload();
    } catch (error) {
      button.disabled = false;
      this.onError(`Your reply was not posted: ${errorMessage(error)}`);
    }
  }

  async onResolve(button, thread, resolved) {
    button.disabled = true;
    try {
      await api(this.urls.resolve(thread.id), { method: "POST", body: { resolved } });
      await this.reload();
    } catch (error) {
      button.disabled = false;
      this.onError(`Could not ${resolved ? "resolve" : "reopen"} the question: ${errorMessage(error)}`);
    }
  }
}

function renderComment(comment) {
  return h(
    "div",
    { class: "comment", dataset: { commentId: String(comment.id) } },
    h(
      "div",
      { class: "comment-head small" },
      h("b", { class: "comment-author" }, comment.author || "someone deleted"),
      " ",
      h("time", { class: "muted", datetime: comment.created_at }, formatTime(comment.created_at)),
    ),
    h("p", { class: "comment-body" }, comment.body),
  );
}

/** Enter sends, Shift+Enter is a new line, Esc leaves the box (and may close it). */
function bindTextKeys(textarea, send, close = () => {}) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape") {
      event.preventDefault();
      textarea.blur();
      close();
    }
  });
}
