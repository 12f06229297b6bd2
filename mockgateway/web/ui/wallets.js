// Wallets: balance, held and available per key, each with (a page of) its ledger.
//
// The list of wallets is one request, asked again when the journal or the jobs moved (or every
// few seconds) and drawn again only when it changed; a ledger is asked for only while its
// <details> is open, so fifty closed wallets cost nothing.

import { read } from "./api.js";
import { gatewayTime, h, show, showKeepingFocus, tableWrap } from "./dom.js";

export function redacted(key) {
  return key.length > 4 ? `****${key.slice(-4)}` : "****";
}

const SHOWN = 50; // wallets on the page
const LEDGER_SHOWN = 500; // movements of each ledger
const LIST_EVERY_MS = 5000; // the list, asked again at least this often when nothing moved

export function walletsView() {
  const table = h("div");
  const ledgers = h("div");
  const kept = new Map(); // key -> {details, summary, body, mark}
  let listMark = "";
  let moved = "";
  let askedAt = -Infinity;
  const view = {
    title: "Wallets",
    node: h(
      "section",
      { "aria-labelledby": "wallets-heading" },
      h("h2", { id: "wallets-heading", tabindex: "-1" }, "Wallets"),
      h("p", {}, "Money in USD, exact. Set a balance under ", h("a", { href: "#controls" }, "Controls"), "."),
      table,
      ledgers,
    ),
    async refresh(health) {
      const now = health ? `${health.journal.last_seq}|${health.jobs}` : "";
      if (now !== moved || performance.now() - askedAt >= LIST_EVERY_MS) {
        moved = now;
        askedAt = performance.now();
        const listed = await read(`/_mock/wallets?limit=${SHOWN}`);
        const mark = JSON.stringify(listed);
        if (mark !== listMark) {
          listMark = mark;
          drawList(listed);
        }
      }
      await Promise.all([...kept.values()].filter((w) => w.details.open).map(fillLedger));
    },
  };

  function drawList(listed) {
    const wallets = listed.wallets;
    if (!wallets.length) {
      show(table, h("p", {}, "No wallets yet: a key gets one on first use."));
    } else {
      showKeepingFocus(
        table,
        tableWrap(
          h(
            "table",
            { id: "wallets-table" },
            h("caption", {}, "Wallets"),
            h("thead", {}, h("tr", {}, ["Key", "Balance", "Held", "Available"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              {},
              wallets.map((w) =>
                h(
                  "tr",
                  { "data-key": redacted(w.key) },
                  h("th", { scope: "row", class: "mono" }, redacted(w.key)),
                  h("td", { class: "num balance" }, w.balance),
                  h("td", { class: "num held" }, w.held),
                  h("td", { class: "num available" }, w.available),
                ),
              ),
            ),
          ),
          "Wallets table",
        ),
        listed.total > wallets.length ? h("p", {}, `The first ${wallets.length} of ${listed.total} wallets.`) : "",
      );
    }
    // a wallet's <details> is kept across refreshes (open or not, focused or not)
    const keys = new Set(wallets.map((w) => w.key));
    for (const key of [...kept.keys()]) if (!keys.has(key)) kept.delete(key);
    for (const w of wallets) if (!kept.has(w.key)) kept.set(w.key, ledger(w.key));
    const order = wallets.map((w) => kept.get(w.key).details);
    if (order.some((node, i) => ledgers.children[i] !== node) || ledgers.children.length !== order.length) {
      ledgers.replaceChildren(...order);
    }
  }

  function ledger(key) {
    const name = redacted(key);
    const summary = h("summary", {}, `Ledger of ${name}`);
    const body = h("div");
    const details = h("details", { class: "ledger", "data-key": name }, summary, body);
    const entry = { key, name, details, summary, body, mark: "" };
    details.addEventListener("toggle", () => {
      if (details.open) fillLedger(entry).catch(() => {}); // the next refresh says what failed
    });
    return entry;
  }

  return view;
}

async function fillLedger(kept) {
  const wallet = await read(`/_mock/wallets/${encodeURIComponent(kept.key)}?limit=${LEDGER_SHOWN}`);
  const mark = JSON.stringify([wallet.ledger, wallet.ledger_total]);
  if (mark === kept.mark) return;
  kept.mark = mark;
  const name = kept.name;
  show(
    kept.summary,
    wallet.ledger_total > wallet.ledger.length
      ? `Ledger of ${name} (the first ${wallet.ledger.length} of ${wallet.ledger_total} movements)`
      : `Ledger of ${name} (${wallet.ledger_total} movements)`,
  );
  showKeepingFocus(
    kept.body,
    tableWrap(
      h(
        "table",
        {},
        h("caption", {}, `Ledger of ${name}`),
        h("thead", {}, h("tr", {}, ["At (gateway clock)", "Movement", "Amount", "Balance after", "Held after", "Request", "Note"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          wallet.ledger.map((e, i) =>
            h(
              "tr",
              {},
              h("td", {}, gatewayTime(e.at)),
              h("td", {}, e.movement),
              h("td", { class: "num" }, e.amount),
              h("td", { class: "num" }, e.balance_after),
              h("td", { class: "num" }, e.held_after),
              h("td", { class: "mono" }, e.request_id ? h("a", { href: `#job/${encodeURIComponent(e.request_id)}`, "data-focus": `ledger:${i}:${e.request_id}` }, e.request_id) : "\u2013"),
              h("td", {}, e.note || ""),
            ),
          ),
        ),
      ),
      `Ledger of ${name}`,
    ),
  );
}
