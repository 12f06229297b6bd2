// The dashboard: a view per hash (#jobs, #job/ID, #contract, #journal[/SEQ], #wallets,
// #controls), refreshed by short polling of the operator API while the tab is visible.

import { ApiFailure, onUnauthorized, read, setToken, token } from "./api.js";
import { contractView } from "./contract.js";
import { controlsView } from "./controls.js";
import { gatewayTime, h, json, show } from "./dom.js";
import { jobView } from "./job.js";
import { jobsView } from "./jobs.js";
import { journalView } from "./journal.js";
import { walletsView } from "./wallets.js";

const REFRESH_MS = 1000;
const main = document.getElementById("main");
const answer = document.getElementById("answer");
const problem = document.getElementById("problem");
const clock = document.getElementById("clock");
const tokenForm = document.getElementById("token-form");
const tokenInput = document.getElementById("token-input");
const forget = document.getElementById("token-forget");

/** Show what the operator API answered to a control. */
function say(reply) {
  show(
    answer,
    h("h2", { class: "visually-hidden" }, "Last answer"),
    h("p", {}, h("strong", {}, `${reply.method} ${reply.path} \u2192 ${reply.status || "no answer"}`), reply.ok ? " (done)" : " (refused)"),
    typeof reply.data === "string" ? h("pre", { class: "json" }, reply.data) : json(reply.data),
  );
  answer.hidden = false;
  answer.className = reply.ok ? "answer ok" : "answer refused";
  refreshSoon();
}

const VIEWS = {
  jobs: () => jobsView(),
  job: (arg) => jobView(arg, say),
  contract: () => contractView(),
  journal: (arg) => journalView(arg, say),
  wallets: () => walletsView(),
  controls: () => controlsView(say),
};

let current = null;
let timer = null;

function route(moveFocus) {
  const [name, ...rest] = location.hash.replace(/^#/, "").split("/");
  const make = VIEWS[name] || VIEWS.jobs;
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
  current = make(arg);
  const section = name in VIEWS ? name : "jobs";
  for (const link of document.querySelectorAll("nav.views a")) {
    const here = link.getAttribute("href") === `#${section === "job" ? "jobs" : section}`;
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${current.title} \u00b7 mockgateway`;
  show(main, current.node);
  const heading = current.node.querySelector("h2");
  if (heading && moveFocus === true) heading.focus(); // a keyboard user lands on the new view
  refreshSoon();
}

async function refresh() {
  clearTimeout(timer);
  const view = current;
  try {
    const health = await read("/_mock/health");
    show(clock, `Clock ${health.clock.mode}: ${gatewayTime(health.clock.now)} \u00b7 ${health.jobs} job${health.jobs === 1 ? "" : "s"}`);
    await view.refresh(health);
    problem.hidden = true;
  } catch (error) {
    show(problem, error instanceof ApiFailure ? error.message : `The page could not read the gateway: ${error}`);
    problem.hidden = false;
  }
  // Waiting for the token, the page stops asking: a tab left open never knocks once a second.
  if (document.visibilityState === "visible" && tokenForm.hidden) timer = setTimeout(refresh, REFRESH_MS);
}

function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 0);
}

onUnauthorized(() => {
  if (!tokenForm.hidden) return;
  tokenForm.hidden = false;
  tokenInput.value = "";
  tokenInput.focus();
});
tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setToken(tokenInput.value.trim());
  tokenForm.hidden = true;
  forget.hidden = false;
  refreshSoon();
});
forget.addEventListener("click", () => {
  setToken(null);
  forget.hidden = true;
  refreshSoon();
});
forget.hidden = !token();
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refreshSoon();
  else clearTimeout(timer);
});
window.addEventListener("hashchange", () => route(true));
route(false);
