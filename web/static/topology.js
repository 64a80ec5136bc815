// Topology: #/topology, a live SVG of nodes (with their pods) and Services (with lines to
// their endpoint pods), redrawn from the server's topology event stream.
"use strict";
(() => {
  const {el, route} = svclab;
  const NODE_W = 330, GAP = 28, POD_H = 40, NODE_HEAD = 58, SVC_W = 300, SVC_H = 74;

  function svcLines(s) {
    const ports = s.ports.map(p => p.port + (p.targetPort && p.targetPort !== String(p.port) ? "→" + p.targetPort : "") +
      "/" + p.protocol.toLowerCase() + (p.nodePort ? " NodePort " + p.nodePort : "")).join(", ");
    return [
      s.namespace + "/" + s.name,
      s.type + (s.clusterIP ? " · ClusterIP " + s.clusterIP : "") + (s.externalName ? " → " + s.externalName : ""),
      ports || "no ports",
      s.externalIPs.length ? "external IP " + s.externalIPs.join(", ") : (s.type === "LoadBalancer" ? "external IP <pending>" : ""),
    ];
  }

  function draw(box, t, hideSystem) {
    const sys = ns => hideSystem && ns === "kube-system";
    const services = t.services.filter(s => !sys(s.namespace));
    const pods = t.pods.filter(p => !sys(p.namespace));
    const nodes = t.nodes.map(n => ({n, pods: pods.filter(p => p.node === n.name)}));
    const loose = pods.filter(p => !p.node || !t.nodes.some(n => n.name === p.node));
    if (loose.length) nodes.push({n: {name: "", ips: [], ready: false, unscheduled: true}, pods: loose});
    const width = Math.max(nodes.length * (NODE_W + GAP) + GAP, 900);
    const perRow = Math.max(1, Math.floor((width - GAP) / (SVC_W + GAP)));
    const svcRows = Math.ceil(services.length / perRow);
    const nodeTop = GAP + svcRows * (SVC_H + GAP) + 40;
    const maxPods = Math.max(1, ...nodes.map(x => x.pods.length));
    const height = nodeTop + NODE_HEAD + maxPods * POD_H + 2 * GAP;
    const svg = el("svg", {viewBox: `0 0 ${width} ${height}`, width, height, class: "topology", role: "img"});
    const lines = el("g", {class: "links"}), boxes = el("g", {});
    // Lines go over the boxes, so each one visibly ends on its endpoint pod.
    svg.append(boxes, lines);

    const podPos = {};
    nodes.forEach(({n, pods: np}, i) => {
      const x = GAP + i * (NODE_W + GAP), h = NODE_HEAD + Math.max(1, np.length) * POD_H + 10;
      const g = el("g", {"data-testid": n.unscheduled ? "node-unscheduled" : "node-" + n.name, class: "node" + (n.ready ? " ready" : " notready")},
        el("rect", {x, y: nodeTop, width: NODE_W, height: h, rx: 8}),
        el("text", {x: x + 12, y: nodeTop + 22, class: "title"}, n.unscheduled ? "not scheduled" : n.name),
        el("text", {x: x + 12, y: nodeTop + 42, class: "sub"}, n.unscheduled ? "" : (n.ips.join(", ") || "no IP") + " · " + (n.ready ? "Ready" : "NotReady")));
      np.forEach((p, j) => {
        const py = nodeTop + NODE_HEAD + j * POD_H;
        podPos[p.namespace + "/" + p.name] = {x: x + 8, y: py + 17, r: x + NODE_W - 8};
        g.append(el("g", {"data-testid": "pod-" + p.namespace + "-" + p.name, class: "pod" + (p.ready ? " ready" : " notready"), "data-ready": p.ready},
          el("title", {}, p.namespace + "/" + p.name + " (" + p.phase + ")"),
          el("rect", {x: x + 8, y: py, width: NODE_W - 16, height: POD_H - 6, rx: 5}),
          el("text", {x: x + 16, y: py + 14, class: "name"}, (p.namespace === "default" ? "" : p.namespace + "/") + p.name),
          el("text", {x: x + 16, y: py + 28, class: "sub"}, (p.ip || "no IP") + " · " + (p.ready ? "ready" : p.phase === "Running" ? "not ready" : p.phase))));
      });
      boxes.append(g);
    });

    services.forEach((s, i) => {
      const x = GAP + (i % perRow) * (SVC_W + GAP), y = GAP + Math.floor(i / perRow) * (SVC_H + GAP);
      const text = svcLines(s);
      boxes.append(el("g", {"data-testid": "svc-" + s.namespace + "-" + s.name, class: "svc type-" + s.type},
        el("rect", {x, y, width: SVC_W, height: SVC_H, rx: 8}),
        text.map((line, k) => el("text", {x: x + 10, y: y + 18 + k * 16, class: k === 0 ? "title" : "sub"}, line))));
      for (const ep of s.endpoints) {
        const p = ep.pod && podPos[ep.pod];
        if (!p) continue;
        const sx = x + SVC_W / 2, sy = y + SVC_H;
        const tx = p.r, ty = p.y - 3; // the pod box's right edge, mid-height
        lines.append(el("path", {d: `M${sx},${sy} C${sx},${sy + 80} ${tx + 60},${ty} ${tx},${ty}`,
          class: "link" + (ep.ready ? " ready" : " notready"), "data-service": s.namespace + "/" + s.name, "data-pod": ep.pod}));
      }
    });
    box.replaceChildren(svg);
  }

  route("#/topology", app => {
    let last = null;
    const hide = el("input", {type: "checkbox", id: "hide-system"});
    const status = el("span", {class: "meta"}, "connecting…");
    const box = el("div", {"data-testid": "topology", class: "topology-box"});
    hide.addEventListener("change", () => last && draw(box, last, hide.checked));
    app.append(el("h1", {}, "Topology"),
      el("p", {class: "toolbar"}, el("label", {}, hide, " hide kube-system"), " ", status),
      box);
    const es = new EventSource("/api/topology/events");
    es.addEventListener("topology", e => {
      last = JSON.parse(e.data);
      draw(box, last, hide.checked);
      status.textContent = "live · updated " + new Date().toLocaleTimeString();
    });
    es.onerror = () => { status.textContent = "reconnecting…"; };
    return () => es.close();
  });
})();
