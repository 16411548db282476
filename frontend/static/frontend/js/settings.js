// The admin's project settings form: PATCH /api/projects/<id>/, errors shown per field.
// Sampling options and stopping thresholds are nested objects on the project; the form
// edits some of their fields and sends the rest back as they were. What starts a round
// (every N labels, a schedule or only by hand) is chosen here too.

import { api, ApiError, errorMessage, fieldErrors } from "./api.js";
import { $, $$, h, showMessage } from "./dom.js";

const NUMBERS = { batch_size: parseInt, retrain_every: parseInt, overlap: parseInt, eval_fraction: parseFloat };
const MIX_PART = /^([a-z][a-z0-9_]*)\s*:\s*([0-9]*\.?[0-9]+)$/i;
// Review and quality settings: `project.review`, with the qualification set nested in it.
const REVIEW_NUMBERS = ["fraction", "agreement_threshold", "quorum", "consensus_iou", "gold_fraction", "min_accuracy", "min_kappa", "disagreement_confidence"];
const QUALIFICATION_NUMBERS = ["count", "min_accuracy"];

/** "margin:0.7, coreset:0.2" -> [{strategy, fraction}]; throws Error with a readable message. */
export function parseMix(text) {
  const parts = text.split(/[,;]/).map((part) => part.trim()).filter(Boolean);
  return parts.map((part) => {
    const match = MIX_PART.exec(part);
    if (!match) throw new Error(`“${part}” is not strategy:fraction, e.g. margin:0.7`);
    return { strategy: match[1], fraction: Number(match[2]) };
  });
}

export function formatMix(mix) {
  return (mix || []).map((part) => `${part.strategy}:${part.fraction}`).join(", ");
}

const clone = (value) => JSON.parse(JSON.stringify(value ?? {}));

function familyName(family) {
  const text = String(family || "other").replace(/[_-]+/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Options grouped by family, in the order the server lists them. */
function strategyOptions(strategies) {
  const groups = new Map();
  for (const s of strategies) {
    const family = familyName(s.family);
    if (!groups.has(family)) groups.set(family, []);
    groups.get(family).push(h("option", { value: s.key }, s.needs_model === false ? `${s.label} (no model needed)` : s.label));
  }
  return [...groups].map(([family, options]) => h("optgroup", { label: family }, options));
}

/** The slot for a server message such as "sampling.density.beta must be ...": the most
 * specific field named at its start, else the slot of the whole setting. */
function errorSlot(form, key, text) {
  const head = (/^[\w.-]+/.exec(text) || [""])[0];
  let parts = head ? head.split(".") : [];
  if (parts[0] !== key) parts = [key, ...parts];
  for (let n = parts.length; n >= 1; n -= 1) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(parts.slice(0, n).join("."))}"]`);
    if (slot) return slot;
  }
  return null;
}

/**
 * Resolves, once the form is filled, to {project, reload()}: the project as last loaded or
 * saved, and a reload from the server (after a configuration file changed it). onSaved(project)
 * follows each save. Resolves to undefined where the page has no settings form.
 */
