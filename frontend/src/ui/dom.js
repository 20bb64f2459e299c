// A small element builder: h("button", { class: "primary", onClick }, "Save").
// Keys that are properties of the element (value, checked, id, hidden...) are set as
// properties, `on<Event>` keys become listeners, anything else an attribute.
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "value" && (tag === "input" || tag === "textarea")) {
      node.defaultValue = value; // also what form.reset() restores
      node.value = value;
    } else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key in node && !READ_ONLY.has(key)) node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

// properties that must be set as attributes (the property is read-only or different)
const READ_ONLY = new Set(["list", "form", "role"]);

// <select> with options given as values or [value, text] pairs.
export function select(options, value, props = {}) {
  const node = h("select", props);
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    node.append(h("option", { value: optionValue }, text));
  }
  if (value !== undefined && value !== null) node.value = value;
  return node;
}

// A labelled form field: <label class="field"><span>Title</span><input></label>
export function field(text, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, text), control,
    hint ? h("small", { class: "hint" }, hint) : null);
}

// Calls `fn` once the calls stop for `ms`.
export function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

export function formatDateTime(iso) {
  if (!iso) return "–";
  return `${new Date(iso).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
