// svclab UI: a hash-routed single page app. Each page module registers a route with
// svclab.route(prefix, render); render(container, rest) may return a cleanup function that
// runs when the page is left (to close event streams and sockets).
"use strict";
const svclab = (() => {
  const routes = [];
  let cleanup = null;

  // el builds an element: el("div", {class: "x", "data-testid": "y"}, child, "text", ...).
  function el(tag, attrs, ...children) {
    const ns = ["svg", "g", "rect", "line", "text", "path", "title"].includes(tag) ? "http://www.w3.org/2000/svg" : null;
    const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // api fetches JSON from the server; a missing or expired token reloads to the login page.
  async function api(path, opts) {
    const resp = await fetch(path, Object.assign({credentials: "same-origin", headers: {"Accept": "application/json"}}, opts || {}));
    if (resp.status === 401) { location.reload(); throw new Error("not signed in"); }
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) throw new Error((body && body.error) || (resp.status + " " + resp.statusText));
    return body;
  }

  function route(prefix, render) { routes.push({prefix, render}); }

  async function navigate() {
    if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
    const hash = location.hash || "#/exercises";
    if (!location.hash) { history.replaceState(null, "", "#/exercises"); }
    const app = document.getElementById("app");
    app.replaceChildren();
    document.querySelectorAll("nav a").forEach(a => {
      const h = a.getAttribute("href");
      a.classList.toggle("active", hash === h || hash.startsWith(h.endsWith("/") ? h : h + "/"));
    });
    for (const r of routes.sort((a, b) => b.prefix.length - a.prefix.length)) {
      if (hash === r.prefix || hash.startsWith(r.prefix + "/")) {
        const rest = decodeURIComponent(hash.slice(r.prefix.length).replace(/^\//, ""));
        try {
          const c = await r.render(app, rest);
          if (typeof c === "function") cleanup = c;
        } catch (e) {
          app.append(el("p", {class: "error"}, String(e.message || e)));
        }
        return;
      }
    }
    app.append(el("p", {class: "error"}, "No page " + hash));
  }

  // nodeNames lists the lab's nodes (from the topology).
  async function nodeNames() {
    const t = await api("/api/topology");
    return t.nodes.map(n => n.name);
  }

  // nodeSelect is a select of the nodes that switches the hash to prefix + node.
  function nodeSelect(names, current, prefix, testid) {
    return el("select", {"data-testid": testid, onchange: e => { location.hash = prefix + e.target.value; }},
      names.map(n => el("option", {value: n, selected: n === current}, n)));
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return; }
    const ta = el("textarea", {style: "position:fixed;left:-9999px"}, text);
    document.body.append(ta); ta.select(); document.execCommand("copy"); ta.remove();
  }

  // Copy buttons of rendered Markdown code blocks.
  document.addEventListener("click", async e => {
    const b = e.target.closest("button.copy");
    if (!b) return;
    const code = b.parentElement.querySelector("pre");
    try { await copyText(code.textContent); b.textContent = "Copied"; }
    catch (err) { b.textContent = "Copy failed"; }
    setTimeout(() => { b.textContent = "Copy"; }, 1500);
  });

  function start() {
    window.addEventListener("hashchange", navigate);
    navigate();
  }

  return {el, api, route, start, nodeNames, nodeSelect, copyText};
})();
