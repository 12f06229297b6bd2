// Contract: the checker's verdict over the journal so far, rule by rule, each broken rule with
// the journal entries that prove it and the line that says how to fix it.
//
// The verdict is judged over the whole journal: the page asks for it only once the journal, the
// jobs or the clock moved, at most every CONTRACT_EVERY_MS, with the ETag of the one it shows, so
// an unchanged verdict is a 304 (neither judged again nor drawn again); the answer is bounded (a
// rule's first violations).

import { ApiFailure, call } from "./api.js";
import { gatewayTime, h, show, showKeepingFocus, verdictBadge } from "./dom.js";

export const CONTRACT_EVERY_MS = 5000;

export function contractView() {
  const overall = h("div", { class: "overall", "aria-live": "polite" });
  const rules = h("div", { class: "rules" });
  let etag = null;
  let askedAt = -Infinity;
  let moved = null;
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
    async refresh(health) {
      // asked again only once the journal, the jobs or the clock moved, and not within 5 s
      const now = health ? `${health.journal.last_seq}|${health.jobs}|${health.clock.now}` : "";
      if (now === moved || performance.now() - askedAt < CONTRACT_EVERY_MS) return;
      askedAt = performance.now();
      const answer = await call("GET", "/_mock/verdict", { ifNoneMatch: etag });
      if (answer.status === 304) {
        moved = now;
        return; // nothing the verdict depends on moved
      }
      if (!answer.ok) throw new ApiFailure(answer);
      moved = now;
      etag = answer.etag;
      const verdict = answer.data;
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
            `Cost on the real gateway: ${verdict.cost.usd} USD for ${verdict.cost.billed_seconds} billed seconds` +
            (verdict.cost.per_request_jobs ? ` and ${verdict.cost.per_request_jobs} per-request charges.` : "."),
        ),
      );
      showKeepingFocus(rules, verdict.rules.map(ruleCard));
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
            rule.violations.map((v, n) =>
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
                      {
                        href: `#journal/${e.seq}`,
                        title: `${e.method} ${e.url} at ${gatewayTime(e.started_at)}`,
                        "data-focus": `evidence:${rule.id}:${n}:${e.seq}`,
                      },
                      `#${e.seq} ${e.method} ${e.route} ${e.status ?? "none"}`,
                    ),
                  ]),
                  more(v.evidence_total, v.evidence.length, "entries"),
                ),
              ),
            ),
          ),
          more(rule.violations_total, rule.violations.length, "violations", "p"),
          h("p", { class: "fix" }, h("strong", {}, "How to fix: "), rule.how_to_fix),
        ]
      : null,
  );
}

/** "and N more" where the answer shows the first of many (it is bounded). */
function more(total, shown, what, tag) {
  if (typeof total !== "number" || total <= shown) return null;
  const text = ` (and ${total - shown} more ${what}: the first ${shown} of ${total} shown)`;
  return tag ? h(tag, { class: "more" }, text.trim()) : h("span", { class: "more" }, text);
}
