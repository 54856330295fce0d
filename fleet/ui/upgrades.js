// upgrades.js: #/upgrades?state=S&instance_id=I&marker=M, the upgrade
// records newest first, filtered and paged by the API, refreshed by
// polling with back-off (app.js) while the page is shown.
import { h, badge, link, table, when } from "./dom.js";
import { nextMarker } from "./api.js";

const STATES = ["NEW", "DEFERRED", "DOWNLOADING", "VERIFYING", "INSTALLING", "ACTIVATING",
                "SUCCESS", "FAILED"];

function filterForm(params) {
  const state = h("select", { id: "f-state", name: "state" },
    h("option", { value: "" }, "any"),
    STATES.map((s) => h("option", { value: s, selected: s === params.state }, s)));
  const inst = h("input", { id: "f-instance", name: "instance_id", value: params.instance_id || "" });
  const form = h("form", { class: "inline", id: "filters" },
    h("label", { for: "f-state" }, "State"), state,
    h("label", { for: "f-instance" }, "Instance id"), inst,
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = link("/upgrades", { state: state.value, instance_id: inst.value.trim() });
  });
  return form;
}

function rows(list) {
  return list.map((u) => h("tr", { "data-upgrade": u.id },
    h("td", {}, h("a", { href: link("/upgrade/" + encodeURIComponent(u.id)) }, u.id)),
    h("td", {}, h("a", { href: link("/instance/" + encodeURIComponent(u.instance_id)) }, u.instance_id)),
    h("td", {}, u.kind), h("td", {}, (u.from_version || "?") + " → " + (u.to_version || "?")),
    h("td", {}, badge(u.state)), h("td", { class: "reason" }, u.reason), h("td", {}, when(u.updated))));
}

export async function upgradesPage(main, params, ctx) {
  const status = h("p", { id: "poll-status", role: "status", class: "muted" });
  const body = h("div", { id: "upgrade-list" });
  main.append(h("h1", {}, "Upgrades"), filterForm(params), status, body);
  ctx.poll(async () => {
    const r = await ctx.call("GET", "/upgrades", { state: params.state, instance_id: params.instance_id,
                                                    marker: params.marker, limit: 50 });
    const next = nextMarker(r.json.links);
    body.replaceChildren(
      r.json.upgrades.length ?
        table(["Upgrade", "Instance", "Kind", "From → to", "State", "Reason", "Updated"], rows(r.json.upgrades)) :
        h("p", {}, "No upgrade matches."),
      h("p", { class: "pager" },
        params.marker ? h("a", { href: link("/upgrades", { ...params, marker: "" }) }, "First page") : null, " ",
        next ? h("a", { href: link("/upgrades", { ...params, marker: next }), rel: "next" }, "Next page") : null));
    return JSON.stringify(r.json);
  }, status);
}
