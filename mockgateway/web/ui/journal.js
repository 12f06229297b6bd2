// Journal: requests, responses and webhook attempts, filtered by key, route and status, each
// expandable to its headers and bodies (keys redacted as everywhere); the HAR export for tools.

import { download, query, read } from "./api.js";
import { gatewayTime, h, json, show, tableWrap } from "./dom.js";

const PAGE = 100;
const SPAN = 1000; // entries looked through for a filtered page
const ROUTES = ["generate", "status", "media", "admin", "other", "webhook"];

export function journalView(focus, say) {
  const state = { key: "", route: "", status: "", requestId: "", before: [] }; // before: older pages
  const opened = new Set();
  let signature = "";
  let focused = focus ? Number(focus) : null;
  if (focused) state.before = [focused + Math.floor(PAGE / 2)];

  const key = h("input", { id: "journal-key", name: "key", type: "search", size: "10", placeholder: "abcd", autocomplete: "off" });
  const route = h("select", { id: "journal-route", name: "route" }, h("option", { value: "" }, "any"), ROUTES.map((r) => h("option", { value: r }, r)));
  const status = h("input", { id: "journal-status", name: "status", type: "text", size: "5", placeholder: "404, none", inputmode: "text" });
  const requestId = h("input", { id: "journal-request", name: "request_id", type: "search", size: "30", autocomplete: "off" });
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the journal" },
    h("label", { for: "journal-key" }, "Key"),
    key,
    h("label", { for: "journal-route" }, "Route"),
    route,
    h("label", { for: "journal-status" }, "HTTP status"),
    status,
    h("label", { for: "journal-request" }, "Request id"),
    requestId,
    h("button", { type: "submit" }, "Filter"),
  );
  const apply = () => {
    Object.assign(state, { key: key.value.trim(), route: route.value, status: status.value.trim(), requestId: requestId.value.trim(), before: [] });
    focused = null;
    signature = "";
    view.refresh();
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  route.addEventListener("change", apply);

  const filterParams = () => ({ key: state.key, route: state.route, status: state.status, request_id: state.requestId });
  const har = h("button", { type: "button", id: "har-download" }, "Download HAR");
  har.addEventListener("click", async () => {
    try {
      await download(`/_mock/journal.har${query(filterParams())}`, "mockgateway.har");
      say({ method: "GET", path: "/_mock/journal.har", status: 200, ok: true, data: "saved as mockgateway.har" });
    } catch (error) {
      say({ method: "GET", path: "/_mock/journal.har", status: 0, ok: false, data: String(error) });
    }
  });
  const where = h("p", { class: "count", "aria-live": "polite" });
  const list = h("div", { class: "entries" });
  const older = h("button", { type: "button" }, "Older \u2192");
  const newer = h("button", { type: "button" }, "\u2190 Newer");
  const latest = h("button", { type: "button" }, "Latest");
  let firstShown = null;
  older.addEventListener("click", () => {
    if (firstShown !== null) state.before.push(firstShown);
    view.refresh();
  });
  newer.addEventListener("click", () => {
    state.before.pop();
    view.refresh();
  });
  latest.addEventListener("click", () => {
    state.before = [];
    view.refresh();
  });

  const view = {
    title: "Journal",
    node: h(
      "section",
      { "aria-labelledby": "journal-heading" },
      h("h2", { id: "journal-heading", tabindex: "-1" }, "Journal"),
      filters,
      h("p", {}, har, " the journal (with these filters) as HAR 1.2, for a browser's devtools or any HTTP tool."),
      where,
      h("nav", { class: "pager", "aria-label": "Journal pages" }, newer, older, latest),
      list,
    ),
    async refresh() {
      const health = await read("/_mock/health");
      const last = health.journal.last_seq;
      const before = state.before.length ? state.before[state.before.length - 1] : last + 1;
      const filtered = Boolean(state.key || state.route || state.status || state.requestId);
      const since = Math.max(0, before - 1 - (filtered ? SPAN : PAGE));
      const answer = await read(`/_mock/journal${query({ since, limit: SPAN, ...filterParams() })}`);
      const entries = answer.entries.filter((e) => e.seq < before).slice(-PAGE);
      firstShown = entries.length ? entries[0].seq : null;
      newer.disabled = state.before.length === 0;
      latest.disabled = state.before.length === 0;
      older.disabled = firstShown === null || since === 0;
      const mark = `${entries.map((e) => e.seq).join(",")}|${answer.dropped}`;
      show(
        where,
        entries.length
          ? `Entries #${entries[0].seq} to #${entries[entries.length - 1].seq}` +
              `${state.before.length ? "" : " (the latest, following new ones)"}; ${answer.dropped} dropped by the journal's bounds.`
          : "No entries match.",
      );
      if (mark === signature) return; // entries never change once journaled: keep focus and scroll
      signature = mark;
      show(list, [...entries].reverse().map((e) => entryNode(e, opened, focused)));
      if (focused) {
        const node = list.querySelector(`[data-seq="${focused}"]`);
        if (node) {
          node.scrollIntoView({ block: "center" });
          node.querySelector("summary").focus();
        }
        focused = null;
      }
    },
  };
  return view;
}

