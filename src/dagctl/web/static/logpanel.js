// dagctl dashboard: the log panel of a run page. Tails a task's (or a matrix cell's) log over SSE.
//
// Lines are not put on the page one by one: they are queued as they arrive and appended once per animation frame,
// as one node per up to CHUNK lines, with the scroll position read and set once per frame (per line, the
// layout work grows with the square of the log: minutes for ten thousand lines). The panel keeps the last
// KEEP lines (whole chunks go first) and says so, with a link to the whole log. ANSI colours are drawn with
// classes (other terminal escapes are dropped); nothing from the log is ever read as HTML.
"use strict";

(function () {
  const { el, say, stream } = window.dagctl;
  const KEEP = 5000;
  const CHUNK = 500;

  // ------------------------------------------------------------------------------------------- ANSI
  const ESCAPES = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;
  const SGR = /^\x1b\[([0-9;]*)m$/;

  // The classes of an SGR state: {fg, bg, bold}.
  function ansiClasses(state) {
    const out = [];
    if (state.bold) out.push("ansi-bold");
    if (state.fg !== null) out.push("ansi-fg-" + state.fg);
    if (state.bg !== null) out.push("ansi-bg-" + state.bg);
    return out.join(" ");
  }

  // Apply the numbers of one SGR sequence to `state` (16 colours and bold; 256-colour and RGB ones are skipped).
  function applySgr(state, params) {
    const codes = params === "" ? [0] : params.split(";").map((n) => parseInt(n || "0", 10));
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) { state.fg = null; state.bg = null; state.bold = false; }
      else if (c === 1) state.bold = true;
      else if (c === 22) state.bold = false;
      else if (c >= 30 && c <= 37) state.fg = c - 30;
      else if (c >= 90 && c <= 97) state.fg = c - 90 + 8;
      else if (c === 39) state.fg = null;
      else if (c >= 40 && c <= 47) state.bg = c - 40;
      else if (c >= 100 && c <= 107) state.bg = c - 100 + 8;
      else if (c === 49) state.bg = null;
      else if (c === 38 || c === 48) i += codes[i + 1] === 5 ? 2 : codes[i + 1] === 2 ? 4 : 1;
    }
  }

  // Append `text` (one line, its escapes in it) to `parent` as text nodes and coloured spans.
  function appendAnsi(parent, text, state) {
    let at = 0;
    const put = (piece) => {
      if (!piece) return;
      const classes = ansiClasses(state);
      parent.append(classes ? el("span", { class: classes }, piece) : piece);
    };
    for (const match of text.matchAll(ESCAPES)) {
      put(text.slice(at, match.index));
      const sgr = match[0].match(SGR);
      if (sgr) applySgr(state, sgr[1]);
      at = match.index + match[0].length;
    }
    put(text.slice(at));
  }

  // ------------------------------------------------------------------------------------------- the panel
  class LogPanel {
    constructor(base, view) {
      this.base = base;
      this.view = view; // () => the run page's current view
      this.panel = document.getElementById("log-panel");
      this.out = document.getElementById("log");
      this.note = document.getElementById("log-note");
      this.raw = document.getElementById("log-raw");
      this.picker = document.getElementById("log-iteration");
      this.handle = null;
      this.picker.addEventListener("change", () => this.open(this.task, this.picker.value || null));
    }

    // Follow `task`'s log: every attempt (and iteration) in turn, or one iteration of a loop.
    open(task, iteration) {
      this.close();
      this.task = task;
      this.iteration = iteration ? Number(iteration) : null;
      this.queue = [];
      this.frame = 0;
      this.chunks = []; // [{node, lines}] on the page, oldest first
      this.kept = 0;
      this.received = 0;
      this.dropped = 0;
      this.piece = null;
      this.sgr = { fg: null, bg: null, bold: false };
      this.panel.hidden = false;
      this.out.replaceChildren();
      document.getElementById("log-task").textContent = task;
      this.state("following…");
      this.offerIterations();
      this.link();
      this.explain();
      const query = this.iteration ? "?iteration=" + this.iteration : "";
      const url = `${this.base}/logs/${encodeURIComponent(task)}${query}`;
      this.handle = stream(url, {
        attempt: (e) => {
          const piece = JSON.parse(e.data);
          this.piece = piece;
          this.link();
          if (piece.iteration !== undefined) this.push({ head: `--- iteration ${piece.iteration}, attempt ${piece.attempt} ---` });
          else if (piece.attempt > 1 || this.received > 0) this.push({ head: `--- attempt ${piece.attempt} ---` });
        },
        message: (e) => this.push(JSON.parse(e.data).line),
        complete: (e) => {
          const data = JSON.parse(e.data);
          this.close();
          this.flush();
          if (data.status === "not_started") this.state(`the run never started: ${data.error}`, true);
          else this.state(this.received ? "(ended)" : "(no output)");
        },
      }, (text, fatal) => {
        if (text === null) this.state("following…");
        else if (fatal) this.state("stopped: " + text, true);
        else this.state(text, true);
      });
      this.panel.scrollIntoView({ block: "nearest" });
    }

    close() {
      if (this.handle) this.handle.close();
      this.handle = null;
    }

    state(text, bad) {
      say("log-state", text, bad);
    }

    // A loop's iterations to pick from (all of them in turn, or one).
    offerIterations() {
      const task = (this.view().run.tasks || {})[this.task];
      const last = task ? task.iteration || 0 : 0;
      document.getElementById("log-iteration-label").hidden = last < 1;
      const options = [el("option", { value: "" }, "all")];
      for (let n = 1; n <= last; n++) options.push(el("option", { value: String(n) }, String(n)));
      this.picker.replaceChildren(...options);
      this.picker.value = this.iteration ? String(this.iteration) : "";
    }

    // The whole log of the attempt shown last, as plain text.
    link() {
      const params = new URLSearchParams();
      if (this.piece && this.piece.iteration !== undefined) params.set("iteration", this.piece.iteration);
      else if (this.iteration) params.set("iteration", this.iteration);
      if (this.piece) params.set("attempt", this.piece.attempt);
      const query = params.toString();
      this.raw.href = `${this.base}/logs/${encodeURIComponent(this.task)}/text${query ? "?" + query : ""}`;
    }

    // Why a task has no log of its own (a matrix task's cells have them; a sub-DAG's run has its tasks'), and
    // how many lines the panel has let go.
    explain() {
      const run = this.view().run;
      const task = (run.tasks || {})[this.task] || {};
      const parts = [];
      if (task.cells) {
        const cells = Object.values(run.tasks).filter((t) => t.parent === this.task).length;
        parts.push(`a matrix task: each of its ${cells || task.cells} cells has a log of its own (listed under it in Tasks)`);
      }
      if (task.child_run_id) {
        parts.push(el("span", {}, "it ran as sub-DAG run "), el("a", { href: "/runs/" + encodeURIComponent(task.child_run_id) }, task.child_run_id), el("span", {}, ", whose tasks have the logs"));
      }
      if (this.dropped) {
        parts.push(`showing the last ${this.kept.toLocaleString()} of ${this.received.toLocaleString()} lines (the whole log: “whole log” above)`);
      }
      this.note.hidden = parts.length === 0;
      this.note.replaceChildren();
      parts.forEach((part, n) => this.note.append(n ? " · " : "", part));
    }

    push(item) {
      if (typeof item === "string") this.received += 1;
      this.queue.push(item);
      if (this.queue.length > 2 * KEEP) { // a hidden tab gets no frames: keep the queue bounded too
        const gone = this.queue.splice(0, this.queue.length - KEEP);
        this.dropped += gone.filter((x) => typeof x === "string").length;
      }
      if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
    }

    // Put the queued lines on the page: one layout read and one scroll per frame.
    flush() {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      if (!this.queue.length) return;
      let items = this.queue;
      this.queue = [];
      if (items.length > KEEP) {
        const gone = items.splice(0, items.length - KEEP);
        this.dropped += gone.filter((x) => typeof x === "string").length;
      }
      const out = this.out;
      const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
      for (let at = 0; at < items.length; at += CHUNK) {
        const chunk = el("span");
        let text = "";
        let lines = 0;
        for (const item of items.slice(at, at + CHUNK)) {
          if (typeof item !== "string") {
            if (text) { chunk.append(text); text = ""; }
            chunk.append(el("span", { class: "log-head" }, item.head + "\n"));
            continue;
          }
          lines += 1;
          if (item.includes("\x1b") || this.sgr.fg !== null || this.sgr.bg !== null || this.sgr.bold) {
            if (text) { chunk.append(text); text = ""; }
            appendAnsi(chunk, item + "\n", this.sgr);
          } else {
            text += item + "\n";
          }
        }
        if (text) chunk.append(text);
        out.append(chunk);
        this.chunks.push({ node: chunk, lines });
        this.kept += lines;
      }
      while (this.chunks.length > 1 && this.kept - this.chunks[0].lines >= KEEP) {
        const first = this.chunks.shift();
        first.node.remove();
        this.kept -= first.lines;
        this.dropped += first.lines;
      }
      if (this.dropped) this.explain();
      if (stick) out.scrollTop = out.scrollHeight;
    }
  }

  window.dagctl.LogPanel = LogPanel;
})();
