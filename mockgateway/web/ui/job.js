// One job: its life on the gateway clock as a picture, every status poll marked on it (too-close
// polls against the documented 5 s stand out by shape and label, not colour alone), its webhook
// attempts, the output video, and the status body as the client last saw it.

import { call, query, read } from "./api.js";
import { gatewayTime, h, json, s, show, showKeepingFocus, statusBadge, tableWrap } from "./dom.js";
import { cost } from "./jobs.js";

export const MIN_POLL_GAP = 5; // the doc: poll every 5-10 s
const TOLERANCE = 0.1; // as the checker's: timer jitter is not a fault
const COMMANDS = ["advance", "complete", "fail", "error"];

export function jobView(requestId, say) {
  const heading = h("h2", { id: "job-heading", tabindex: "-1" }, "Job ", h("span", { class: "mono" }, requestId));
  const summary = h("dl", { class: "summary" });
  const picture = h("figure", { class: "timeline" });
  const polls = h("div");
  const hooks = h("div");
  const video = h("div", { class: "video" });
  const lastSeen = h("div");
  let shownVideo = null;

  const message = h("input", { id: "job-message", name: "message", type: "text", placeholder: "optional" });
  const buttons = COMMANDS.map((command) =>
    h(
      "button",
      {
        type: "button",
        "data-command": command,
        onclick: async () => {
          const text = message.value.trim();
          const body = text && (command === "fail" || command === "error") ? { message: text } : {};
          const answer = await call("POST", `/_mock/jobs/${encodeURIComponent(requestId)}/${command}`, { body });
          say(answer);
          await view.refresh();
        },
      },
      command[0].toUpperCase() + command.slice(1),
    ),
  );

  const view = {
    title: `Job ${requestId}`,
    node: h(
      "section",
      { "aria-labelledby": "job-heading" },
      h("p", {}, h("a", { href: "#jobs" }, "\u2190 All jobs")),
      heading,
      summary,
      h("h3", {}, "Timeline"),
      picture,
      h("h3", {}, "Status polls"),
      polls,
      h("h3", {}, "Webhook attempts"),
      hooks,
      h("h3", {}, "Output"),
      video,
      h("h3", {}, "Status body as the client last saw it"),
      lastSeen,
      h(
        "form",
        { class: "job-controls", "aria-label": "Job commands", onsubmit: (e) => e.preventDefault() },
        h("h3", {}, "Commands"),
        h("label", { for: "job-message" }, "Message (fail, error)"),
        message,
        buttons,
      ),
    ),
    async refresh() {
      const id = encodeURIComponent(requestId);
      const [job, statusLog, webhookLog] = await Promise.all([
        read(`/_mock/jobs/${id}`),
        read(`/_mock/journal${query({ route: "status", request_id: requestId })}`),
        read(`/_mock/journal${query({ route: "webhook", request_id: requestId })}`),
      ]);
      const marks = pollMarks(statusLog.entries);
      show(summary, describe(job, marks));
      show(picture, timeline(job, marks, webhookLog.entries));
      showKeepingFocus(polls, pollTable(marks));
      showKeepingFocus(hooks, webhookTable(webhookLog.entries));
      const url = job.output && job.output.media_url && job.output.media_url[0];
      if (url !== shownVideo) {
        shownVideo = url;
        show(
          video,
          url
            ? [
                // ?via=dashboard: the checker counts a download of the exact media_url only, so the
                // page playing the video never passes for the client having fetched it
                h("video", { controls: true, preload: "none", src: `${url}?via=dashboard`, width: "480", "aria-label": "Output video" }),
                h("p", {}, h("a", { href: url }, "output.mp4"), ` (${job.output.media_type})`),
              ]
            : h("p", {}, "No output: the job has not COMPLETED."),
        );
      }
      const seen = [...statusLog.entries].reverse().find((e) => e.status === 200);
      show(lastSeen, seen ? json(seen.response_body) : h("p", {}, "The client has not polled this job."));
      for (const button of buttons) button.disabled = ["COMPLETED", "FAILED", "ERROR"].includes(job.status);
    },
  };
  return view;
}

