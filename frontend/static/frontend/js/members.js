// The admin's member list: add one person by username with a role, or several at once by
// username or e-mail; change a role, remove; and each annotator's qualification status.

import { api, ApiError, errorMessage, fieldErrors } from "./api.js";
import { $, h, showMessage } from "./dom.js";

const QUALIFICATION_TEXT = { passed: "qualified", failed: "failed the qualification set", pending: "not qualified yet" };

/** "ann, bob@example.org\ncarl" -> ["ann", "bob@example.org", "carl"]: trimmed, no blanks or repeats. */
export function parseNames(text) {
  const names = [];
  for (const part of text.split(/[\n,;]+/)) {
    const name = part.trim();
    if (name && !names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * projectPromise resolves to the project settings (for whether a qualification set is
 * required); setProject() passes newer ones. Returns undefined where the page has no
 * member list.
 */
export function setupMembers(urls, me, projectPromise = Promise.resolve(null)) {
  const body = $("#members-body");
  if (!body) return undefined;
  const message = $("#members-message");
  const form = $("#member-form");
  let members = [];
  let qualificationRequired = null; // null: not known yet

  async function load() {
    try {
      members = await api(urls.members);
      render();
    } catch (error) {
      showMessage(message, `Could not load the members: ${errorMessage(error)}`, "error");
    }
  }

  function qualificationCell(member) {
    if (member.role !== "annotator" || !member.qualification) return h("td", { class: "muted small" }, "—");
    const state = member.qualification;
    if (qualificationRequired === false && state === "pending") {
      return h("td", {}, h("span", { class: "qualification-state muted", dataset: { qualification: state } }, "not required"));
    }
    return h("td", {}, h("span", { class: `qualification-state qualification-${state}`, dataset: { qualification: state } }, QUALIFICATION_TEXT[state] || state));
  }

  function render() {
    body.replaceChildren(
      ...members.map((member) => {
        const role = h(
          "select",
          { "aria-label": `Role of ${member.username}`, onchange: (event) => changeRole(member, event.target) },
          ["annotator", "reviewer", "admin"].map((value) => h("option", { value, selected: value === member.role }, value)),
        );
        return h(
          "tr",
          { dataset: { username: member.username } },
          h("td", {}, member.username, member.username === me ? h("span", { class: "muted small" }, " (you)") : null),
          h("td", {}, role),
          qualificationCell(member),
          h("td", { class: "num" }, h("button", { type: "button", class: "btn-small btn-danger", onclick: () => remove(member) }, "Remove")),
        );
      }),
    );
  }

  async function changeRole(member, select) {
    try {
      await api(urls.member(member.id), { method: "PATCH", body: { role: select.value } });
      showMessage(message, `${member.username} is now ${select.value}.`, "ok");
      member.role = select.value;
      render();
    } catch (error) {
      select.value = member.role;
      showMessage(message, `Role not changed: ${errorMessage(error)}`, "error");
    }
  }

  async function remove(member) {
    const warning = member.username === me ? " You will lose access to this project." : "";
    if (!window.confirm(`Remove ${member.username} from the project?${warning}`)) return;
    try {
      await api(urls.member(member.id), { method: "DELETE" });
      showMessage(message, `${member.username} was removed.`, "ok");
      load();
    } catch (error) {
      showMessage(message, `Not removed: ${errorMessage(error)}`, "error");
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = $("#member-username").value.trim();
    const role = $("#member-role").value;
    if (!username) {
      showMessage(message, "Enter the username of the person to add.", "error");
      return;
    }
    try {
      await api(urls.members, { method: "POST", body: { username, role } });
      showMessage(message, `${username} was added as ${role}.`, "ok");
      form.reset();
      load();
    } catch (error) {
      const fields = error.body ? fieldErrors(error.body) : {};
      const text = fields.username ? fields.username.replace(/^Object with username=(.*) does not exist\.$/, "There is no user named $1.") : errorMessage(error);
      showMessage(message, `Not added: ${text}`, "error");
    }
  });

  setupBulk(`${urls.members}bulk/`, load);

  function setProject(project) {
    const qualification = project && project.review && project.review.qualification;
    qualificationRequired = qualification ? Boolean(qualification.required) : null;
    render();
  }

  projectPromise.then(setProject, () => {});
  load();
  return { setProject, reload: load };
}

function setupBulk(url, reload) {
  const form = $("#bulk-member-form");
  if (!form) return;
  const textarea = $("#bulk-users");
  const button = $("#bulk-add-button");
  const message = $("#bulk-message");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const users = parseNames(textarea.value);
    const role = $("#bulk-role").value;
    if (!users.length) {
      showMessage(message, "Enter at least one username or e-mail address.", "error");
      textarea.focus();
      return;
    }
    button.disabled = true;
    try {
      const result = await api(url, { method: "POST", body: { users, role } });
      const added = result.added || [];
      const already = result.already_members || [];
      const details = [];
      if (added.length) details.push(`Added as ${result.role || role}: ${added.join(", ")}`);
      if (already.length) details.push(`Already members (role unchanged): ${already.join(", ")}`);
      const summary = added.length ? `${added.length} ${added.length === 1 ? "person was" : "people were"} added.` : "Nobody new: everyone listed is already a member.";
      showMessage(message, summary, added.length ? "ok" : "info", details);
      if (added.length) {
        textarea.value = "";
        reload();
      }
    } catch (error) {
      const unknown = error instanceof ApiError && error.body && Array.isArray(error.body.unknown) ? error.body.unknown : [];
      if (unknown.length) {
        showMessage(message, `Nobody was added: there is no account for ${unknown.length === 1 ? "this name" : `these ${unknown.length} names`}. Fix or remove them and add again.`, "error", unknown);
      } else {
        showMessage(message, `Nobody was added: ${errorMessage(error)}`, "error");
      }
    } finally {
      button.disabled = false;
    }
  });
}
