// dagctl dashboard: the few things the server-rendered pages cannot do alone. No framework, no build step.
// Runs list: start a run, refresh the rows. Run page: draw the DAG and the timeline from /api/runs/{id}/view,
// keep them live over Server-Sent Events, tail task logs, cancel and retry.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const page = document.body.dataset.page;

  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 9.95) return seconds.toFixed(1) + "s";
    const whole = Math.round(seconds);
    if (whole < 60) return whole + "s";
    if (whole < 3600) return Math.floor(whole / 60) + "m" + String(whole % 60).padStart(2, "0") + "s";
    return Math.floor(whole / 3600) + "h" + String(Math.floor((whole % 3600) / 60)).padStart(2, "0") + "m";
  }

  function localTimes(root) {
    for (const node of (root || document).querySelectorAll("time[datetime]")) {
      const when = new Date(node.getAttribute("datetime"));
      if (!isNaN(when)) node.textContent = when.toLocaleString();
    }
  }

  async function api(method, url, body) {
    const options = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((data.error || response.statusText) + (data.hint ? " — " + data.hint : ""));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // A status as CSS classes: "st-" + its words joined by "-". A task a run has not started ("not started", as
  // dagctl show says) is drawn as a pending one is: the stylesheet's grey with dark text.
  function statusClass(status) {
    const name = "st-" + String(status).replace(/\s+/g, "-");
    return status === "not started" ? name + " st-pending" : name;
  }

  function say(id, text, bad) {
    const node = document.getElementById(id);
    if (!node) return;
    node.textContent = text;
    node.classList.toggle("error", !!bad);
  }

  // ------------------------------------------------------------------------------------------- runs list
  function runsPage() {
    const form = document.getElementById("start-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const [kind, name] = form.target.value.split(/:(.*)/s);
      let params = {};
      if (form.params.value.trim()) {
        try {
          params = JSON.parse(form.params.value);
        } catch (e) {
          say("start-message", "params must be a JSON object, e.g. {\"rows\": 500}", true);
          return;
        }
      }
      say("start-message", "starting…");
      try {
        const started = await api("POST", "/api/runs", { [kind]: name, params });
        window.location.href = "/runs/" + encodeURIComponent(started.run_id);
      } catch (e) {
        say("start-message", e.message, true);
      }
    });
    const rows = document.getElementById("run-rows");
    async function refresh() {
      if (document.hidden) return;
      const response = await fetch(rows.dataset.refresh, { headers: { Accept: "text/html" } }).catch(() => null);
      if (response && response.ok) {
        rows.innerHTML = await response.text();
        localTimes(rows);
      }
    }
    setInterval(refresh, 3000);
  }

  // ------------------------------------------------------------------------------------------- run page
  function runPage() {
    let view = JSON.parse(document.getElementById("initial-view").textContent);
    const runId = view.run.run_id;
    const base = "/api/runs/" + encodeURIComponent(runId);
    let logSource = null;

    function drawMeta() {
      const run = view.run;
      const status = document.getElementById("run-status");
      status.replaceChildren(el("span", { class: "badge st-" + run.status }, run.status));
      const meta = document.getElementById("run-meta");
      meta.replaceChildren();
      const rows = [
        ["DAG", run.dag_name],
        ["tenant", run.tenant_id],
        ["trigger", run.trigger + (run.parent_run_id ? " (retry of " + run.parent_run_id + ")" : "")],
        ["started", run.started ? new Date(run.started).toLocaleString() : ""],
        ["took", duration(run.duration_s)],
        ["params", run.params ? JSON.stringify(run.params) : ""],
        ["error", run.error || ""],
      ];
      for (const [key, value] of rows) {
        if (!value) continue;
        meta.append(el("dt", {}, key), el("dd", {}, value));
      }
      const live = ["running", "waiting", "starting"].includes(run.status);
      document.getElementById("cancel-btn").disabled = !live;
      document.getElementById("pause-btn").disabled = !(run.status === "running" || run.status === "waiting");
      document.getElementById("resume-btn").disabled = !(run.status === "paused" || run.status === "abandoned");
      const retry = document.getElementById("retry-btn");
      const why = retryBlocked();
      retry.disabled = why !== null;
      retry.title = why || "run what failed again, as a new run";
    }

    // Why Retry cannot apply to this run now (null: it can): it is still going, it never started, or every
    // task succeeded (nothing to retry; the API says so too).
    function retryBlocked() {
      const run = view.run;
      if (["running", "waiting", "starting"].includes(run.status)) return `the run is ${run.status}`;
      if (run.status === "not_started") return "the run never started";
      const tasks = run.tasks || {};
      const ids = view.graph ? view.graph.nodes.map((n) => n.id) : Object.keys(tasks);
      if (ids.length && ids.every((id) => tasks[id] && tasks[id].status === "success")) {
        return "every task succeeded: nothing to retry";
      }
      return null;
    }

    function drawGates() {
      const gates = Object.values(view.run.tasks || {}).filter((t) => t.status === "waiting" && t.approval);
      document.getElementById("gates").hidden = gates.length === 0;
      const list = document.getElementById("gate-list");
      list.replaceChildren();
      for (const task of gates) {
        const item = el("li", { "data-task": task.task_id });
        const who = (task.approval.approvers || []).join(", ");
        item.append(
          el("b", {}, task.task_id), " ",
          el("span", {}, task.approval.message || ""), " ",
          el("span", { class: "muted" }, who ? `(approvers: ${who}, policy ${task.approval.policy})` : ""), " ",
        );
        for (const decision of ["approve", "reject"]) {
          const button = el("button", { type: "button", class: decision === "reject" ? "danger" : "primary" },
            decision === "approve" ? "Approve" : "Reject");
          button.addEventListener("click", () => decide(task.task_id, decision));
          item.append(button, " ");
        }
        list.append(item);
      }
    }

    async function decide(task, decision) {
      const by = document.getElementById("decider").value.trim();
      if (!by) { say("action-message", "write your name under “Waiting for approval” first", true); return; }
      localStorage.setItem("dagctl.decider", by);
      let comment = null;
      if (decision === "reject") {
        comment = window.prompt(`Why reject ${task}?`);
        if (!comment) return;
      }
      try {
        const done = await api("POST", `${base}/approvals/${encodeURIComponent(task)}`, { decision, by, comment });
        say("action-message", `${task}: ${done.gate}`);
        schedule();
      } catch (e) {
        say("action-message", e.message, true);
      }
    }

    // The tasks of the run's DAG it has not started, by id: {task_id, status, note}, as dagctl show lists them.
    function unstarted() {
      const never = {};
      for (const task of view.run.unstarted_tasks || []) never[task.task_id] = task;
      return never;
    }

    function drawGraph() {
      const holder = document.getElementById("graph");
      const graph = view.graph;
      if (!graph) {
        holder.replaceChildren(el("p", { class: "muted" }, view.run.error || "waiting for the run to start…"));
        return;
      }
      const svg = el("svg:svg", {
        viewBox: `0 0 ${graph.width} ${graph.height}`,
        width: graph.width,
        class: "dag",
        role: "img",
        "aria-label": "DAG of the run",
      });
      const at = {};
      for (const node of graph.nodes) at[node.id] = node;
      const never = unstarted();
      const w = graph.node_w, h = graph.node_h;
      for (const edge of graph.edges) {
        const a = at[edge.from], b = at[edge.to];
        if (!a || !b) continue;
        const x1 = a.x + w, y1 = a.y + h / 2, x2 = b.x, y2 = b.y + h / 2, mid = (x1 + x2) / 2;
        svg.append(el("svg:path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
      }
      for (const node of graph.nodes) {
        const g = el("svg:g", {
          class: "node " + statusClass(node.status) + (node.critical ? " critical" : ""),
          "data-task": node.id,
          transform: `translate(${node.x},${node.y})`,
          tabindex: "0",
        });
        const note = never[node.id] ? ` — ${never[node.id].note}` : "";
        g.append(el("svg:title", {}, `${node.id}: ${node.status}` + (node.attempts > 1 ? `, ${node.attempts} attempts` : "") + note));
        g.append(el("svg:rect", { width: w, height: h, rx: 6 }));
        const label = node.id.length > 20 ? node.id.slice(0, 19) + "…" : node.id;
        g.append(el("svg:text", { x: 10, y: h / 2 + 4 }, label));
        g.addEventListener("click", () => openLog(node.id));
        svg.append(g);
      }
      holder.replaceChildren(svg);
      if (graph.omitted) holder.append(el("p", { class: "muted" }, `${graph.omitted} more tasks not drawn`));
    }

    function drawGantt() {
      const holder = document.getElementById("gantt");
      const t = view.timeline;
      if (!t || !t.lanes.length) {
        holder.replaceChildren(el("p", { class: "muted" }, "no attempts yet"));
        return;
      }
      const labelW = 170, laneH = 22, top = 24, chartW = t.width;
      const span = t.span_s > 0 ? t.span_s : 1;
      const scale = chartW / span;
      const height = top + laneH * t.lanes.length + 8;
      const svg = el("svg:svg", { viewBox: `0 0 ${labelW + chartW + 20} ${height}`, class: "timeline", role: "img" });
      for (const tick of t.ticks) {
        const x = labelW + tick.x;
        svg.append(el("svg:line", { class: "grid", x1: x, x2: x, y1: top - 6, y2: height - 8 }));
        svg.append(el("svg:text", { class: "tick", x, y: top - 10, "text-anchor": "middle" }, tick.label));
      }
      const waitWord = (kind) => ({ approval: "waiting for approval", retry_wait: "waiting to retry" })[kind] || kind.replace("_", " ");
      t.lanes.forEach((lane, n) => {
        const y = top + n * laneH;
        const g = el("svg:g", { class: "lane" + (lane.critical ? " critical" : ""), "data-task": lane.task_id });
        g.append(el("svg:text", { class: "label", x: 4, y: y + 15 }, lane.task_id.length > 22 ? lane.task_id.slice(0, 21) + "…" : lane.task_id));
        const bar = (segment, cls, tip) => {
          const x = labelW + segment.start_s * scale;
          const width = Math.max((segment.end_s - segment.start_s) * scale, 2);
          const rect = el("svg:rect", { class: "bar " + cls, x, y: y + 5, width, height: 12, rx: 2 });
          rect.append(el("svg:title", {}, tip));
          g.append(rect);
        };
        for (const a of lane.attempts) {
          if (a.wait) bar(a.wait, a.wait.kind, `${lane.task_id}: ${waitWord(a.wait.kind)} ${duration(a.wait.end_s - a.wait.start_s)}`);
          bar(a.run, a.outcome, `${lane.task_id} attempt ${a.number}: ${a.outcome}, ${duration(a.run.end_s - a.run.start_s)}` + (a.error ? ` — ${a.error}` : ""));
        }
        if (lane.waiting) bar(lane.waiting, lane.waiting.kind, `${lane.task_id}: ${waitWord(lane.waiting.kind)}`);
        g.addEventListener("click", () => openLog(lane.task_id));
        svg.append(g);
      });
      holder.replaceChildren(svg);
      if (t.critical_path.length) {
        holder.append(el("p", { class: "muted" }, "critical path" + (t.edges_known ? "" : " (guessed from times)") + ": " + t.critical_path.join(" → ")));
      }
    }

    function drawTasks() {
      const body = document.getElementById("task-rows");
      const tasks = view.run.tasks || {};
      const never = unstarted();
      const order = view.graph ? view.graph.nodes.map((n) => n.id) : Object.keys(tasks);
      body.replaceChildren();
      for (const id of order) {
        const task = tasks[id] || never[id] || { status: "pending" };
        const row = el("tr", { "data-task": id });
        const link = el("a", { href: "#log" }, id);
        link.addEventListener("click", (e) => { e.preventDefault(); openLog(id); });
        const name = el("td");
        name.append(link);
        const status = el("td");
        status.append(el("span", { class: "badge " + statusClass(task.status) }, task.status));
        row.append(
          name, status,
          el("td", { class: "num" }, task.attempts || ""),
          el("td", {}, task.started ? new Date(task.started).toLocaleTimeString() : ""),
          el("td", { class: "num" }, duration(task.duration_s)),
          el("td", { class: "num" }, task.exit_code === null || task.exit_code === undefined ? "" : task.exit_code),
          el("td", {}, task.error || task.reason || task.note || ""),
        );
        body.append(row);
      }
    }

    function draw() {
      drawMeta();
      drawGates();
      drawGraph();
      drawGantt();
      drawTasks();
    }

    let pending = null;
    let fetching = false;
    async function refresh() {
      if (fetching) { schedule(); return; }
      fetching = true;
      try {
        view = await api("GET", base + "/view");
        draw();
      } catch (e) {
        say("action-message", e.message, true);
      } finally {
        fetching = false;
      }
    }
    function schedule() {
      if (pending === null) pending = setTimeout(() => { pending = null; refresh(); }, 150);
    }

    function follow() {
      const source = new EventSource(base + "/events");
      source.onmessage = schedule;
      source.addEventListener("complete", () => { source.close(); refresh(); });
    }

    function openLog(task) {
      if (logSource) logSource.close();
      const panel = document.getElementById("log-panel");
      const out = document.getElementById("log");
      panel.hidden = false;
      document.getElementById("log-task").textContent = task;
      say("log-state", "following…");
      out.textContent = "";
      logSource = new EventSource(base + "/logs/" + encodeURIComponent(task));
      logSource.addEventListener("attempt", (e) => {
        const data = JSON.parse(e.data);
        if (data.attempt > 1) out.append(`--- attempt ${data.attempt} ---\n`);
      });
      logSource.onmessage = (e) => {
        const data = JSON.parse(e.data);
        const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
        out.append(data.line + "\n");
        if (stick) out.scrollTop = out.scrollHeight;
      };
      logSource.addEventListener("complete", () => {
        logSource.close();
        say("log-state", out.textContent ? "(ended)" : "(no output)");
      });
      panel.scrollIntoView({ block: "nearest" });
    }

    document.getElementById("cancel-btn").addEventListener("click", async () => {
      say("action-message", "cancelling…");
      try {
        await api("POST", base + "/cancel");
        say("action-message", "cancel requested");
        schedule();
      } catch (e) {
        say("action-message", e.message, true);
      }
    });
    for (const [id, action, word] of [["pause-btn", "pause", "pause"], ["resume-btn", "resume", "resume"]]) {
      document.getElementById(id).addEventListener("click", async () => {
        say("action-message", word + "…");
        try {
          await api("POST", `${base}/${action}`);
          say("action-message", word + " requested");
          if (action === "resume") follow();
          schedule();
        } catch (e) {
          say("action-message", e.message, true);
        }
      });
    }
    document.getElementById("decider").value = localStorage.getItem("dagctl.decider") || "";
    document.getElementById("retry-btn").addEventListener("click", async () => {
      say("action-message", "retrying…");
      try {
        const started = await api("POST", base + "/retry", {});
        if (started.run_id) window.location.href = "/runs/" + encodeURIComponent(started.run_id);
        else say("action-message", "retry started (pid " + started.pid + "); its run will be in the runs list");
      } catch (e) {
        say("action-message", e.message, true);
      }
    });

    draw();
    if (["running", "waiting", "starting"].includes(view.run.status)) follow();
  }

  localTimes();
  if (page === "runs") runsPage();
  if (page === "run") runPage();
})();
