// Building the page: elements from data, never from HTML text (journal bodies are anyone's).

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "text") {
      node.textContent = String(value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: h("a", {href: "#x"}, "text", otherNode). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace what a node shows. */
export function show(node, ...children) {
  node.replaceChildren();
  fill(node, {}, children);
  return node;
}

/** Replace what a node shows, keeping the keyboard focus: the element focused inside it, known
 * by its data-focus key (stable across refreshes), is focused again in the new content. */
export function showKeepingFocus(node, ...children) {
  const active = document.activeElement;
  const key = active && active !== node && node.contains(active) ? active.getAttribute("data-focus") : null;
  show(node, ...children);
  if (key === null) return node;
  const again = [...node.querySelectorAll("[data-focus]")].find((e) => e.getAttribute("data-focus") === key);
  if (again) again.focus({ preventScroll: true });
  return node;
}

// Status is a word and a symbol, never a colour alone; the class only adds the colour.
const STATUS_MARK = {
  QUEUED: "\u25f7", // ◷
  PROCESSING: "\u25b6", // ▶
  COMPLETED: "\u2713", // ✓
  FAILED: "\u2717", // ✗
  ERROR: "\u26a0", // ⚠
};

export function statusBadge(status) {
  const mark = STATUS_MARK[status] || "\u2022";
  return h(
    "span",
    { class: `badge status-${String(status).toLowerCase()}`, "data-status": status },
    h("span", { "aria-hidden": "true" }, mark + " "),
    status,
  );
}

/** A verdict word for a rule or a check: held / broken / off. */
export function verdictBadge(kind, label) {
  const mark = { held: "\u2713", broken: "\u2717", off: "\u2013", info: "i" }[kind] || "";
  return h(
    "span",
    { class: `badge verdict-${kind}` },
    h("span", { "aria-hidden": "true" }, mark + " "),
    label,
  );
}

export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

export function gatewayTime(seconds) {
  if (typeof seconds !== "number") return "\u2013";
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace("Z", "");
}

export function tableWrap(table, label) {
  // a region that scrolls sideways on a narrow window, and can be scrolled by keyboard
  return h("div", { class: "table-wrap", role: "region", "aria-label": label, tabindex: "0", "data-focus": `region:${label}` }, table);
}
