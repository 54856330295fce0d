// dom.js: building the page without ever parsing text as HTML.  Every
// text, from a guest or the API, becomes a text node (textContent), so a
// reason holding "<script>" shows as those characters and runs nothing.
// Widths are set through the CSSOM (el.style), which the
// Content-Security-Policy allows, never through style attributes.

// h("a", {href: "#/x", class: "c"}, "text", child, ...): an element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// The state colours (app.css): one class per state, in flight together.
const IN_FLIGHT = ["DOWNLOADING", "VERIFYING", "INSTALLING", "ACTIVATING"];
export function stateClass(state) {
  if (IN_FLIGHT.includes(state)) return "st st-flight";
  return "st st-" + String(state || "NONE").replace(/[^A-Z_]/g, "");
}
export function badge(state) {
  return h("span", { class: stateClass(state) }, state || "none");
}

// "2026-12-07T05:21:26.000000Z" as local text, and its age in words.
export function when(iso) {
  if (!iso) return "never";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}
export function age(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 120) return s + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

// A hash link: #/page?k=v with the parameters encoded.
export function link(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
  const s = q.toString();
  return "#" + path + (s ? "?" + s : "");
}

export function table(headers, rows, caption) {
  return h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
}

// A stacked bar of parts [{label, count, cls}], total the whole.
export function stack(parts, total, label) {
  const bar = h("div", { class: "stack", role: "img", "aria-label": label });
  for (const p of parts) {
    if (!p.count) continue;
    const seg = h("span", { class: "seg " + p.cls, title: p.label + ": " + p.count,
                           "data-part": p.label, "data-count": p.count });
    seg.style.width = (100 * p.count / Math.max(total, 1)) + "%";
    bar.append(seg);
  }
  return bar;
}
