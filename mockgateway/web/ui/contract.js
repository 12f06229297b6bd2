// Contract: the checker's verdict over the journal so far, rule by rule, each broken rule with
// the journal entries that prove it and the line that says how to fix it.

import { read } from "./api.js";
import { gatewayTime, h, show, verdictBadge } from "./dom.js";

export function contractView() {
  const overall = h("div", { class: "overall", "aria-live": "polite" });
  const rules = h("div", { class: "rules" });
  const view = {
    title: "Contract",
    node: h(
      "section",
      { "aria-labelledby": "contract-heading" },
      h("h2", { id: "contract-heading", tabindex: "-1" }, "Contract"),
      h("p", {}, "The client checker's rules applied to the journal so far (the same rules as ", h("code", {}, "mockgateway check"), ")."),
      overall,
      rules,
    ),
    async refresh() {
      const verdict = await read("/_mock/verdict");
      const summary = verdict.summary;
      show(
        overall,
        h(
          "p",
          {},
          verdict.contract_passed
            ? verdictBadge("held", "Contract held")
            : verdictBadge("broken", `Contract broken: ${summary.broken_rules.join(", ")}`),
          ` ${summary.entries} journal entries, ${summary.traffic} client requests; ` +
            `${summary.errors} errors, ${summary.warnings} warnings, ${summary.infos} notes. ` +
            `Cost on the real gateway: ${verdict.cost.usd} USD for ${verdict.cost.billed_seconds} billed seconds.`,
        ),
      );
      show(rules, verdict.rules.map(ruleCard));
    },
  };
  return view;
}

function ruleCard(rule) {
  const state = !rule.enabled ? "off" : rule.passed ? "held" : "broken";
  const word = { off: "off", held: "held", broken: "broken" }[state];
  return h(
    "article",
    { class: `rule rule-${state}`, "data-rule": rule.id, "aria-labelledby": `rule-${rule.id}` },
    h(
      "h3",
      { id: `rule-${rule.id}` },
      verdictBadge(state, word),
      " ",
      h("code", {}, rule.id),
      h("span", { class: "meta" }, ` ${rule.severity} \u00b7 ${rule.source === "doc" ? "the API doc" : "recommended"}`),
    ),
    h("p", {}, rule.statement),
    rule.violations.length
      ? [
          h(
            "ul",
            { class: "violations" },
            rule.violations.map((v) =>
              h(
                "li",
                {},
                h("p", {}, v.client ? `${v.client}: ` : "", v.message),
                h(
                  "p",
                  { class: "evidence" },
                  "Evidence: ",
                  v.evidence.map((e, i) => [
                    i ? ", " : "",
                    h(
                      "a",
                      { href: `#journal/${e.seq}`, title: `${e.method} ${e.url} at ${gatewayTime(e.started_at)}` },
                      `#${e.seq} ${e.method} ${e.route} ${e.status ?? "none"}`,
                    ),
                  ]),
                ),
              ),
            ),
          ),
          h("p", { class: "fix" }, h("strong", {}, "How to fix: "), rule.how_to_fix),
        ]
      : null,
  );
}
