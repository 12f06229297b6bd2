// Wallets: balance, held and available per key, each with (a page of) its ledger.

import { read } from "./api.js";
import { gatewayTime, h, show, tableWrap } from "./dom.js";

export function redacted(key) {
  return key.length > 4 ? `****${key.slice(-4)}` : "****";
}

const SHOWN = 50; // wallets on the page
const LEDGER_SHOWN = 500; // movements of each ledger

export function walletsView() {
  const list = h("div");
  const opened = new Set();
  const view = {
    title: "Wallets",
    node: h(
      "section",
      { "aria-labelledby": "wallets-heading" },
      h("h2", { id: "wallets-heading", tabindex: "-1" }, "Wallets"),
      h("p", {}, "Money in USD, exact. Set a balance under ", h("a", { href: "#controls" }, "Controls"), "."),
      list,
    ),
    async refresh() {
      const listed = await read(`/_mock/wallets?limit=${SHOWN}`);
      const wallets = await Promise.all(
        listed.wallets.map((w) => read(`/_mock/wallets/${encodeURIComponent(w.key)}?limit=${LEDGER_SHOWN}`)),
      );
      if (!wallets.length) {
        show(list, h("p", {}, "No wallets yet: a key gets one on first use."));
        return;
      }
      show(
        list,
        tableWrap(
          h(
            "table",
            { id: "wallets-table" },
            h("caption", {}, "Wallets"),
            h("thead", {}, h("tr", {}, ["Key", "Balance", "Held", "Available", "Ledger entries"].map((c) => h("th", { scope: "col" }, c)))),
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
                  h("td", { class: "num" }, String(w.ledger_total)),
                ),
              ),
            ),
          ),
          "Wallets table",
        ),
        listed.total > wallets.length ? h("p", {}, `The first ${wallets.length} of ${listed.total} wallets.`) : "",
        wallets.map((w) => ledger(w, opened)),
      );
    },
  };
  return view;
}

function ledger(wallet, opened) {
  const name = redacted(wallet.key);
  const details = h(
    "details",
    { class: "ledger", "data-key": name, open: opened.has(wallet.key) },
    h(
      "summary",
      {},
      wallet.ledger_total > wallet.ledger.length
        ? `Ledger of ${name} (the first ${wallet.ledger.length} of ${wallet.ledger_total} movements)`
        : `Ledger of ${name} (${wallet.ledger_total} movements)`,
    ),
    tableWrap(
      h(
        "table",
        {},
        h("caption", {}, `Ledger of ${name}`),
        h("thead", {}, h("tr", {}, ["At (gateway clock)", "Movement", "Amount", "Balance after", "Held after", "Request", "Note"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          wallet.ledger.map((e) =>
            h(
              "tr",
              {},
              h("td", {}, gatewayTime(e.at)),
              h("td", {}, e.movement),
              h("td", { class: "num" }, e.amount),
              h("td", { class: "num" }, e.balance_after),
              h("td", { class: "num" }, e.held_after),
              h("td", { class: "mono" }, e.request_id ? h("a", { href: `#job/${encodeURIComponent(e.request_id)}` }, e.request_id) : "\u2013"),
              h("td", {}, e.note || ""),
            ),
          ),
        ),
      ),
      `Ledger of ${name}`,
    ),
  );
  details.addEventListener("toggle", () => (details.open ? opened.add(wallet.key) : opened.delete(wallet.key)));
  return details;
}
