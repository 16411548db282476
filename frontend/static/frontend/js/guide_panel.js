// The project's labeling guide beside the task, in both workspaces: a side panel that
// remembers whether it was open, follows the guide.changed events, and links to the
// guide page, where members propose edits. The guide's HTML is the server's, sanitised.

import { api, errorMessage } from "./api.js";
import { formatTime, h } from "./dom.js";

const OPEN_STORAGE = "labeler.guideOpen";
const UPDATED_NOTE_MS = 8000;

function readOpenSetting() {
  try {
    return localStorage.getItem(OPEN_STORAGE) === "1";
  } catch {
    return false;
  }
}

function storeOpenSetting(open) {
  try {
    localStorage.setItem(OPEN_STORAGE, open ? "1" : "0");
  } catch {
    // private mode: the setting lasts for this page only
  }
}

/**
 * Fills `panel` (an empty <aside>) and wires `toggleButton` to it.
 * @param {{panel: HTMLElement, toggleButton: HTMLElement, projectId: number, role: string, keyLabel: string}} options
 * @returns {{toggle(): void, changed(version: number): void, reload(): Promise<void>}}
 */
export function guidePanel({ panel, toggleButton, projectId, role, keyLabel }) {
  const guideUrl = `/api/projects/${projectId}/guide/`;
  const pageUrl = `/projects/${projectId}/guide/`;
  const version = h("span", { class: "small muted guide-panel-version" });
  const note = h("div", { class: "small guide-panel-note", role: "status", hidden: true });
  const content = h("div", { class: "guide-html guide-panel-body", id: "guide-panel-body" }, h("p", { class: "muted" }, "Loading the guide…"));
  const linkText = role === "admin" ? "Edit the guide" : "Suggest a change to the guide";
  panel.replaceChildren(
    h(
      "header",
      { class: "guide-panel-head" },
      h("h2", {}, "Labeling guide"),
      version,
      h("span", { class: "grow" }),
      h("button", {
        type: "button", class: "btn-small", id: "guide-panel-close", title: `Hide the guide (${keyLabel})`, onclick: () => toggle(false),
      }, "Hide"),
    ),
    note,
    content,
    h(
      "footer",
      { class: "guide-panel-foot small" },
      // A new tab, so the task on screen and its claim stay where they are.
      h("a", { href: pageUrl, target: "_blank", rel: "noopener", id: "guide-page-link" }, linkText, " ↗"),
    ),
  );
  panel.setAttribute("aria-label", "Labeling guide");

  let open = false;
  let shownVersion = -1;
  let stale = true; // the guide changed (or was never loaded) since it was last shown
  let token = 0;
  let noteTimer = null;

  async function reload() {
    const mine = ++token;
    try {
      const guide = await api(guideUrl);
      if (mine !== token) return;
      const updated = shownVersion >= 0 && guide.version > shownVersion;
      render(guide);
      stale = false;
      if (updated) {
        showNote(`Updated to version ${guide.version}${guide.updated_by ? ` by ${guide.updated_by}` : ""}.`);
      }
    } catch (error) {
      if (mine !== token) return;
      content.replaceChildren(
        h("p", { class: "message message-error" }, `Could not load the guide: ${errorMessage(error)}`),
        h("button", { type: "button", class: "btn-small", onclick: () => reload() }, "Try again"),
      );
    }
  }

  function render(guide) {
    shownVersion = guide.version;
    panel.dataset.version = String(guide.version);
    version.textContent = guide.version ? `v${guide.version} · ${formatTime(guide.updated_at)}` : "";
    if (!guide.html) {
      content.replaceChildren(h("p", { class: "muted" }, "This project has no guide yet."));
      return;
    }
    // The server's HTML is sanitised (no scripts, no outside images), the one HTML
    // this page inserts as such.
    content.innerHTML = guide.html;
  }

  function showNote(text) {
    note.textContent = text;
    note.hidden = false;
    panel.classList.add("guide-panel-updated");
    clearTimeout(noteTimer);
    noteTimer = setTimeout(() => {
      note.hidden = true;
      panel.classList.remove("guide-panel-updated");
    }, UPDATED_NOTE_MS);
  }

  function toggle(show = !open) {
    open = show;
    panel.hidden = !open;
    document.body.classList.toggle("guide-open", open);
    toggleButton.setAttribute("aria-expanded", String(open));
    storeOpenSetting(open);
    if (open) {
      placeBelowTopBar();
      toggleButton.removeAttribute("data-updated");
      if (stale) reload();
    }
  }

  function changed(newVersion) {
    if (typeof newVersion === "number" && newVersion <= shownVersion) return;
    stale = true;
    if (open) reload();
    else toggleButton.dataset.updated = "true";
  }

  /** The panel is fixed beside the page; it starts below the top bar while that is on screen. */
  function placeBelowTopBar() {
    const bar = document.querySelector(".topbar");
    const top = bar ? Math.max(0, bar.getBoundingClientRect().bottom) : 0;
    panel.style.setProperty("--guide-top", `${top}px`);
  }

  toggleButton.setAttribute("aria-controls", panel.id);
  toggleButton.addEventListener("click", () => toggle());
  window.addEventListener("scroll", () => open && placeBelowTopBar(), { passive: true });
  toggle(readOpenSetting());

  return { toggle, changed, reload };
}