function entryNode(e, opened, focused) {
  const details = h(
    "details",
    { class: `entry${e.seq === focused ? " focused" : ""}`, "data-seq": e.seq, "data-route": e.route, open: opened.has(e.seq) || e.seq === focused },
    h(
      "summary",
      {},
      h("span", { class: "seq" }, `#${e.seq}`),
      " ",
      h("span", { class: "time" }, gatewayTime(e.started_at)),
      " ",
      h("strong", {}, e.kind === "webhook" ? "webhook POST" : e.method),
      " ",
      h("span", { class: "mono" }, e.kind === "webhook" ? e.url : e.path),
      " \u2192 ",
      h("span", { class: "http-status" }, e.status === null ? "no answer" : String(e.status)),
      ` \u00b7 ${e.route}${e.key ? ` \u00b7 ${e.key}` : ""}`,
      e.error ? h("span", { class: "error-text" }, ` \u00b7 ${e.error}`) : null,
    ),
  );
  details.addEventListener("toggle", () => {
    if (details.open) {
      opened.add(e.seq);
      if (!details.querySelector(".entry-body")) details.append(entryBody(e));
    } else opened.delete(e.seq);
  });
  if (details.open) details.append(entryBody(e));
  return details;
}

function headerTable(headers, caption) {
  const rows = Object.entries(headers || {});
  if (!rows.length) return h("p", {}, `${caption}: none`);
  return tableWrap(
    h(
      "table",
      { class: "headers" },
      h("caption", {}, caption),
      h("tbody", {}, rows.map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", { class: "mono" }, value)))),
    ),
    caption,
  );
}

function entryBody(e) {
  return h(
    "div",
    { class: "entry-body" },
    h("p", {}, `${e.kind} \u00b7 ${e.method} ${e.url}`, e.request_id ? [" \u00b7 request ", h("a", { href: `#job/${encodeURIComponent(e.request_id)}`, class: "mono" }, e.request_id)] : null),
    e.notes && e.notes.length ? h("ul", { class: "notes" }, e.notes.map((n) => h("li", {}, n))) : null,
    headerTable(e.headers, "Request headers"),
    h("h4", {}, "Request body", e.body_truncated ? ` (first part of ${e.body_size} bytes)` : ""),
    e.body === null ? h("p", {}, "none") : json(e.body),
    headerTable(e.response_headers, "Response headers"),
    h("h4", {}, "Response body", e.response_body_truncated ? ` (first part of ${e.response_body_size} bytes)` : ""),
    e.response_body === null ? h("p", {}, "none") : json(e.response_body),
  );
}
