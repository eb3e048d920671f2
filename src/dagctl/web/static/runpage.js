// dagctl dashboard: the run page. Draws the DAG, the timeline and the tasks from /api/runs/{id}/view, keeps them
// live over Server-Sent Events (refetching the view at most once at a time, less often for large runs, and
// redrawing only what changed), ticks elapsed times while the run runs, and steers the run (cancel, pause,
// resume, retry, approvals).
"use strict";

(function () {
  if (document.body.dataset.page !== "run") return;
  const { el, duration, say, api, once, keepFocus, stream, statusClass } = window.dagctl;
  const LIVE = ["running", "waiting", "starting"];
  const STOPPED = ["paused", "abandoned"];
  const TABLE_MOST = 1000; // rows drawn at once; the status filter reaches the others
  const RESUME_WAIT_MS = 30000;
  const STOPPED_POLL_MS = 5000;

  let view = JSON.parse(document.getElementById("initial-view").textContent);
  let viewAt = performance.now(); // when `view` was made (its server "now"), by this page's clock
  const runId = view.run.run_id;
  const base = "/api/runs/" + encodeURIComponent(runId);
  const logs = new window.dagctl.LogPanel(base, () => view);
  const busy = new Set(); // buttons whose request is out
  let filter = "all";
  const drawn = {}; // what each part was last drawn from

  const live = () => LIVE.includes(view.run.status);
  const runLink = (id) => el("a", { href: "/runs/" + encodeURIComponent(id) }, id);

  // Seconds since the view was made; and the server's "now" in ms (the timeline's start plus its span), for
  // elapsed times that go on without a refetch.
  const sinceView = () => (performance.now() - viewAt) / 1000;
  function serverNow() {
    const t = view.timeline;
    return t && t.started ? Date.parse(t.started) + (t.span_s + sinceView()) * 1000 : Date.now();
  }

  // ------------------------------------------------------------------------------------------- facts and buttons
  // What `dagctl show` says of how a run came to be: "manual", "retry of RUN", "parent (sub-DAG run of RUN, task
  // T)", "(schedule S)"; run ids as links.
  function trigger(run) {
    if (!run.trigger && !run.parent_run_id) return null;
    const out = [el("span", {}, run.trigger || "unknown")];
    if (run.parent_task && run.parent_run_id) {
      out.push(" (sub-DAG run of ", runLink(run.parent_run_id), `, task ${run.parent_task})`);
    } else if (run.parent_run_id) {
      out.push(run.trigger === "retry" ? " of " : " (after run ", runLink(run.parent_run_id), run.trigger === "retry" ? "" : ")");
    }
    if (run.schedule_id) out.push(` (schedule ${run.schedule_id})`);
    return out;
  }

  function took() {
    const run = view.run;
    if (live() && view.timeline) return duration(view.timeline.span_s + sinceView());
    return duration(run.duration_s);
  }

  function drawMeta() {
    const run = view.run;
    document.getElementById("run-status").replaceChildren(el("span", { class: "badge st-" + run.status }, run.status));
    const meta = document.getElementById("run-meta");
    meta.replaceChildren();
    const rows = [
      ["DAG", run.dag_name || (run.dag_file ? run.dag_file.split("/").pop() : "")],
      ["tenant", run.tenant_id],
      ["trigger", trigger(run)],
      ["started", run.started ? new Date(run.started).toLocaleString() : ""],
      ["took", took(), "meta-took"],
      ["params", run.params && Object.keys(run.params).length ? JSON.stringify(run.params) : ""],
      ["error", run.error || ""],
      ["resume", run.resume_error ? "failed: " + run.resume_error : ""],
    ];
    for (const [key, value, id] of rows) {
      if (!value || (Array.isArray(value) && !value.length)) continue;
      const dd = el("dd", { id });
      dd.append(...(Array.isArray(value) ? value : [value]));
      meta.append(el("dt", {}, key), dd);
    }
    const status = run.status;
    const enable = (id, ok) => { document.getElementById(id).disabled = !ok || busy.has(id); };
    enable("cancel-btn", live());
    enable("pause-btn", status === "running" || status === "waiting");
    enable("resume-btn", STOPPED.includes(status));
    const why = retryBlocked();
    enable("retry-btn", why === null);
    document.getElementById("retry-btn").title = why || "run what failed again, as a new run";
  }

  // Why Retry cannot apply to this run now (null: it can): it is still going, it never started, or every task of
  // its DAG succeeded (nothing to retry; the API says so too). Every task counts, drawn or not.
  function retryBlocked() {
    const run = view.run;
    if (LIVE.includes(run.status)) return `the run is ${run.status}`;
    if (run.status === "not_started") return "the run never started";
    const top = Object.values(run.tasks || {}).filter((t) => !t.parent);
    const all = (run.unstarted_tasks || []).length === 0 && (run.tasks_total == null || top.length >= run.tasks_total);
    if (top.length && all && top.every((t) => t.status === "success")) return "every task succeeded: nothing to retry";
    return null;
  }

  function drawGates() {
    const gates = Object.values(view.run.tasks || {}).filter((t) => t.status === "waiting" && t.approval);
    document.getElementById("gates").hidden = gates.length === 0;
    const list = document.getElementById("gate-list");
    keepFocus(list, () => {
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
          const button = el("button", { type: "button", class: decision === "reject" ? "danger" : "primary", "data-focus": `${decision}:${task.task_id}` },
            decision === "approve" ? "Approve" : "Reject");
          button.addEventListener("click", () => once(button, () => decide(task.task_id, decision)).catch(() => {}));
          item.append(button, " ");
        }
        list.append(item);
      }
    });
  }

  async function decide(task, decision) {
    const by = document.getElementById("decider").value.trim();
    if (!by) { say("action-message", "write your name under “Waiting for approval” first", true); throw new Error("no name"); }
    localStorage.setItem("dagctl.decider", by);
    let comment = null;
    if (decision === "reject") {
      comment = window.prompt(`Why reject ${task}?`);
      if (!comment) throw new Error("no reason");
    }
    try {
      const done = await api("POST", `${base}/approvals/${encodeURIComponent(task)}`, { decision, by, comment });
      say("action-message", `${task}: ${done.gate}`);
      schedule();
    } catch (e) {
      say("action-message", e.message, true);
      throw e;
    }
  }

  // The tasks of the run's DAG it has not started, by id: {task_id, status, note}, as dagctl show lists them.
  function unstarted() {
    const never = {};
    for (const task of view.run.unstarted_tasks || []) never[task.task_id] = task;
    return never;
  }

  // ------------------------------------------------------------------------------------------- DAG
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
        "data-focus": "node:" + node.id,
        transform: `translate(${node.x},${node.y})`,
        tabindex: "0",
        role: "button",
      });
      const note = never[node.id] ? ` — ${never[node.id].note}` : "";
      g.append(el("svg:title", {}, `${node.id}: ${node.status}` + (node.attempts > 1 ? `, ${node.attempts} attempts` : "") + note));
      g.append(el("svg:rect", { width: w, height: h, rx: 6 }));
      const label = node.id.length > 20 ? node.id.slice(0, 19) + "…" : node.id;
      g.append(el("svg:text", { x: 10, y: h / 2 + 4 }, label));
      activate(g, () => logs.open(node.id));
      svg.append(g);
    }
    holder.replaceChildren(svg);
    if (graph.omitted) holder.append(el("p", { class: "muted" }, `${graph.omitted} more tasks not drawn: every task is in the table below`));
  }

  // Click, Enter or Space.
  function activate(node, action) {
    node.addEventListener("click", action);
    node.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); action(); }
    });
  }

  // ------------------------------------------------------------------------------------------- timeline
  // Drawn from the view, with what ended "now" when the view was made (running attempts, waits) and the span
  // grown by `extra` seconds: a running run's bars grow between events, and a line marks now.
  function drawGantt(extra) {
    const holder = document.getElementById("gantt");
    const t = view.timeline;
    if (!t || !t.lanes.length) {
      holder.replaceChildren(el("p", { class: "muted" }, "no attempts yet"));
      return;
    }
    const grow = (seg) => (extra && seg && Math.abs(seg.end_s - t.span_s) < 0.002 ? { ...seg, end_s: seg.end_s + extra } : seg);
    const spanS = t.span_s + (extra || 0);
    const labelW = 170, laneH = 22, top = 24, chartW = t.width;
    const scale = chartW / (spanS > 0 ? spanS : 1);
    const height = top + laneH * t.lanes.length + 8;
    const svg = el("svg:svg", { viewBox: `0 0 ${labelW + chartW + 20} ${height}`, class: "timeline", role: "img", "aria-label": "timeline of the run's attempts" });
    for (const tick of t.ticks) {
      const x = labelW + tick.seconds * scale;
      svg.append(el("svg:line", { class: "grid", x1: x, x2: x, y1: top - 6, y2: height - 8 }));
      svg.append(el("svg:text", { class: "tick", x, y: top - 10, "text-anchor": "middle" }, tick.label));
    }
    const waitWord = (kind) => ({ approval: "waiting for approval", retry_wait: "waiting to retry" })[kind] || kind.replace("_", " ");
    t.lanes.forEach((lane, n) => {
      const y = top + n * laneH;
      const g = el("svg:g", { class: "lane" + (lane.critical ? " critical" : ""), "data-task": lane.task_id, "data-focus": "lane:" + lane.task_id, tabindex: "0", role: "button" });
      g.append(el("svg:text", { class: "label", x: 4, y: y + 15 }, lane.task_id.length > 22 ? lane.task_id.slice(0, 21) + "…" : lane.task_id));
      const bar = (segment, cls, tip) => {
        const x = labelW + segment.start_s * scale;
        const width = Math.max((segment.end_s - segment.start_s) * scale, 2);
        const rect = el("svg:rect", { class: "bar " + cls, x, y: y + 5, width, height: 12, rx: 2 });
        rect.append(el("svg:title", {}, tip));
        g.append(rect);
      };
      for (const a of lane.attempts) {
        const wait = grow(a.wait), run = grow(a.run);
        if (wait) bar(wait, wait.kind, `${lane.task_id}: ${waitWord(wait.kind)} ${duration(wait.end_s - wait.start_s)}`);
        bar(run, a.outcome, `${lane.task_id} attempt ${a.number}: ${a.outcome}, ${duration(run.end_s - run.start_s)}` + (a.error ? ` — ${a.error}` : ""));
      }
      if (lane.waiting) bar(grow(lane.waiting), lane.waiting.kind, `${lane.task_id}: ${waitWord(lane.waiting.kind)}`);
      activate(g, () => logs.open(lane.task_id));
      svg.append(g);
    });
    if (live()) {
      const x = labelW + spanS * scale;
      svg.append(el("svg:line", { class: "now", x1: x, x2: x, y1: top - 6, y2: height - 8 }));
    }
    holder.replaceChildren(svg);
    if (t.critical_path.length) {
      holder.append(el("p", { class: "muted" }, "critical path" + (t.edges_known ? "" : " (guessed from times)") + ": " + t.critical_path.join(" → ")));
    }
    if (t.omitted) holder.append(el("p", { class: "muted" }, `${t.omitted} more tasks not drawn`));
  }

  // ------------------------------------------------------------------------------------------- tasks
  // Every task of the run's DAG in its order (not only those drawn), each matrix task's cells under it.
  function taskRows() {
    const tasks = view.run.tasks || {};
    const never = unstarted();
    const ids = [...(view.order || []), ...Object.keys(tasks), ...Object.keys(never)];
    const cells = {};
    for (const t of Object.values(tasks)) if (t.parent) (cells[t.parent] = cells[t.parent] || []).push(t);
    const rows = [];
    const seen = new Set();
    for (const id of ids) {
      if (seen.has(id) || (tasks[id] && tasks[id].parent)) continue;
      seen.add(id);
      rows.push({ id, task: tasks[id] || never[id] || { status: "pending" } });
      for (const cell of (cells[id] || []).sort((a, b) => (a.cell_index || 0) - (b.cell_index || 0))) {
        rows.push({ id: cell.task_id, task: cell, cell: true });
      }
    }
    return rows;
  }

  function drawTasks() {
    const rows = taskRows();
    const counts = {};
    for (const { task } of rows) counts[task.status] = (counts[task.status] || 0) + 1;
    if (filter !== "all" && !counts[filter]) filter = "all";
    const chips = document.getElementById("task-filter");
    keepFocus(chips, () => {
      chips.replaceChildren();
      for (const [status, n] of [["all", rows.length], ...Object.entries(counts).sort()]) {
        const chip = el("button", { type: "button", class: "chip " + (status === "all" ? "" : statusClass(status)), "aria-pressed": String(filter === status), "data-focus": "chip:" + status }, `${status} ${n}`);
        chip.addEventListener("click", () => { filter = status; drawTasks(); });
        chips.append(chip);
      }
    });
    const shown = rows.filter((r) => filter === "all" || r.task.status === filter);
    const body = document.getElementById("task-rows");
    keepFocus(body, () => {
      body.replaceChildren();
      for (const { id, task, cell } of shown.slice(0, TABLE_MOST)) body.append(taskRow(id, task, cell));
      if (shown.length > TABLE_MOST) {
        const more = el("tr");
        more.append(el("td", { colspan: 7, class: "empty" }, `${shown.length - TABLE_MOST} more: pick a status above to list them`));
        body.append(more);
      }
    });
    document.getElementById("task-count").textContent = `${rows.length} task${rows.length === 1 ? "" : "s"}` + (filter === "all" ? "" : `, ${shown.length} ${filter}`);
  }

  function taskRow(id, task, cell) {
    const row = el("tr", { "data-task": id, class: cell ? "cell" : null });
    const link = el("a", { href: "#log", "data-focus": "row:" + id }, id);
    link.addEventListener("click", (e) => { e.preventDefault(); logs.open(id); });
    const name = el("td");
    name.append(link);
    if (cell && task.matrix) name.append(" ", el("span", { class: "muted" }, "[" + Object.entries(task.matrix).map(([k, v]) => `${k}=${v}`).join(", ") + "]"));
    const status = el("td");
    status.append(el("span", { class: "badge " + statusClass(task.status) }, task.status));
    const running = task.started && !task.ended && ["running", "retrying"].includes(task.status) && live();
    const tookCell = el("td", { class: "num", "data-since": running ? task.started : null }, running ? duration((serverNow() - Date.parse(task.started)) / 1000) : duration(task.duration_s));
    const why = el("td", {}, task.error || task.reason || task.note || "");
    if (task.child_run_id) why.append(why.textContent ? " · " : "", "sub-DAG run ", runLink(task.child_run_id));
    row.append(
      name, status,
      el("td", { class: "num" }, task.attempts || ""),
      el("td", {}, task.started ? new Date(task.started).toLocaleTimeString() : ""),
      tookCell,
      el("td", { class: "num" }, task.exit_code === null || task.exit_code === undefined ? "" : task.exit_code),
      why,
    );
    return row;
  }

  // ------------------------------------------------------------------------------------------- drawing
  // Redraw each part whose data changed since it was last drawn (a large run's table is costly to rebuild).
  function draw() {
    drawMeta();
    const parts = [
      ["gates", () => JSON.stringify(Object.values(view.run.tasks || {}).filter((t) => t.status === "waiting" && t.approval)), drawGates],
      ["graph", () => JSON.stringify(view.graph), drawGraph],
      ["gantt", () => JSON.stringify(view.timeline) + view.run.status, () => drawGantt(0)],
      ["tasks", () => JSON.stringify([view.run.tasks, view.run.unstarted_tasks, view.order, filter, view.run.status]), drawTasks],
    ];
    for (const [name, data, redraw] of parts) {
      const now = data();
      if (drawn[name] === now) continue;
      drawn[name] = now;
      keepFocus(document.getElementById({ tasks: "task-rows", gates: "gate-list" }[name] || name), redraw);
    }
  }

  // Elapsed times of a running run, every second, without asking the server.
  function tick() {
    if (!live() || document.hidden) return;
    const meta = document.getElementById("meta-took");
    if (meta) meta.textContent = took();
    for (const cell of document.querySelectorAll("#task-rows td[data-since]")) {
      cell.textContent = duration((serverNow() - Date.parse(cell.dataset.since)) / 1000);
    }
    keepFocus(document.getElementById("gantt"), () => drawGantt(sinceView()));
  }
  setInterval(tick, 1000);

  // ------------------------------------------------------------------------------------------- staying live
  // At most one /view request at a time; events that arrive meanwhile ask for one more after it. A large run is
  // asked for at most every second (or five times as long as the last answer took), a small one after 150 ms.
  let inFlight = false;
  let again = false;
  let timer = null;
  let lastStart = -Infinity;
  let lastCost = 0;
  function big() {
    const tasks = Math.max((view.order || []).length, view.run.tasks_total || 0, Object.keys(view.run.tasks || {}).length);
    return tasks > 200 || lastCost > 200;
  }
  function schedule() {
    if (inFlight) { again = true; return; }
    if (timer !== null) return;
    const gap = Math.max(big() ? 1000 : 150, lastCost * 5);
    timer = setTimeout(refresh, Math.max(lastStart + gap - performance.now(), 150));
  }
  async function refresh() {
    timer = null;
    inFlight = true;
    lastStart = performance.now();
    try {
      const fresh = await api("GET", base + "/view");
      view = fresh;
      viewAt = performance.now();
      draw();
      say("conn-message", "");
    } catch (e) {
      say("conn-message", e.message, true);
    } finally {
      lastCost = performance.now() - lastStart;
      inFlight = false;
      if (again) { again = false; schedule(); }
    }
  }

  let events = null;
  function follow() {
    if (events) return;
    events = stream(base + "/events", {
      message: schedule,
      complete: (e) => {
        events.close();
        events = null;
        const data = JSON.parse(e.data);
        refresh();
        if (STOPPED.includes(data.status)) watchStopped();
      },
    }, (text, fatal) => {
      if (text === null) say("conn-message", "");
      else say("conn-message", (fatal ? "no live updates: " : "") + text, true);
      if (fatal) events = null;
    });
  }

  // A paused or abandoned run can go on (Resume here, in another tab, dagctl resume): look now and then, cheaply,
  // and follow it again once it does.
  let stoppedPoll = null;
  function watchStopped() {
    if (stoppedPoll !== null) return;
    stoppedPoll = setInterval(async () => {
      if (document.hidden) return;
      const run = await api("GET", base + "?tasks=false").catch(() => null);
      if (run && !STOPPED.includes(run.status)) goneOn();
    }, STOPPED_POLL_MS);
  }
  function goneOn() {
    clearInterval(stoppedPoll);
    stoppedPoll = null;
    refresh();
    follow();
  }

  // After Resume: wait (a while) for the run to say it goes on; a resume that failed says why.
  async function awaitResumed() {
    const until = performance.now() + RESUME_WAIT_MS;
    const pause = () => new Promise((done) => setTimeout(done, 400));
    while (performance.now() < until) {
      const run = await api("GET", base + "?tasks=false");
      if (!STOPPED.includes(run.status)) {
        say("action-message", "resumed");
        goneOn();
        return;
      }
      if (run.resume_error) throw new Error("resume failed: " + run.resume_error);
      await pause();
    }
    throw new Error(`resume was asked for, but the run is still ${view.run.status} after ${RESUME_WAIT_MS / 1000} s (dagctl show ${runId} says more)`);
  }

  // ------------------------------------------------------------------------------------------- buttons
  let leaving = false; // the page is being left for another run's: every button stays as it is
  function button(id, word, action) {
    const node = document.getElementById(id);
    node.addEventListener("click", () => {
      if (busy.has(id) || leaving) return;
      busy.add(id);
      once(node, async () => {
        say("action-message", word + "…");
        try {
          await action();
        } catch (e) {
          say("action-message", e.message, true);
          throw e;
        }
      }).catch(() => {}).finally(() => {
        if (leaving) return;
        busy.delete(id);
        drawMeta();
      });
    });
  }
  button("cancel-btn", "cancelling", async () => {
    await api("POST", base + "/cancel");
    say("action-message", "cancel requested");
    schedule();
  });
  button("pause-btn", "pausing", async () => {
    await api("POST", base + "/pause");
    say("action-message", "pause requested");
    schedule();
  });
  button("resume-btn", "resuming", async () => {
    try {
      await api("POST", base + "/resume"); // answered once the run goes on, or with why it does not
    } catch (e) {
      if (e.status && e.status !== 401) e.message = "resume failed: " + e.message;
      throw e;
    }
    say("action-message", "resume requested: waiting for the run to go on…");
    await awaitResumed();
  });
  button("retry-btn", "retrying", async () => {
    const started = await api("POST", base + "/retry", {});
    if (started.run_id) {
      leaving = true;
      window.location.href = "/runs/" + encodeURIComponent(started.run_id);
    } else {
      say("action-message", "retry started (pid " + started.pid + "); its run will be in the runs list");
    }
  });
  document.getElementById("decider").value = localStorage.getItem("dagctl.decider") || "";

  draw();
  if (live()) follow();
  else if (STOPPED.includes(view.run.status)) watchStopped();
})();
