// Node page: #/nodes/NODE, the node's kube-proxy rules as the node prints them, and the
// packet tracer with its step-by-step walk.
"use strict";
(() => {
  const {el, api, route, nodeNames, nodeSelect} = svclab;

  function showTrace(box, r) {
    box.setAttribute("data-verdict", r.Verdict);
    const p = r.Packet || {};
    box.replaceChildren(
      el("p", {}, "Packet ", el("code", {}, `${p.Protocol} ${p.Src}${p.SrcPort ? ":" + p.SrcPort : ""} → ${p.Dst}:${p.DstPort}`),
        " enters through ", p.Origin === "node" ? "OUTPUT (sent by the node)" : "PREROUTING (from a pod or the network)"),
      el("ol", {class: "walk"}, (r.Steps || []).map(s => el("li", {},
        el("span", {class: "where"}, s.Where), " ", el("code", {}, s.Rule),
        s.Note ? el("div", {class: "note"}, s.Note) : null))),
      el("p", {class: "verdict verdict-" + r.Verdict}, "Verdict: ", el("strong", {}, r.Verdict),
        r.Masquerade ? " · masqueraded (SNAT to the node's address)" : "",
        r.Affinity ? " · session affinity via " + r.Affinity : ""),
      (r.Choices || []).length ? el("table", {class: "choices"},
        el("thead", {}, el("tr", {}, el("th", {}, "endpoint"), el("th", {}, "probability"), el("th", {}, "picked by"))),
        el("tbody", {}, r.Choices.map(c => el("tr", {},
          el("td", {}, el("code", {}, c.Endpoint)), el("td", {}, (c.Probability * 100).toFixed(1) + " %"), el("td", {}, el("code", {}, c.Via)))))) : null);
  }

  async function page(app, node) {
    const names = await nodeNames();
    if (!node) {
      if (!names.length) { app.append(el("p", {}, "The lab has no nodes yet.")); return; }
      history.replaceState(null, "", "#/nodes/" + encodeURIComponent(names[0]));
      node = names[0];
    }
    const rules = el("pre", {"data-testid": "rules-text", class: "rules"}, "loading…");
    const cmd = el("span", {class: "meta"});
    const from = el("input", {"data-testid": "trace-from", placeholder: "from IP[:PORT], e.g. 10.244.1.5", size: 28});
    const to = el("input", {"data-testid": "trace-to", placeholder: "to IP:PORT[/tcp|udp], e.g. 10.96.0.10:53/udp", size: 32});
    const run = el("button", {type: "submit", "data-testid": "trace-run"}, "Trace");
    const result = el("div", {"data-testid": "trace-result", class: "trace-result"});
    const form = el("form", {class: "trace-form"}, from, " → ", to, " ", run);
    form.addEventListener("submit", async e => {
      e.preventDefault();
      run.disabled = true;
      result.removeAttribute("data-verdict");
      result.replaceChildren(el("p", {}, "tracing…"));
      try {
        const q = new URLSearchParams({node, from: from.value.trim(), to: to.value.trim()});
        showTrace(result, await api("/api/trace?" + q));
      } catch (err) {
        result.setAttribute("data-verdict", "error");
        result.replaceChildren(el("p", {class: "error"}, String(err.message || err)));
      } finally {
        run.disabled = false;
      }
    });
    app.append(
      el("h1", {}, "Node ", nodeSelect(names, node, "#/nodes/", "rules-node")),
      el("h2", {}, "Packet tracer"),
      el("p", {class: "meta"}, "Follows the first packet of a flow through this node's kube-proxy rules: a source address of the node itself is a packet the node sends, any other one a packet that arrives."),
      form, result,
      el("h2", {}, "kube-proxy rules ", cmd),
      el("p", {}, el("button", {type: "button", onclick: () => load()}, "Reload")),
      rules);
    async function load() {
      rules.textContent = "loading…";
      try {
        const r = await api("/api/nodes/" + encodeURIComponent(node) + "/rules");
        cmd.textContent = "(" + r.command + ")";
        rules.textContent = r.text;
      } catch (err) {
        rules.textContent = "error: " + (err.message || err);
      }
    }
    await load();
  }

  route("#/nodes", (app, rest) => page(app, rest));
})();
