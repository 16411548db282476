// The admin's member list: add by username with a role, change a role, remove.

import { api, errorMessage, fieldErrors } from "./api.js";
import { $, h, showMessage } from "./dom.js";

export function setupMembers(urls, me) {
  const body = $("#members-body");
  if (!body) return;
  const message = $("#members-message");
  const form = $("#member-form");

  async function load() {
    try {
      render(await api(urls.members));
    } catch (error) {
      showMessage(message, `Could not load the members: ${errorMessage(error)}`, "error");
    }
  }

  function render(members) {
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
          h("td", { class: "num" }, h("button", { type: "button", class: "btn-small btn-danger", onclick: () => remove(member) }, "Remove")),
        );
      }),
    );
  }

  async function changeRole(member, select) {
    try {
      await api(urls.member(member.id), { method: "PATCH", body: { role: select.value } });
      showMessage(message, `${member.username} is now ${select.value}.`, "ok");
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

  load();
}