export async function setupSettings(urls, strategiesPromise = api("/api/strategies/"), { onSaved = () => {} } = {}) {
  const form = $("#settings-form");
  if (!form) return undefined;
  const message = $("#settings-message");
  const strategy = $("#set-strategy");
  const learner = $("#set-learner");
  const field = (name) => form.elements[name];
  let strategies = [];
  let learners = [];
  let project = {};

  function describe() {
    const chosen = strategies.find((s) => s.key === strategy.value);
    $("#strategy-description").textContent = (chosen && chosen.description) || "";
    $("#mix-field").hidden = strategy.value !== "mix";
    const learnerInfo = learners.find((l) => l.key === learner.value);
    $("#learner-description").textContent = (learnerInfo && learnerInfo.description) || "";
    const density = field("density_measure").value !== "";
    field("density_combine").disabled = !density;
    field("density_beta").disabled = !density;
    describeTrigger();
  }

  function describeTrigger() {
    const trigger = field("retrain_trigger");
    const option = trigger.selectedOptions[0];
    $("#retrain-trigger-description").textContent = (option && option.dataset.description) || "";
    $("#retrain-every-field").hidden = trigger.value !== "labels";
    $("#retrain-interval-field").hidden = trigger.value !== "schedule";
  }

  function ratioInputs(classes, ratios) {
    $("#target-ratios").replaceChildren(
      ...classes.map((cls) => {
        const id = `set-ratio-${cls.id}`;
        return h(
          "div",
          { class: "field" },
          h("label", { for: id }, cls.name),
          h("input", { id, type: "number", min: 0, max: 1, step: 0.05, dataset: { ratioKey: cls.key }, value: ratios[cls.key] ?? "" }),
          h("div", { class: "field-error", "data-error-for": `sampling.target_ratios.${cls.key}` }),
        );
      }),
    );
  }

  function fill(data) {
    project = data;
    strategy.value = data.strategy;
    if (data.learner !== undefined) {
      if (!learners.some((l) => l.key === data.learner)) learner.append(h("option", { value: data.learner }, data.learner));
      learner.value = data.learner;
    }
    for (const name of Object.keys(NUMBERS)) field(name).value = data[name];
    // Servers without the trigger setting keep the form as it was.
    field("retrain_trigger").closest(".field").hidden = data.retrain_trigger === undefined;
    if (data.retrain_trigger !== undefined) field("retrain_trigger").value = data.retrain_trigger;
    field("retrain_interval_minutes").value = data.retrain_interval_minutes ?? "";
    const sampling = data.sampling || {};
    field("mix").value = formatMix(sampling.mix);
    field("density_measure").value = sampling.density ? sampling.density.measure : "";
    field("density_combine").value = (sampling.density && sampling.density.combine) || "multiplicative";
    field("density_beta").value = sampling.density ? sampling.density.beta : 1;
    field("committee_size").value = sampling.committee_size ?? "";
    field("committee_mode").value = sampling.committee_mode || "bagging";
    field("eer_candidates").value = sampling.eer_candidates ?? "";
    field("exploration").value = sampling.exploration ?? "";
    ratioInputs(data.classes || [], sampling.target_ratios || {});
    const stopping = data.stopping || {};
    field("target_accuracy").value = stopping.target?.accuracy ?? "";
    field("plateau_epsilon").value = stopping.plateau?.epsilon ?? "";
    field("plateau_rounds").value = stopping.plateau?.rounds ?? "";
    field("budget_labels").value = stopping.budget?.labels ?? "";
    field("stability_kappa").value = stopping.stability?.kappa ?? "";
    field("overfitting_gap").value = stopping.overfitting?.gap ?? "";
    field("drift_threshold").value = stopping.drift?.threshold ?? "";
    fillTraining(data.training);
    fillReview(data.review);
    // Settings the server does not have yet stay out of sight rather than half-working.
    $("#sampling-fields").hidden = data.sampling === undefined;
    $("#stopping-fields").hidden = data.stopping === undefined;
    if ($("#review-fields")) $("#review-fields").hidden = data.review === undefined;
    describe();
  }

  // Detector training (detection and segmentation projects only; the fieldset is absent otherwise).
  const TRAINING = { model_size: String, epochs: parseInt, imgsz: parseInt, batch: parseInt, device: String,
    min_labeled: parseInt, quality_bar: parseFloat, weights: String };

  function fillTraining(training) {
    if (!$("#training-fields") || !training) return;
    for (const key of Object.keys(TRAINING)) field(`training_${key}`).value = training[key] ?? "";
  }

  function trainingBody() {
    const training = { ...(project.training || {}) };
    for (const [key, parse] of Object.entries(TRAINING)) {
      const raw = field(`training_${key}`).value.trim();
      if (raw === "" && key !== "weights") continue;
      const value = parse(raw);
      training[key] = typeof value === "number" && Number.isNaN(value) ? raw : value;
    }
    return training;
  }

  const reviewField = (name) => field(`review_${name}`);

  function describeReview() {
    const option = reviewField("policy").selectedOptions[0];
    $("#review-policy-description").textContent = (option && option.dataset.description) || "";
  }

  function fillReview(review) {
    if (!$("#review-fields") || !review) return;
    reviewField("policy").value = review.policy || "none";
    for (const key of REVIEW_NUMBERS) reviewField(key).value = review[key] ?? "";
    const qualification = review.qualification || {};
    reviewField("qualification_required").checked = Boolean(qualification.required);
    for (const key of QUALIFICATION_NUMBERS) reviewField(`qualification_${key}`).value = qualification[key] ?? "";
    describeReview();
  }

  /** A number field's value; an empty one is left out (the stored value stays), and text
   * that is no number goes as it is, for the server to name the field in its message. */
  function putNumber(target, key, name) {
    const raw = field(name).value.trim();
    if (raw === "") delete target[key];
    else target[key] = Number.isNaN(Number(raw)) ? raw : Number(raw);
  }

  function reviewBody() {
    const review = clone(project.review);
    review.policy = reviewField("policy").value;
    for (const key of REVIEW_NUMBERS) putNumber(review, key, `review_${key}`);
    review.qualification = { ...(review.qualification || {}), required: reviewField("qualification_required").checked };
    for (const key of QUALIFICATION_NUMBERS) putNumber(review.qualification, key, `review_qualification_${key}`);
    return review;
  }

  /** The number in an input, null when empty. */
  function numberOf(name) {
    const raw = field(name).value.trim();
    return raw === "" ? null : Number(raw);
  }

  function samplingBody() {
    const sampling = clone(project.sampling);
    if (strategy.value === "mix") sampling.mix = field("mix").value.trim() ? parseMix(field("mix").value) : null;
    const measure = field("density_measure").value;
    sampling.density = measure ? { measure, combine: field("density_combine").value, beta: numberOf("density_beta") ?? 1 } : null;
    for (const name of ["committee_size", "eer_candidates", "exploration"]) {
      const value = numberOf(name);
      if (value === null) delete sampling[name];
      else sampling[name] = value;
    }
    sampling.committee_mode = field("committee_mode").value;
    sampling.target_ratios = {};
    for (const input of $$("[data-ratio-key]", form)) {
      if (input.value.trim() !== "") sampling.target_ratios[input.dataset.ratioKey] = Number(input.value);
    }
    return sampling;
  }

  function stoppingBody() {
    const stopping = clone(project.stopping);
    const set = (section, key, value) => {
      if (value === null) {
        if (stopping[section]) delete stopping[section][key];
        if (stopping[section] && !Object.keys(stopping[section]).length) delete stopping[section];
      } else {
        stopping[section] = { ...(stopping[section] || {}), [key]: value };
      }
    };
    set("target", "accuracy", numberOf("target_accuracy"));
    set("budget", "labels", numberOf("budget_labels"));
    // A criterion with a threshold and a window is off when its threshold is empty.
    const epsilon = numberOf("plateau_epsilon");
    if (epsilon === null) delete stopping.plateau;
    else stopping.plateau = { ...(stopping.plateau || {}), epsilon, rounds: numberOf("plateau_rounds") ?? stopping.plateau?.rounds ?? 3 };
    const kappa = numberOf("stability_kappa");
    if (kappa === null) delete stopping.stability;
    else stopping.stability = { ...(stopping.stability || {}), kappa };
    const gap = numberOf("overfitting_gap");
    if (gap === null) delete stopping.overfitting;
    else stopping.overfitting = { gap };
    const threshold = numberOf("drift_threshold");
    if (threshold === null) delete stopping.drift;
    else stopping.drift = { threshold };
    return stopping;
  }

  try {
    const [strategyList, data] = await Promise.all([strategiesPromise, api(urls.project)]);
    strategies = strategyList;
    strategy.replaceChildren(...strategyOptions(strategies));
    if (data.learner === undefined) {
      $("#learner-field").hidden = true;
    } else {
      // A project kind is "text_classification"; learners are listed by "text" or "image".
      const kind = String(data.kind || "text").split("_")[0];
      learners = await api(`/api/learners/?kind=${encodeURIComponent(kind)}`).catch((error) => {
        showMessage(message, `Could not load the learners: ${errorMessage(error)}`, "warn");
        return [];
      });
      learner.replaceChildren(...learners.map((l) => h("option", { value: l.key }, l.label)));
    }
    fill(data);
  } catch (error) {
    showMessage(message, `Could not load the settings: ${errorMessage(error)}`, "error");
  }

  strategy.addEventListener("change", describe);
  field("retrain_trigger").addEventListener("change", describeTrigger);
  learner.addEventListener("change", describe);
  field("density_measure").addEventListener("change", describe);
  if ($("#review-fields")) reviewField("policy").addEventListener("change", describeReview);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $$("[data-error-for]", form).forEach((slot) => (slot.textContent = ""));
    const body = { strategy: strategy.value };
    if (project.learner !== undefined && learner.value) body.learner = learner.value;
    for (const [name, parse] of Object.entries(NUMBERS)) {
      const raw = field(name).value.trim();
      const value = parse(raw);
      body[name] = raw === "" || Number.isNaN(value) ? raw : value;
    }
    if (project.retrain_trigger !== undefined) {
      body.retrain_trigger = field("retrain_trigger").value;
      // Only a schedule uses the interval; the stored one stays otherwise.
      if (body.retrain_trigger === "schedule") {
        const raw = field("retrain_interval_minutes").value.trim();
        body.retrain_interval_minutes = /^\d+$/.test(raw) ? Number(raw) : raw;
      }
    }
    try {
      if (project.sampling !== undefined) body.sampling = samplingBody();
    } catch (error) {
      form.querySelector('[data-error-for="sampling.mix"]').textContent = error.message;
      showMessage(message, "Not saved: fix the marked fields.", "error");
      field("mix").focus();
      return;
    }
    if (project.stopping !== undefined) body.stopping = stoppingBody();
    if ($("#training-fields") && project.training !== undefined) body.training = trainingBody();
    if ($("#review-fields") && project.review !== undefined) body.review = reviewBody();
    try {
      fill(await api(urls.project, { method: "PATCH", body }));
      showMessage(message, "Settings saved. They apply from the next round.", "ok");
      onSaved(project);
    } catch (error) {
      const fields = error instanceof ApiError ? fieldErrors(error.body) : {};
      let shown = false;
      for (const [name, text] of Object.entries(fields)) {
        const slot = errorSlot(form, name, text);
        if (slot) {
          slot.textContent = text;
          shown = true;
        }
      }
      showMessage(message, shown ? "Not saved: fix the marked fields." : `Not saved: ${errorMessage(error)}`, "error");
    }
  });

  async function reload() {
    try {
      fill(await api(urls.project));
      $$("[data-error-for]", form).forEach((slot) => (slot.textContent = ""));
      onSaved(project);
    } catch (error) {
      showMessage(message, `Could not reload the settings: ${errorMessage(error)}`, "error");
    }
  }

  return {
    get project() {
      return project;
    },
    reload,
  };
}
