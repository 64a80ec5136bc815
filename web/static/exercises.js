// Exercises: #/exercises (the list with progress) and #/exercises/ID (steps, Check buttons).
"use strict";
(() => {
  const {el, api, route} = svclab;

  async function list(app) {
    const exs = await api("/api/exercises");
    app.append(el("h1", {}, "Exercises"),
      el("ol", {class: "exercises"}, exs.map(e =>
        el("li", {"data-testid": "exercise-" + e.id, class: e.steps > 0 && e.passed === e.steps ? "done" : ""},
          el("a", {href: "#/exercises/" + encodeURIComponent(e.id)}, e.title),
          el("span", {class: "progress", "data-testid": "progress-" + e.id}, e.progress),
          el("p", {class: "summary"}, e.summary),
          el("p", {class: "meta"}, [
            e.minutes ? "~" + e.minutes + " min" : null,
            e.topics.length ? e.topics.join(", ") : null,
            e.prerequisites.length ? "after: " + e.prerequisites.join(", ") : null,
          ].filter(Boolean).join(" · "))))));
  }

  // showResult fills a step's result element and sets data-status.
  function showResult(box, res) {
    box.replaceChildren(
      el("p", {class: "status status-" + res.status}, "Result: " + res.status),
      el("ul", {class: "checks"}, (res.checks || []).map(c =>
        el("li", {class: "check status-" + c.status, "data-check-status": c.status},
          el("span", {class: "badge status-" + c.status}, c.status),
          " ", el("strong", {}, c.name),
          c.message ? el("div", {class: "message"}, c.message) : null,
          c.hint && c.status !== "pass" ? el("div", {class: "hint"}, "Hint: ", el("code", {}, c.hint)) : null))));
    box.setAttribute("data-status", res.status);
  }

  async function view(app, id) {
    const ex = await api("/api/exercises/" + encodeURIComponent(id));
    const progress = el("span", {class: "progress", "data-testid": "progress-" + ex.id}, ex.progress);
    app.append(
      el("p", {}, el("a", {href: "#/exercises"}, "← all exercises")),
      el("h1", {}, ex.title, " ", progress),
      el("p", {class: "summary"}, ex.summary),
      ex.namespace ? el("p", {class: "meta"}, "Namespace: ", el("code", {}, ex.namespace)) : null);
    ex.stepViews.forEach((st, i) => {
      const body = el("div", {class: "body"});
      body.innerHTML = st.html; // rendered and escaped by the server
      const result = el("div", {class: "result", "data-testid": "result-" + st.id, "aria-live": "polite"});
      const button = el("button", {type: "button", class: "check", "data-testid": "check-" + st.id}, "Check");
      button.addEventListener("click", async () => {
        button.disabled = true;
        result.removeAttribute("data-status");
        result.replaceChildren(el("p", {class: "running"}, "Checking…"));
        try {
          const res = await api("/api/exercises/" + encodeURIComponent(ex.id) + "/steps/" + encodeURIComponent(st.id) + "/check", {method: "POST"});
          showResult(result, res);
          const fresh = await api("/api/exercises/" + encodeURIComponent(ex.id));
          progress.textContent = fresh.progress;
        } catch (e) {
          showResult(result, {status: "error", checks: [{name: "the check request failed", status: "error", message: String(e.message || e)}]});
        } finally {
          button.disabled = false;
        }
      });
      if (st.result) showResult(result, st.result);
      app.append(el("section", {class: "step", "data-testid": "step-" + st.id},
        el("h2", {}, (i + 1) + ". " + st.title, st.transient ? el("span", {class: "tag", title: "checked only while you are at this step"}, "this step only") : null),
        body,
        el("div", {class: "checkbar"}, button,
          el("span", {class: "meta"}, st.checks.length ? st.checks.length + (st.checks.length === 1 ? " check" : " checks") : "nothing to check in this step")),
        result));
    });
  }

  route("#/exercises", (app, rest) => rest ? view(app, rest) : list(app));
})();
