// The model's regions for the image on screen, shown dashed with their confidence until
// accepted (A for the selected one, Shift+A for all), adjusted (any edit accepts it) or
// deleted. Accepted shapes are submitted as from_model with the model's confidence.

import { fromRegion } from "./shapes.js";

/** Pending shapes from task.suggestions; regions of unknown classes are left out. */
export function suggestionShapes(task, width, height, knownLabels, colourOf, kinds) {
  const regions = (task.suggestions && task.suggestions.regions) || [];
  const shapes = [];
  for (let region of regions) {
    if (!knownLabels.has(region.label)) continue;
    if (!kinds.has(region.kind)) {
      // A shape this project does not take (a mask in a detection project): its box.
      if (!kinds.has("box") || !region.geometry || !region.geometry.box) continue;
      region = { ...region, kind: "box", geometry: { box: region.geometry.box } };
    }
    const confidence = typeof region.confidence === "number" ? region.confidence : null;
    const shape = fromRegion(
      { ...region, from_model: true, model_confidence: confidence },
      width, height, colourOf(region.label), { pending: true },
    );
    if (shape) shapes.push(shape);
  }
  // The most confident on top.
  shapes.sort((a, b) => (a.confidence ?? 0) - (b.confidence ?? 0));
  return shapes;
}

/** Accept the given pending shapes in one undoable edit; returns how many. */
export function accept(ed, shapes) {
  const pending = shapes.filter((shape) => shape && shape.pending);
  if (!pending.length) return 0;
  ed.history.run(pending.length === 1 ? "Accept suggestion" : "Accept all suggestions", (tx) => {
    for (const shape of pending) {
      tx.touch(shape.id);
      ed.store.get(shape.id).pending = false;
    }
  });
  ed.changed();
  return pending.length;
}

export function describeSuggestions(task, pendingCount) {
  if (!task.suggestions) return task.split === "eval" ? "No suggestions on evaluation items." : "No model suggestions for this image.";
  const total = (task.suggestions.regions || []).length;
  if (!total) return `Model v${task.suggestions.model_version} found nothing here.`;
  return `Model v${task.suggestions.model_version} suggests ${total} shape${total === 1 ? "" : "s"}; ${pendingCount} not yet accepted.`;
}
