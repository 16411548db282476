// The admin's project settings form: PATCH /api/projects/<id>/, errors shown per field.

import { api, ApiError, errorMessage, fieldErrors } from "./api.js";
import { $, $$, h, showMessage } from "./dom.js";

const NUMBERS = { batch_size: parseInt, retrain_every: parseInt, overlap: parseInt, eval_fraction: parseFloat };

export async function setupSettings(urls) {
  const form = $("#settings-form");
  if (!form) return;
  const message = $("#settings-message");
  const strategy = $("#set-strategy");

  function fill(project) {
    strategy.value = project.strategy;
    for (const name of Object.keys(NUMBERS)) form.elements[name].value = project[name];
  }

  try {
    const [strategies, project] = await Promise.all([api("/api/strategies/"), api(urls.project)]);
    strategy.replaceChildren(
      ...strategies.map((s) => h("option", { value: s.key }, s.needs_model ? s.label : `${s.label} (no model needed)`)),
    );
    fill(project);
  } catch (error) {
    showMessage(message, `Could not load the settings: ${errorMessage(error)}`, "error");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $$("[data-error-for]", form).forEach((slot) => (slot.textContent = ""));
    const body = { strategy: strategy.value };
    for (const [name, parse] of Object.entries(NUMBERS)) {
      const raw = form.elements[name].value.trim();
      const value = parse(raw);
      body[name] = raw === "" || Number.isNaN(value) ? raw : value;
    }
    try {
      fill(await api(urls.project, { method: "PATCH", body }));
      showMessage(message, "Settings saved. They apply from the next round.", "ok");
    } catch (error) {
      const fields = error instanceof ApiError ? fieldErrors(error.body) : {};
      let shown = false;
      for (const [name, text] of Object.entries(fields)) {
        const slot = form.querySelector(`[data-error-for="${name}"]`);
        if (slot) {
          slot.textContent = text;
          shown = true;
        }
      }
      showMessage(message, shown ? "Not saved: fix the marked fields." : `Not saved: ${errorMessage(error)}`, "error");
    }
  });
}
