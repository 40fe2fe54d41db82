// Small DOM helpers shared by the timeline page's modules. Data only ever reaches the DOM as text nodes and
// attributes, never as markup.

export const $ = (id) => document.getElementById(id);

// Build an element; string children become text nodes (never parsed as markup).
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function label(value) { return String(value).replace(/_/g, " ").toLowerCase(); }

// Today in the browser's calendar, as the Date scalar writes it (YYYY-MM-DD).
export function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

// A fresh idempotency key for one write.
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// The options of a <select> from enum values, labelled readably.
export function fillSelect(select, values, chosen) {
  select.replaceChildren(...values.map((value) => el("option", { value, selected: value === chosen }, label(value))));
}