/** Each poll with its gap to the poll before; a gap under 5 s after an answered poll is too close. */
export function pollMarks(entries) {
  const polls = entries.filter((e) => e.kind === "request" && e.method === "GET");
  return polls.map((entry, i) => {
    const before = polls[i - 1];
    const gap = before ? entry.started_at - before.started_at : null;
    const judged = before && before.status === 200 && !before.error;
    const tooClose = Boolean(judged && gap < MIN_POLL_GAP - TOLERANCE);
    const status = entry.response_body && typeof entry.response_body === "object" ? entry.response_body.status : null;
    return { entry, gap, tooClose, status };
  });
}

/** A job's media inputs, one per line: the body field and the URL it gave. */
function inputs(given) {
  const entries = Object.entries(given || {});
  if (!entries.length) return "\u2013";
  return h("ul", { class: "inputs" }, ...entries.map(([field, url]) => h("li", { class: "mono" }, `${field}: ${url}`)));
}

function describe(job, marks) {
  const close = marks.filter((m) => m.tooClose).length;
  const rows = [
    ["Status", statusBadge(job.status)],
    ["Model", job.model_id],
    ["Key", h("span", { class: "mono" }, job.key || "\u2013")],
    ["Inputs", inputs(job.inputs)],
    ["Resolution", job.resolution || "\u2013"],
    ["Output seconds", job.duration_seconds === null ? "\u2013" : job.duration_seconds.toFixed(3)],
    ["Cost (USD)", cost(job)],
    ["Priced", job.billing.per === "request" ? "per request" : "per second of output"],
    ["Billed seconds", String(job.billing.billed_seconds)],
    ["Created", job.created_at],
    ["Completed", job.completed_at || "\u2013"],
    ["Polls", `${marks.length} (${close} closer than ${MIN_POLL_GAP} s)`],
    ["Webhook URL", job.webhook_url || "\u2013"],
    ["Error", job.error || "\u2013"],
  ];
  return rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]);
}

const WIDTH = 900;
const AXIS_Y = 120;

