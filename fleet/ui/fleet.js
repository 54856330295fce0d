// fleet.js: #/fleet?version=V&marker=M&interval=S&n=N, the fleet at a
// glance from GET .../summary (counted by the database: the page never
// pulls every instance), then one page of GET .../instances.
import { h, svg, badge, stateClass, link, table, age } from "./dom.js";
import { nextMarker } from "./api.js";

const STATES = ["NONE", "NEW", "DEFERRED", "DOWNLOADING", "VERIFYING", "INSTALLING",
                "ACTIVATING", "SUCCESS", "FAILED"];

// A horizontal bar chart in SVG: one row per {label, count, href, cls}.
function barChart(rows, title) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  const rowH = 26, labelW = 170, barW = 360;
  const chart = svg("svg", { class: "chart", role: "img", "aria-label": title,
                             viewBox: `0 0 ${labelW + barW + 80} ${rowH * rows.length + 4}`,
                             width: labelW + barW + 80, height: rowH * rows.length + 4 });
  rows.forEach((r, i) => {
    const y = i * rowH + 2;
    const g = svg("g", { class: "bar " + (r.cls || ""), "data-label": r.label, "data-count": r.count });
    const text = svg("text", { x: labelW - 8, y: y + 17, "text-anchor": "end" }, r.label);
    g.append(r.href ? svg("a", { href: r.href }, text) : text);
    g.append(svg("rect", { x: labelW, y: y + 3, height: rowH - 8,
                           width: Math.max(1, Math.round(barW * r.count / max)) }));
    g.append(svg("text", { x: labelW + Math.round(barW * r.count / max) + 6, y: y + 17 }, String(r.count)));
    chart.append(g);
  });
  return chart;
}

function staleForm(params, interval, n) {
  const iv = h("input", { id: "hb-interval", type: "number", min: 1, value: interval });
  const nn = h("input", { id: "hb-n", type: "number", min: 1, value: n });
  const form = h("form", { class: "inline", id: "stale-form" },
    h("label", { for: "hb-interval" }, "Heartbeat interval (s)"), iv,
    h("label", { for: "hb-n" }, "Stale after (intervals)"), nn,
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = link("/fleet", { ...params, interval: iv.value, n: nn.value });
  });
  return form;
}

function summaryView(s, params) {
  const versions = s.agent_versions.map((v) => ({
    label: v.version === null ? "(none reported)" : v.version, count: v.count,
    href: v.version === null ? null : link("/fleet", { version: v.version }) }));
  if (s.agent_versions_other) versions.push({ label: "(other)", count: s.agent_versions_other });
  const states = STATES.map((st) => ({ label: st === "NONE" ? "never upgraded" : st,
    count: s.last_upgrade_states[st] || 0, cls: stateClass(st).replace("st st-", "fill-") })).filter((r) => r.count);
  const rpc = s.rpc_api_versions.map((v) => h("tr", {},
    h("td", {}, v.version === null ? "(unknown)" : v.version), h("td", { class: "num" }, v.count)));
  return h("div", { class: "grid" },
    h("section", { class: "card", id: "versions" }, h("h2", {}, "Agent versions"),
      barChart(versions, "instances by agent version")),
    h("section", { class: "card", id: "states" }, h("h2", {}, "Last upgrade state"),
      states.length ? barChart(states, "instances by the state of their last upgrade") :
                      h("p", {}, "No instance yet.")),
    h("section", { class: "card", id: "health" }, h("h2", {}, "Heartbeats"),
      h("dl", {},
        h("dt", {}, "Known instances"), h("dd", { id: "total" }, s.instances),
        h("dt", {}, "Stale (silent over " + s.stale_after + " s)"), h("dd", { id: "stale" }, s.stale),
        h("dt", {}, "Never heard from"), h("dd", { id: "never" }, s.never_seen))),
    h("section", { class: "card", id: "rpc" }, h("h2", {}, "Guest RPC API versions"),
      table(["Version", "Instances"], rpc)));
}

function searchForm() {
  const input = h("input", { id: "search-id", name: "id", required: true, pattern: "[0-9A-Za-z_-]+" });
  const form = h("form", { class: "inline", id: "search", role: "search" },
    h("label", { for: "search-id" }, "Instance id"), input, h("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = link("/instance/" + encodeURIComponent(input.value.trim()));
  });
  return form;
}

async function instancesView(ctx, params) {
  const r = await ctx.call("GET", "/instances", { agent_version: params.version, marker: params.marker, limit: 20 });
  const rows = r.json.instances.map((i) => h("tr", {},
    h("td", {}, h("a", { href: link("/instance/" + encodeURIComponent(i.id)) }, i.id)),
    h("td", {}, i.agent_version || "—"), h("td", {}, i.agent_slot || "—"),
    h("td", {}, i.rpc_api_version || "—"), h("td", {}, age(i.last_seen)),
    h("td", {}, i.last_upgrade ? badge(i.last_upgrade.state) : "none")));
  const next = nextMarker(r.json.links);
  return h("div", { id: "instances" },
    table(["Instance", "Agent version", "Slot", "RPC API", "Last heartbeat", "Last upgrade"], rows,
          params.version ? "Instances running " + params.version : "Instances, by id"),
    h("p", { class: "pager" },
      params.marker ? h("a", { href: link("/fleet", { ...params, marker: "" }) }, "First page") : null, " ",
      next ? h("a", { href: link("/fleet", { ...params, marker: next }), rel: "next" }, "Next page") : null));
}

export async function fleetPage(main, params, ctx) {
  const interval = Number(params.interval) > 0 ? Number(params.interval) : 60;
  const n = Number(params.n) > 0 ? Number(params.n) : 3;
  main.append(h("h1", {}, "Fleet"), staleForm(params, interval, n));
  const summary = h("div", {}, h("p", {}, "Loading the summary…"));
  main.append(summary);
  try {
    const r = await ctx.call("GET", "/summary", { stale_after: Math.round(interval * n) });
    summary.replaceChildren(summaryView(r.json.summary, params));
  } catch (e) {
    summary.replaceChildren();
    ctx.fail(e, summary);
  }
  const list = h("section", { class: "card" }, h("h2", {}, "Instances"), searchForm());
  main.append(list);
  if (params.version)
    list.append(h("p", {}, "Filtered by version " + params.version + ". ",
                  h("a", { href: link("/fleet") }, "All versions")));
  try {
    list.append(await instancesView(ctx, params));
  } catch (e) {
    ctx.fail(e, list);
  }
}
