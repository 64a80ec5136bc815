// Terminal: #/terminal/NODE, a shell in the node's network namespace (xterm.js over a
// WebSocket; the server runs bash on a pty and kills it when the socket closes).
"use strict";
(() => {
  const {el, route, nodeNames, nodeSelect} = svclab;

  async function page(app, node) {
    const names = await nodeNames();
    if (!node) {
      if (!names.length) { app.append(el("p", {}, "The lab has no nodes yet.")); return; }
      history.replaceState(null, "", "#/terminal/" + encodeURIComponent(names[0]));
      node = names[0];
    }
    const status = el("span", {class: "meta"}, "connecting…");
    const box = el("div", {"data-testid": "terminal", class: "terminal"});
    app.append(el("h1", {}, "Terminal on ", nodeSelect(names, node, "#/terminal/", "terminal-node"), " ", status),
      el("p", {class: "meta"}, "A shell in the node's network namespace; kubectl uses the lab's kubeconfig."),
      box);
    const term = new Terminal({cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 5000});
    const fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(box);
    fit.fit();
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(proto + "//" + location.host + "/api/terminal?node=" + encodeURIComponent(node));
    ws.binaryType = "arraybuffer";
    const send = m => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };
    ws.onopen = () => {
      status.textContent = "connected";
      send({type: "resize", cols: term.cols, rows: term.rows});
      term.focus();
    };
    ws.onmessage = e => term.write(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
    ws.onclose = () => { status.textContent = "disconnected (reload the page for a new shell)"; };
    term.onData(d => send({type: "input", data: d}));
    term.onResize(({cols, rows}) => send({type: "resize", cols, rows}));
    const onResize = () => fit.fit();
    window.addEventListener("resize", onResize);
    return () => {
      window.removeEventListener("resize", onResize);
      ws.close();
      term.dispose();
    };
  }

  route("#/terminal", (app, rest) => page(app, rest));
})();
