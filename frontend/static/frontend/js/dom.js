// Small DOM helpers shared by the pages. Text always goes in as text, never as HTML.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** h("button", {class: "btn", onclick: fn}, "Save") builds an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "style" && typeof value === "object") {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v);
    }
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value") el.value = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** The project id and the user's role, from <body data-project-id data-role>. */
export function pageConfig() {
  const data = document.body.dataset;
  return { projectId: Number(data.projectId), role: data.role || "" };
}

/** Show a message in a message area; kind is error, ok, info or warn. Empty text hides it. */
export function showMessage(el, text, kind = "error", details = []) {
  if (!el) return;
  el.replaceChildren();
  if (!text) {
    el.hidden = true;
    return;
  }
  el.className = `message message-${kind}`;
  el.dataset.kind = kind;
  el.append(text);
  if (details.length) el.append(h("ul", {}, details.map((line) => h("li", {}, line))));
  el.hidden = false;
}

export function formatNumber(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return Number(value).toLocaleString("en-US");
}

export function formatScore(value) {
  if (value === null || value === undefined) return "—";
  return (Number(value) * 100).toFixed(1) + "%";
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** Calls fn at most once per `ms`, with the latest arguments, trailing. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
