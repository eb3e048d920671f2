// dagctl dashboard: the few things the server-rendered pages cannot do alone. No framework, no build step.
// This file: what every page shares (window.dagctl: elements, durations, the API, streams, messages, focus), and
// the runs list (start a run, refresh the rows). logpanel.js tails task logs; runpage.js keeps a run page live.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const RECONNECT_GRACE_MS = 3000; // the server asks for a reconnect after 2 s (its "retry:")

  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // A duration as dagctl writes it everywhere (dagctl.dag.durations.format_duration): 16ms, 2.02s, 42s, 5m, 1h30m.
  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    if (seconds < 0) return "-" + duration(-seconds);
    if (seconds < 1) return seconds === 0 ? "0s" : seconds < 0.001 ? "<1ms" : Math.round(seconds * 1000) + "ms";
    if (seconds < 60) return String(Number(seconds.toPrecision(3))) + "s";
    let rest = Math.round(seconds);
    const parts = [];
    for (const [size, unit] of [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]]) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      if (n) parts.push(n + unit);
    }
    return parts.join("") || "0s";
  }

  function localTimes(root) {
    for (const node of (root || document).querySelectorAll("time[datetime]")) {
      const when = new Date(node.getAttribute("datetime"));
      if (!isNaN(when)) node.textContent = when.toLocaleString();
    }
  }

  // ------------------------------------------------------------------------------------------- words
  const SIGNED_OUT = "signed out: the server's token changed or your session ended";

  function loginUrl() {
    return "/login?next=" + encodeURIComponent(location.pathname + location.search);
  }

  // The few hints the API gives in the command line's words, in the words of the page. Pure.
  const PAGE_HINTS = [
    [/^decide as one of them with --as NAME$/, () => "write one of their names under “Deciding as”"],
    [/^pass it, e\.g\. -p ([^=\s]+)=(.*)$/, (m) => `give it in params, e.g. ${paramsJson(m[1], m[2])}`],
    [/^pass (e\.g\. )?-p ([^=\s]+)=(.*?)( or more| or less)?$/, (m) => `give ${m[1] || ""}${paramsJson(m[2], m[3])} in params${m[4] || ""}`],
    [/^use --from TASK to run a task and what follows it again$/, () => "to run a task and what follows it again: dagctl retry RUN --from TASK"],
  ];

  function paramsJson(name, value) {
    let shown;
    try {
      shown = JSON.stringify(JSON.parse(value));
    } catch (e) {
      shown = JSON.stringify(value);
    }
    return `{"${name}": ${shown}}`;
  }

  function pageWords(error, hint) {
    let words = hint || "";
    for (const [pattern, say] of PAGE_HINTS) {
      const match = words.match(pattern);
      if (match) { words = say(match); break; }
    }
    return error + (words ? " — " + words : "");
  }

  // ------------------------------------------------------------------------------------------- messages
  // Show `text` in the element `id` (an error in red with `bad`), with a link after it when `link` is {href, text}.
  function say(id, text, bad, link) {
    const node = document.getElementById(id);
    if (!node) return;
    node.textContent = text || "";
    if (link) node.append(" ", el("a", { href: link.href }, link.text));
    node.classList.toggle("error", !!bad);
  }

  // The session is gone (a rotated token, a stale cookie): one banner with a way back in, at the top of the page.
  function signedOut() {
    let banner = document.getElementById("signed-out");
    if (!banner) {
      banner = el("p", { id: "signed-out", class: "banner error", role: "alert" });
      document.querySelector("main").prepend(banner);
    }
    banner.replaceChildren(SIGNED_OUT + " — ", el("a", { href: loginUrl() }, "sign in again"));
  }

  class HttpError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  function isLoginPage(response) {
    return response.redirected && new URL(response.url).pathname === "/login";
  }

  async function api(method, url, body) {
    const options = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (e) {
      throw new HttpError("cannot reach the server (is dagctl serve running?)", 0);
    }
    if (response.status === 401 || isLoginPage(response)) {
      signedOut();
      throw new HttpError(SIGNED_OUT + ": sign in again (link at the top of the page)", 401);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new HttpError(pageWords(data.error || response.statusText, data.hint), response.status);
    return data;
  }

  // ------------------------------------------------------------------------------------------- busy buttons
  // Run `action` once at a time for `button`: it is disabled while the request is out (a double click starts one
  // run, not two), and enabled again when it failed. On success it stays as `action` leaves it (the page's state
  // decides, or the page is left).
  async function once(button, action) {
    if (button.dataset.busy) return;
    button.dataset.busy = "1";
    button.disabled = true;
    let ok = false;
    try {
      await action();
      ok = true;
    } finally {
      delete button.dataset.busy;
      if (!ok) button.disabled = false;
    }
  }

  // ------------------------------------------------------------------------------------------- focus
  // What names a focusable element across redraws: its data-focus, its id, or its link.
  function focusKey(node) {
    if (!node || !node.getAttribute) return null;
    if (node.dataset && node.dataset.focus) return "f:" + node.dataset.focus;
    if (node.id) return "#" + node.id;
    const href = node.getAttribute("href");
    return href ? "h:" + href : null;
  }

  // Redraw what is inside `root`, keeping the keyboard focus on the element that stands where it stood.
  function keepFocus(root, redraw) {
    const active = document.activeElement;
    const key = active && active !== root && root.contains(active) ? focusKey(active) : null;
    redraw();
    if (key === null || root.contains(document.activeElement)) return;
    for (const node of root.querySelectorAll("[data-focus], [id], [href]")) {
      if (focusKey(node) === key) {
        node.focus({ preventScroll: true });
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------------------- streams
  // An EventSource that says what becomes of it. `on` maps event names to handlers ("message" for plain ones);
  // `trouble(text, fatal)` is told "lost contact with the server, retrying…" while the browser reconnects (fatal
  // false), and why the stream cannot go on when it gives up (fatal true: the server's answer, e.g. an unknown
  // run, a wrong token); `trouble(null)` once it is back. A refused stream (503: too many open) is opened again.
  function stream(url, on, trouble) {
    const handle = { source: null, closed: false };
    handle.close = () => {
      handle.closed = true;
      if (handle.source) handle.source.close();
    };
    let troubled = false;
    let grace = null; // a reconnect that succeeds at once (the server ends a quiet stream now and then) says nothing
    const back = () => {
      clearTimeout(grace);
      grace = null;
      if (troubled) { troubled = false; trouble(null); }
    };
    function open() {
      const source = new EventSource(url);
      handle.source = source;
      for (const [name, handler] of Object.entries(on)) {
        source.addEventListener(name, (e) => {
          back();
          handler(e);
        });
      }
      source.onopen = back;
      source.onerror = () => {
        if (handle.closed) return;
        if (source.readyState === EventSource.CONNECTING) {
          if (grace === null && !troubled) {
            grace = setTimeout(() => {
              grace = null;
              if (handle.closed || source.readyState === EventSource.OPEN) return;
              troubled = true;
              trouble("lost contact with the server, retrying…", false);
            }, RECONNECT_GRACE_MS);
          }
          return;
        }
        clearTimeout(grace);
        grace = null;
        troubled = true;
        source.close();
        why(url).then(([text, again]) => {
          if (handle.closed) return;
          if (again) {
            trouble(text + "; trying again…", false);
            setTimeout(() => { if (!handle.closed) open(); }, again);
          } else {
            trouble(text, true);
          }
        });
      };
    }
    open();
    return handle;
  }

  // Why a stream was refused: [words, retry after ms (0: do not)], from a plain request of the same URL.
  async function why(url) {
    const stop = new AbortController();
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, signal: stop.signal });
      if (response.ok) {
        stop.abort();
        return ["the stream was interrupted", 2000];
      }
      if (response.status === 401 || isLoginPage(response)) {
        signedOut();
        return [SIGNED_OUT, 0];
      }
      const data = await response.json().catch(() => ({}));
      const text = pageWords(data.error || `the server answered ${response.status}`, data.hint);
      return [text, response.status === 503 ? 5000 : 0];
    } catch (e) {
      return ["lost contact with the server", 5000];
    }
  }

  function statusClass(status) {
    // A status as CSS classes: "st-" + its words joined by "-". A task a run has not started ("not started", as
    // dagctl show says) is drawn as a pending one is: the stylesheet's grey with dark text.
    const name = "st-" + String(status).replace(/\s+/g, "-");
    return status === "not started" ? name + " st-pending" : name;
  }

  // ------------------------------------------------------------------------------------------- runs list
  function runsPage() {
    const form = document.getElementById("start-form");
    const button = form.querySelector("button[type=submit]");
    form.addEventListener("input", () => say("start-message", ""));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      once(button, async () => {
        const [kind, name] = form.target.value.split(/:(.*)/s);
        let params = {};
        if (form.params.value.trim()) {
          try {
            params = JSON.parse(form.params.value);
          } catch (e) {
            say("start-message", "params must be a JSON object, e.g. {\"rows\": 500}", true);
            throw e;
          }
        }
        say("start-message", "starting…");
        try {
          const started = await api("POST", "/api/runs", { [kind]: name, params });
          window.location.href = "/runs/" + encodeURIComponent(started.run_id);
        } catch (e) {
          say("start-message", e.message, true);
          throw e;
        }
      }).catch(() => {});
    });
    const rows = document.getElementById("run-rows");
    let shown = rows.innerHTML;
    let timer = null;
    async function refresh() {
      if (document.hidden) return;
      const response = await fetch(rows.dataset.refresh, { headers: { Accept: "text/html" } }).catch(() => null);
      if (response === null) {
        say("list-message", "lost contact with the server; the list is not up to date (retrying…)", true);
        return;
      }
      if (response.status === 401 || isLoginPage(response)) {
        clearInterval(timer);
        signedOut();
        say("list-message", "", false);
        return;
      }
      say("list-message", "");
      if (!response.ok && response.status !== 422) return;
      const html = await response.text();
      if (html === shown) return; // nothing new: leave the rows (and the focus in them) alone
      shown = html;
      keepFocus(rows, () => {
        rows.innerHTML = html;
        localTimes(rows);
      });
    }
    timer = setInterval(refresh, 3000);
  }

  window.dagctl = { el, duration, localTimes, say, api, once, keepFocus, stream, statusClass, pageWords, signedOut };
  localTimes();
  if (document.body.dataset.page === "runs") runsPage();
})();
