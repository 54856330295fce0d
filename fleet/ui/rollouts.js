// rollouts.js: #/rollouts?state=S&marker=M (the list) and #/rollouts/ID
// (its waves as progress bars, the failure budget, the halt reason, the
// failed instances with their reasons, and the actions, each confirmed).
import { h, badge, link, table, when, stack } from "./dom.js";
import { nextMarker } from "./api.js";

const STATES = ["RUNNING", "PAUSED", "HALTED", "FINISHED", "CANCELLED"];
const FLIGHT = ["NEW", "DEFERRED", "DOWNLOADING", "VERIFYING", "INSTALLING", "ACTIVATING"];
// Which action each state allows (docs/fleet.md, Rollouts).
const ACTIONS = [
  ["pause", "Pause", ["RUNNING"], "No new cast until it is resumed."],
  ["resume", "Resume", ["PAUSED"], "Casting goes on from where it stopped."],
  ["cancel", "Cancel", ["RUNNING", "PAUSED", "HALTED"], "Nothing more is cast, for good."],
  ["rollback_failed", "Roll back failed", STATES, "A rollback is cast to every failed instance of the current wave."],
];

export async function rolloutsPage(main, params, ctx) {
  const state = h("select", { id: "r-state" }, h("option", { value: "" }, "any"),
    STATES.map((s) => h("option", { value: s, selected: s === params.state }, s)));
  const form = h("form", { class: "inline", id: "filters" },
    h("label", { for: "r-state" }, "State"), state, h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = link("/rollouts", { state: state.value });
  });
  main.append(h("h1", {}, "Rollouts"), form);
  const r = await ctx.call("GET", "/rollouts", { state: params.state, marker: params.marker, limit: 50 });
  const next = nextMarker(r.json.links);
  main.append(r.json.rollouts.length ? table(["Rollout", "State", "Version", "Wave", "Reason", "Created"],
    r.json.rollouts.map((x) => h("tr", { "data-rollout": x.id },
      h("td", {}, h("a", { href: link("/rollouts/" + encodeURIComponent(x.id)) }, x.id)),
      h("td", {}, badge(x.state)), h("td", {}, x.instance_version),
      h("td", {}, x.current_wave + " of " + (x.wave_percents || []).length),
      h("td", { class: "reason" }, x.reason || ""), h("td", {}, when(x.created))))) :
    h("p", {}, "No rollout matches."),
    h("p", { class: "pager" }, next ? h("a", { href: link("/rollouts", { ...params, marker: next }), rel: "next" }, "Next page") : null));
}

function waveRow(w, r) {
  const st = w.states || {};
  const flight = FLIGHT.reduce((n, s) => n + (st[s] || 0), 0);
  const parts = [
    { label: "PENDING", count: st.PENDING || 0, cls: "fill-NEW" },
    { label: "in flight", count: flight, cls: "fill-flight" },
    { label: "SUCCESS", count: st.SUCCESS || 0, cls: "fill-SUCCESS" },
    { label: "FAILED", count: st.FAILED || 0, cls: "fill-FAILED" },
  ];
  const allowed = Math.floor(r.max_failure_rate * w.size + 1e-9);
  return h("li", { class: "wave", "data-wave": w.wave },
    h("h3", {}, "Wave " + w.wave + (w.percent !== null ? " (" + w.percent + "%)" : "") + ": " + w.size + " instances",
      w.wave === r.current_wave ? " — current" : ""),
    stack(parts, w.size, "wave " + w.wave + " progress"),
    h("p", { class: "legend" }, parts.map((p) => h("span", { class: "key " + p.cls.replace("fill-", "key-") }, p.label + " " + p.count))),
    h("p", { class: "budget" }, "Failure budget: " + w.failed + " failed of " + allowed + " allowed (max_failure_rate " + r.max_failure_rate + ")."));
}

function actionBar(ctx, r, out, reload) {
  return h("div", { class: "buttons", id: "actions" }, ACTIONS.map(([name, label, states, what]) =>
    h("button", { type: "button", "data-action": name, disabled: !states.includes(r.state),
                  class: name === "pause" || name === "resume" ? "" : "danger",
                  onclick: async () => {
                    if (!(await ctx.confirm(label + " rollout " + r.id + "?", what))) return;
                    out.replaceChildren("Sending " + name + "…");
                    try {
                      const a = await ctx.call("POST", "/rollouts/" + encodeURIComponent(r.id) + "/action", {}, { [name]: {} });
                      out.replaceChildren("slotfleet answered " + a.status + ": the rollout is " + a.json.rollout.state +
                        (a.json.rollbacks ? "; " + a.json.rollbacks.length + " rollbacks cast" : "") + ".");
                    } catch (e) {
                      out.replaceChildren();
                      ctx.fail(e, out);
                    }
                    reload();
                  } }, label)));
}

function rolloutView(ctx, r, out, reload) {
  const failed = (r.failed || []).map((f) => h("tr", {},
    h("td", {}, h("a", { href: link("/instance/" + encodeURIComponent(f.instance_id || "")) }, f.instance_id)),
    h("td", {}, f.upgrade_id ? h("a", { href: link("/upgrade/" + encodeURIComponent(f.upgrade_id)) }, f.upgrade_id) : "—"),
    h("td", {}, f.wave), h("td", { class: "reason" }, f.reason || ""), h("td", {}, when(f.at))));
  return [
    h("section", { class: "card", id: "rollout" },
      h("p", {}, badge(r.state), " to ", h("strong", {}, r.instance_version), ", wave ",
        r.current_wave + " of " + (r.waves || []).length),
      r.reason ? h("p", { id: "halt-reason", class: r.state === "HALTED" ? "error-text" : "" },
        (r.state === "HALTED" ? "Halt reason: " : "Reason: "), h("span", { class: "reason" }, r.reason)) : null,
      actionBar(ctx, r, out, reload), out),
    h("section", { class: "card" }, h("h2", {}, "Waves"), h("ol", { class: "waves", id: "waves" }, (r.waves || []).map((w) => waveRow(w, r)))),
    h("section", { class: "card", id: "failed" }, h("h2", {}, "Failed instances"),
      failed.length ? table(["Instance", "Upgrade", "Wave", "Reason", "At"], failed) : h("p", {}, "None."))];
}

export async function rolloutPage(main, params, ctx, id) {
  const status = h("p", { id: "poll-status", role: "status", class: "muted" });
  const out = h("p", { id: "action-result", role: "status" });
  const body = h("div", { id: "rollout-body" });
  main.append(h("h1", {}, "Rollout ", id), status, body);
  const load = async () => {
    const r = await ctx.call("GET", "/rollouts/" + encodeURIComponent(id));
    body.replaceChildren(...rolloutView(ctx, r.json.rollout, out, load));
    return JSON.stringify(r.json);
  };
  ctx.poll(load, status);
}
