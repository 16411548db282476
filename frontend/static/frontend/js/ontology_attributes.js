// The attributes editor of one class: a line per attribute with its key, name, type, the
// options of a choice (comma-separated), the range of a number, and a default. It edits
// text drafts; the server checks the result and its message shows under the editor.

import { h } from "./dom.js";

export const ATTRIBUTE_TYPES = ["choice", "checkbox", "number"];

const text = (value) => (value === undefined || value === null ? "" : String(value));

/** Editable drafts (all text) from the attributes the API gives. */
export function attributeDrafts(attributes) {
  return (attributes || []).map((attribute) => ({
    key: text(attribute.key),
    name: text(attribute.name),
    type: attribute.type || "choice",
    options: (attribute.options || []).join(", "),
    min: text(attribute.min),
    max: text(attribute.max),
    default: text(attribute.default),
  }));
}

/** What the API takes, from the drafts. Blank fields are left out. */
export function attributesPayload(drafts) {
  return drafts.map((draft) => {
    const key = draft.key.trim();
    const attribute = { key, name: draft.name.trim() || key, type: draft.type };
    if (draft.type === "choice") {
      attribute.options = draft.options.split(",").map((option) => option.trim()).filter(Boolean);
    }
    if (draft.type === "number") {
      for (const bound of ["min", "max"]) {
        if (draft[bound].trim() !== "") attribute[bound] = Number(draft[bound]);
      }
    }
    const fallback = draft.default.trim();
    if (fallback !== "") {
      if (draft.type === "checkbox") attribute.default = fallback === "true";
      else if (draft.type === "number") attribute.default = Number(fallback);
      else attribute.default = fallback;
    }
    return attribute;
  });
}

/** The editor element. `onChange` runs after every edit; the drafts array is edited in place. */
export function attributesEditor(drafts, onChange, { label = "the class" } = {}) {
  const body = h("tbody");
  const addButton = h("button", { type: "button", class: "btn-small", dataset: { focus: "attr-add" } }, "Add attribute");
  const table = h(
    "table",
    { class: "attributes-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Key"), h("th", {}, "Name"), h("th", {}, "Type"),
      h("th", {}, "Options or range"), h("th", {}, "Default"), h("th", {}, ""))),
    body,
  );
  const empty = h("p", { class: "small muted attributes-empty" }, "No attributes: regions of this class carry only their shape.");

  const redraw = (focus) => {
    body.replaceChildren(...drafts.map((draft, index) => attributeRow(draft, index)));
    table.hidden = drafts.length === 0;
    empty.hidden = drafts.length > 0;
    if (focus) focus();
  };

  const attributeRow = (draft, index) => {
    const number = index + 1;
    const input = (field, attrs = {}) => h("input", {
      ...attrs,
      name: `attr-${field}`,
      value: draft[field],
      "aria-label": `Attribute ${number} ${field} of ${label}`,
      oninput: (event) => {
        draft[field] = event.target.value;
        onChange();
      },
    });
    const type = h(
      "select",
      {
        name: "attr-type",
        "aria-label": `Attribute ${number} type of ${label}`,
        onchange: (event) => {
          draft.type = event.target.value;
          draft.default = "";
          onChange();
          redraw(() => body.rows[index]?.querySelector("select[name=attr-type]")?.focus());
        },
      },
      ATTRIBUTE_TYPES.map((kind) => h("option", { value: kind }, kind)),
    );
    type.value = draft.type;
    let shape;
    if (draft.type === "choice") shape = input("options", { placeholder: "small, medium, large" });
    else if (draft.type === "number") {
      shape = h("span", { class: "attr-range" }, input("min", { type: "number", step: "any", placeholder: "min" }),
        input("max", { type: "number", step: "any", placeholder: "max" }));
    } else shape = h("span", { class: "small muted" }, "ticked or not");
    let fallback;
    if (draft.type === "checkbox") {
      fallback = h(
        "select",
        {
          name: "attr-default",
          "aria-label": `Attribute ${number} default of ${label}`,
          onchange: (event) => {
            draft.default = event.target.value;
            onChange();
          },
        },
        h("option", { value: "" }, "none"), h("option", { value: "true" }, "ticked"), h("option", { value: "false" }, "not ticked"),
      );
      fallback.value = draft.default;
    } else {
      fallback = input("default", draft.type === "number" ? { type: "number", step: "any" } : {});
    }
    const remove = h("button", {
      type: "button",
      class: "btn-small btn-danger",
      "aria-label": `Remove attribute ${number} of ${label}`,
      onclick: () => {
        drafts.splice(index, 1);
        onChange();
        redraw(() => addButton.focus());
      },
    }, "Remove");
    return h("tr", { dataset: { attribute: index } },
      h("td", {}, input("key", { maxlength: 64, placeholder: "size" })),
      h("td", {}, input("name", { maxlength: 200, placeholder: "Size" })),
      h("td", {}, type), h("td", {}, shape), h("td", {}, fallback), h("td", {}, remove));
  };

  addButton.addEventListener("click", () => {
    drafts.push({ key: "", name: "", type: "choice", options: "", min: "", max: "", default: "" });
    onChange();
    redraw(() => body.rows[drafts.length - 1]?.querySelector("input[name=attr-key]")?.focus());
  });
  redraw();
  return h("div", { class: "attributes-editor" }, table, empty, addButton);
}
