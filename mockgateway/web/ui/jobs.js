// Jobs: one row per job, newest first, a page at a time, filtered by status and key.

import { query, read } from "./api.js";
import { h, show, showKeepingFocus, statusBadge, tableWrap } from "./dom.js";

const PAGE = 50;
const STATUSES = ["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR"];

export function jobsView() {
  const state = { status: "", key: "", cursors: [null] }; // cursors[i]: where page i starts
  const count = h("p", { class: "count", "aria-live": "polite" });
  const body = h("tbody");
  const newer = h("button", { type: "button", disabled: true }, "\u2190 Newer");
  const older = h("button", { type: "button", disabled: true }, "Older \u2192");
  let next = null;
  let shown = "";

  const status = h(
    "select",
    { id: "jobs-status", name: "status" },
    h("option", { value: "" }, "any"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  const key = h("input", {
    id: "jobs-key",
    name: "key",
    type: "search",
    placeholder: "abcd",
    autocomplete: "off",
    size: "10",
  });
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter jobs" },
    h("label", { for: "jobs-status" }, "Status"),
    status,
    h("label", { for: "jobs-key" }, "Key (last four characters)"),
    key,
    h("button", { type: "submit" }, "Filter"),
  );
  const refilter = () => {
    state.status = status.value;
    state.key = key.value.trim();
    state.cursors = [null];
    view.refresh();
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    refilter();
  });
  status.addEventListener("change", refilter);
  newer.addEventListener("click", () => {
    state.cursors.pop();
    view.refresh();
  });
  older.addEventListener("click", () => {
    if (next) state.cursors.push(next);
    view.refresh();
  });

  const table = h(
    "table",
    { id: "jobs-table" },
    h("caption", {}, "Jobs, newest first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Request id", "Model", "Key", "Status", "Resolution", "Billed s", "Cost (USD)"].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    body,
  );

  const view = {
    title: "Jobs",
    node: h(
      "section",
      { "aria-labelledby": "jobs-heading" },
      h("h2", { id: "jobs-heading", tabindex: "-1" }, "Jobs"),
      filters,
      count,
      tableWrap(table, "Jobs table"),
      h("nav", { class: "pager", "aria-label": "Job pages" }, newer, older),
    ),
    async refresh() {
      const cursor = state.cursors[state.cursors.length - 1];
      const page = await read(
        `/_mock/jobs${query({ limit: PAGE, cursor, status: state.status, key: state.key })}`,
      );
      next = page.next_cursor;
      const first = (state.cursors.length - 1) * PAGE;
      show(
        count,
        page.total === 0
          ? "No jobs yet."
          : `Showing ${first + 1}\u2013${first + page.jobs.length} of ${page.total} job${page.total === 1 ? "" : "s"}.`,
      );
      const mark = JSON.stringify(page.jobs);
      if (mark !== shown) {
        shown = mark; // an unchanged page is not drawn again
        showKeepingFocus(body, page.jobs.map(row));
      }
      newer.disabled = state.cursors.length === 1;
      older.disabled = !next;
    },
  };
  return view;
}

/** What the job cost: charged once it ended, "held" while it runs (what completing charges). */
export function cost(job) {
  const billing = job.billing;
  if (["COMPLETED", "FAILED", "ERROR"].includes(job.status)) return billing.charged;
  return billing.pending === null ? "\u2013" : `${billing.pending} held`;
}

function row(job) {
  return h(
    "tr",
    { "data-request-id": job.request_id },
    h("td", {}, h("a", { href: `#job/${encodeURIComponent(job.request_id)}`, class: "mono", "data-focus": `job:${job.request_id}` }, job.request_id)),
    h("td", {}, job.model_id),
    h("td", { class: "mono key" }, job.key || "\u2013"),
    h("td", { class: "status-cell" }, statusBadge(job.status)),
    h("td", {}, job.resolution),
    h("td", { class: "num" }, String(job.billing.billed_seconds)),
    h("td", { class: "num" }, cost(job)),
  );
}
