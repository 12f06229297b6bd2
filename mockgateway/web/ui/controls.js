// Controls: each goes through the operator API, and its answer is shown as it came.

import { call, read } from "./api.js";
import { gatewayTime, h, show } from "./dom.js";

function field(id, label, input) {
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

function form(name, heading, fields, button, run) {
  const node = h("form", { class: "control", "aria-labelledby": `${name}-heading`, id: `${name}-form` }, h("h3", { id: `${name}-heading` }, heading), fields, h("button", { type: "submit" }, button));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    await run();
  });
  return node;
}

export function controlsView(say) {
  const clockNow = h("p", { class: "clock-now" });
  const seconds = h("input", { id: "advance-seconds", name: "seconds", type: "number", min: "0", step: "any", value: "5", required: true });
  const advance = form("advance", "Advance the manual clock", [clockNow, field("advance-seconds", "Seconds", seconds)], "Advance", async () => {
    say(await call("POST", "/_mock/clock/advance", { body: { seconds: Number(seconds.value) } }));
  });

  const jobId = h("input", { id: "command-request", name: "request_id", type: "text", required: true, size: "40", autocomplete: "off" });
  const command = h("select", { id: "command-name", name: "command" }, ["advance", "complete", "fail", "error"].map((c) => h("option", { value: c }, c)));
  const message = h("input", { id: "command-message", name: "message", type: "text", placeholder: "optional" });
  const jobCommand = form(
    "command",
    "Move a job on",
    [field("command-request", "Request id", jobId), field("command-name", "Command", command), field("command-message", "Message (fail, error)", message)],
    "Send",
    async () => {
      const text = message.value.trim();
      const body = text ? { message: text } : {};
      say(await call("POST", `/_mock/jobs/${encodeURIComponent(jobId.value.trim())}/${command.value}`, { body }));
    },
  );

  const walletKey = h("input", { id: "balance-key", name: "key", type: "text", required: true, autocomplete: "off" });
  const amount = h("input", { id: "balance-amount", name: "balance", type: "text", required: true, inputmode: "decimal", placeholder: "25.00" });
  const balance = form("balance", "Set a balance", [field("balance-key", "API key (whole)", walletKey), field("balance-amount", "Balance (USD)", amount)], "Set balance", async () => {
    say(await call("PUT", `/_mock/wallets/${encodeURIComponent(walletKey.value)}`, { body: { balance: amount.value.trim() } }));
  });

  const scenarioText = h("textarea", { id: "scenario-text", name: "scenario", rows: "8", cols: "60", spellcheck: "false" });
  const scenarioNow = h("p", { class: "scenario-now" });
  const scenario = form("scenario", "Scenario", [scenarioNow, field("scenario-text", "Scenario (TOML, as in the configuration file)", scenarioText)], "Load scenario", async () => {
    say(await call("PUT", "/_mock/scenario", { text: scenarioText.value, contentType: "application/toml" }));
  });
  const resetScenario = h("button", { type: "button", id: "scenario-reset" }, "Reset scenario");
  resetScenario.addEventListener("click", async () => say(await call("DELETE", "/_mock/scenario")));
  scenario.append(resetScenario);

  const resetGateway = h("button", { type: "button", id: "gateway-reset", class: "danger" }, "Reset gateway");
  resetGateway.addEventListener("click", async () => {
    if (!window.confirm("Forget every job, timer and journal entry, and put wallets back to their configured balances?")) return;
    say(await call("POST", "/_mock/reset"));
  });

  const view = {
    title: "Controls",
    node: h(
      "section",
      { "aria-labelledby": "controls-heading" },
      h("h2", { id: "controls-heading", tabindex: "-1" }, "Controls"),
      h("p", {}, "Each control calls the operator API; its answer appears below the page's heading."),
      h("div", { class: "controls" }, advance, jobCommand, balance, scenario, h("div", { class: "control" }, h("h3", {}, "Reset"), h("p", {}, "Forget jobs, timers and the journal; wallets back to their configured balances."), resetGateway)),
    ),
    async refresh() {
      const [clock, current] = await Promise.all([read("/_mock/clock"), read("/_mock/scenario")]);
      const manual = clock.mode === "manual";
      show(clockNow, `Clock: ${clock.mode}, now ${gatewayTime(clock.now)}.`, manual ? "" : " Only a manual clock can be advanced.");
      seconds.disabled = !manual;
      advance.querySelector("button").disabled = !manual;
      show(scenarioNow, `Now: ${current.source}, ${current.rules.length} fault rule${current.rules.length === 1 ? "" : "s"}.`);
    },
  };
  return view;
}