function timeline(job, marks, webhooks) {
  const history = job.history || [];
  const origin = history.length ? history[0].at : 0;
  const terminal = ["COMPLETED", "FAILED", "ERROR"].includes(job.status);
  const lastAt = Math.max(
    history.length ? history[history.length - 1].at : origin,
    ...marks.map((m) => m.entry.started_at),
    ...webhooks.map((w) => w.finished_at),
  );
  const span = Math.max(lastAt - origin + (terminal ? 1 : 2), 6);
  const left = 10;
  const right = WIDTH - 10;
  const x = (t) => left + ((t - origin) / span) * (right - left);

  const bands = history.map((step, i) => {
    const end = history[i + 1] ? history[i + 1].at : origin + span;
    const x0 = x(step.at);
    const width = Math.max(x(end) - x0, 2);
    return s(
      "g",
      { class: `phase status-${step.status.toLowerCase()}`, "data-phase": step.status },
      s("rect", { x: x0, y: 60, width, height: 40, rx: 3 }),
      s("text", { x: x0 + 4, y: 85, class: "phase-label" }, width > 60 ? step.status : step.status[0]),
      s("title", {}, `${step.status} from +${(step.at - origin).toFixed(3)} s`),
    );
  });

  const pollNodes = marks.map((m, i) => {
    const px = x(m.entry.started_at);
    const label = `poll ${i + 1} at +${(m.entry.started_at - origin).toFixed(3)} s` +
      (m.gap === null ? "" : `, ${m.gap.toFixed(3)} s after the one before`) +
      (m.tooClose ? ` (closer than ${MIN_POLL_GAP} s)` : "");
    const shape = m.tooClose
      ? s("path", { d: `M ${px} 52 l -6 -14 l 12 0 z` }) // a triangle: too close
      : s("line", { x1: px, y1: 56, x2: px, y2: 40 });
    return s(
      "g",
      { class: m.tooClose ? "poll too-close" : "poll", "data-seq": m.entry.seq },
      shape,
      s("title", {}, label),
    );
  });

  const hookNodes = webhooks.map((w) => {
    const px = x(w.finished_at);
    const ok = w.status !== null && w.status >= 200 && w.status < 300 && !w.error;
    const label = `webhook attempt at +${(w.finished_at - origin).toFixed(3)} s: ${ok ? "delivered" : "failed"} (${w.status ?? w.error ?? "no answer"})`;
    return s(
      "g",
      { class: ok ? "hook delivered" : "hook failed", "data-seq": w.seq },
      s("circle", { cx: px, cy: 112, r: 6 }),
      s("text", { x: px - 4, y: 116, class: "hook-mark" }, ok ? "\u2713" : "\u2717"),
      s("title", {}, label),
    );
  });

  const ticks = [];
  const step = span > 60 ? 10 : span > 20 ? 5 : 1;
  for (let t = 0; t <= span; t += step) {
    ticks.push(s("line", { x1: x(origin + t), y1: AXIS_Y + 10, x2: x(origin + t), y2: AXIS_Y + 14, class: "tick" }));
    ticks.push(s("text", { x: x(origin + t) - 6, y: AXIS_Y + 28, class: "tick-label" }, `${t}s`));
  }

  const close = marks.filter((m) => m.tooClose).length;
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${WIDTH} 160`,
      role: "img",
      "aria-labelledby": "timeline-title",
      class: "timeline-svg",
    },
    s(
      "title",
      { id: "timeline-title" },
      `Timeline of ${job.request_id}: ${history.map((p) => p.status).join(" then ")}; ` +
        `${marks.length} polls, ${close} closer than ${MIN_POLL_GAP} s; ${webhooks.length} webhook attempts.`,
    ),
    s("line", { x1: left, y1: AXIS_Y + 10, x2: right, y2: AXIS_Y + 10, class: "axis" }),
    ticks,
    bands,
    pollNodes,
    hookNodes,
  );
  return [
    svg,
    h(
      "figcaption",
      {},
      h("span", { class: "legend poll" }, "| poll"),
      h("span", { class: "legend too-close" }, `\u25bc poll closer than ${MIN_POLL_GAP} s to the one before`),
      h("span", { class: "legend hook" }, "\u25cf webhook attempt (\u2713 delivered, \u2717 failed)"),
      h("span", {}, "Seconds on the gateway clock since the job was submitted."),
    ),
  ];
}

function pollTable(marks) {
  if (!marks.length) return h("p", {}, "No status polls yet.");
  return tableWrap(
    h(
      "table",
      { id: "polls-table" },
      h("caption", {}, `Status polls (closer than ${MIN_POLL_GAP} s to the one before are flagged)`),
      h("thead", {}, h("tr", {}, ["#", "Journal entry", "At (gateway clock)", "Gap (s)", "Answer", "Pace"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        marks.map((m, i) =>
          h(
            "tr",
            { class: m.tooClose ? "too-close" : "", "data-seq": m.entry.seq },
            h("td", { class: "num" }, String(i + 1)),
            h("td", {}, h("a", { href: `#journal/${m.entry.seq}`, "data-focus": `poll:${m.entry.seq}` }, `#${m.entry.seq}`)),
            h("td", {}, gatewayTime(m.entry.started_at)),
            h("td", { class: "num" }, m.gap === null ? "\u2013" : m.gap.toFixed(3)),
            h("td", {}, `${m.entry.status ?? "none"}${m.status ? ` ${m.status}` : ""}`),
            h("td", {}, m.tooClose ? h("strong", { class: "flag" }, "\u25bc too close") : "ok"),
          ),
        ),
      ),
    ),
    "Status polls",
  );
}

function webhookTable(entries) {
  if (!entries.length) return h("p", {}, "No webhook attempts.");
  return tableWrap(
    h(
      "table",
      { id: "webhooks-table" },
      h("caption", {}, "Webhook attempts"),
      h("thead", {}, h("tr", {}, ["Journal entry", "At (gateway clock)", "URL", "Answer", "Outcome"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        entries.map((w) => {
          const ok = w.status !== null && w.status >= 200 && w.status < 300 && !w.error;
          return h(
            "tr",
            { "data-seq": w.seq },
            h("td", {}, h("a", { href: `#journal/${w.seq}`, "data-focus": `hook:${w.seq}` }, `#${w.seq}`)),
            h("td", {}, gatewayTime(w.finished_at)),
            h("td", { class: "mono" }, w.url),
            h("td", {}, w.status === null ? w.error || "no answer" : String(w.status)),
            h("td", {}, ok ? "\u2713 delivered" : "\u2717 failed"),
          );
        }),
      ),
    ),
    "Webhook attempts",
  );
}
