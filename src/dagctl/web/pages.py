"""The dashboard: server-rendered pages (runs, a run, schedules, tenants, login, API reference) and the static
assets they use. Everything is served from ``static/``: the pages work offline, with no CDN and no build step.

A page is ``static/page.html`` around a body made here, every value HTML-escaped; the run page carries its
first view as JSON and ``runpage.js`` keeps it live (SSE), the runs list (``dashboard.js``) refreshes its rows
from ``/?fragment=rows``.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dagctl.errors import DagctlError
from dagctl.settings import VERSION
from dagctl.store.runsummary import RUN_STATUSES

from .context import WebContext
from .dags import same_names
from .errors import NotFound
from .panel import RECENT_RUNS, stats, window_seconds
from .runindex import check_status
from .security import SESSION_COOKIE, session_value

STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
NAV = (("/", "Runs"), ("/schedules", "Schedules"), ("/tenants", "Tenants"), ("/docs", "API"))
LIST_LIMIT = 50
LIST_MAX = 1000
NOTHING = '<tr><td colspan="{}" class="empty">nothing in this window</td></tr>'


def static_file(name: str) -> bytes:
    return resources.files("dagctl.web").joinpath("static").joinpath(name).read_bytes()


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _time(iso: str | None) -> str:
    """A ``<time>`` the script shows in local time (UTC text without the script)."""
    if not iso:
        return ""
    text = iso.replace("T", " ")[:19] + " UTC"
    return f'<time datetime="{_e(iso)}">{_e(text)}</time>'


def _duration(seconds: float | None) -> str:
    """As ``dagctl show`` writes durations (``16ms``, ``1.2s``, ``5m``); empty for none."""
    from dagctl.dag.durations import format_duration

    return "" if seconds is None else format_duration(seconds)


def since_seconds(text: str) -> float:
    """The seconds of the runs list's ``since``: a duration (``24h``, ``90m``, ``7d``); a bare number is hours, as
    the Tenants page's window is (ValueError otherwise)."""
    from dagctl.dag.durations import parse_duration

    value = text.strip()
    return parse_duration(value + "h" if value.replace(".", "", 1).isdigit() else value)


def limit_of(text: str | None) -> int | None:
    """How many runs the runs list shows: :data:`LIST_LIMIT` for none given, None for a bad value."""
    if not text:
        return LIST_LIMIT
    return int(text) if text.isdigit() and 1 <= int(text) <= LIST_MAX else None


def _given(value: str | None) -> str | None:
    """A query value, None for an empty field."""
    return value.strip() or None if value else None


def _shorten(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _status(status: str | None) -> str:
    return f'<span class="badge st-{_e(status)}">{_e(status)}</span>' if status else ""


def _json_script(element_id: str, data: Any) -> str:
    text = json.dumps(data, default=str, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


class Pages:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.template = Template(static_file("page.html").decode("utf-8"))

    def page(self, page: str, title: str, body: str, status_code: int = 200) -> HTMLResponse:
        nav = "".join(f'<a href="{href}">{_e(label)}</a>' for href, label in NAV)
        html = self.template.substitute(
            title=_e(title), page=_e(page), nav=nav, body=body, version=VERSION, host=_e(self.ctx.config.host)
        )
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------------ runs list
    def filter_error(
        self, dag: str | None, status: str | None, since: str | None, limit: str | None = None
    ) -> str | None:
        """What is wrong with the runs list's filters (the API's words), None when nothing is."""
        if since:
            try:
                since_seconds(since)
            except ValueError:
                return f"since: {since} is not a duration (e.g. 24h, 90m or 7d; a bare number is hours)"
        if limit_of(limit) is None:
            return f"show: {limit} is not a number of runs from 1 to {LIST_MAX}"
        try:
            check_status(status)
            if dag:
                self.ctx.dags.name_of(dag)
        except DagctlError as exc:
            return str(exc)
        return None

    def run_rows(
        self, dag: str | None, status: str | None, tenant: str | None, since: str | None, limit: str | None
    ) -> str:
        from dagctl.store.history import since_from_window

        problem = self.filter_error(dag, status, since, limit)
        if problem is not None:
            return f'<tr><td colspan="8" class="error">{_e(problem)}</td></tr>'
        cutoff = since_from_window(self.ctx.clock.now(), since_seconds(since)) if since else None
        dag = self.ctx.dags.name_of(dag) if dag else None
        rows = []
        shown = limit_of(limit) or LIST_LIMIT
        for s in self.ctx.index.summaries(dag=dag, status=status, tenant=tenant, since=cutoff, limit=shown):
            counts = s.counts
            rows.append(
                "<tr>"
                f'<td><a href="/runs/{_e(s.run_id)}"><code>{_e(s.run_id)}</code></a></td>'
                f"<td>{_e(s.dag_name)}</td><td>{_status(s.status)}</td>"
                f"<td>{_time(s.started.isoformat() if s.started else None)}</td>"
                f'<td class="num">{_e(_duration(s.duration_s))}</td>'
                f'<td class="num">{counts.get("success", 0)}/{counts.get("failed", 0)}/{counts.get("skipped", 0)}</td>'
                f"<td>{_e(s.trigger)}</td><td>{_e(s.tenant_id)}</td>"
                "</tr>"
            )
        return "".join(rows) or '<tr><td colspan="8" class="empty">no runs found</td></tr>'

    def runs(
        self, dag: str | None, status: str | None, tenant: str | None, since: str | None, limit: str | None
    ) -> HTMLResponse:
        query = {k: v for k, v in (("dag", dag), ("status", status), ("tenant", tenant), ("since", since)) if v}
        refresh = "/?" + urlencode({**query, "limit": limit or LIST_LIMIT, "fragment": "rows"})
        options = "".join(f'<option value="{s}"{" selected" if s == status else ""}>{s}</option>' for s in RUN_STATUSES)
        targets = []
        entries = self.ctx.dags.entries()
        dags = [e for e in entries if e.name and not e.problem]
        shared = same_names(entries)  # such a DAG is started by its file: its name would be ambiguous
        if dags:
            targets.append('<optgroup label="DAGs">')
            targets += [
                f'<option value="dag:{_e(e.file)}" title="{_e("same name as " + ", ".join(shared[e.file]))}">'
                f"{_e(e.name)} ({_e(e.file)}; same name as {_e(', '.join(shared[e.file]))})</option>"
                if e.file in shared
                else f'<option value="dag:{_e(e.name)}">{_e(e.name)} ({_e(e.file)})</option>'
                for e in dags
            ]
            targets.append("</optgroup>")
        broken = [e for e in entries if e.problem]
        if broken:  # listed, not startable: what is wrong with each says why it is not in the list above
            targets.append('<optgroup label="DAG files that do not load">')
            for e in broken:
                problem = (e.problem or "").replace(str(e.path), e.file)  # the file as the list names it
                targets.append(
                    f'<option disabled title="{_e(problem)}">{_e(e.name or e.file)}: {_e(_shorten(problem, 90))}'
                    "</option>"
                )
            targets.append("</optgroup>")
        names = self.ctx.templates.names()
        if names:
            targets.append('<optgroup label="Templates">')
            targets += [f'<option value="template:{_e(n)}">{_e(n)}</option>' for n in names]
            targets.append("</optgroup>")
        body = f"""
<section class="bar">
  <form class="filters" method="get" action="/">
    <label>DAG <input name="dag" value="{_e(dag)}" size="14"></label>
    <label>Status <select name="status"><option value="">any</option>{options}</select></label>
    <label>Tenant <input name="tenant" value="{_e(tenant)}" size="10"></label>
    <label title="how far back: 24h, 90m, 7d (a bare number is hours)">Since
      <input name="since" value="{_e(since)}" placeholder="24h" size="5"></label>
    <label>Show <input name="limit" type="number" min="1" max="{LIST_MAX}" value="{_e(limit or LIST_LIMIT)}"
      placeholder="{LIST_LIMIT}"></label>
    <button type="submit">Filter</button>
  </form>
  <form class="start" id="start-form">
    <select name="target" required aria-label="DAG to run">{"".join(targets)}</select>
    <input name="params" placeholder='params as JSON, e.g. {{"rows": 500}}' size="28" aria-label="params">
    <button type="submit" class="primary">Start run</button>
    <span class="message" id="start-message" role="status"></span>
  </form>
</section>
<p class="message" id="list-message" role="status"></p>
<div class="scroll"><table class="runs">
  <thead><tr><th>run</th><th>DAG</th><th>status</th><th>started</th><th>took</th>
  <th title="tasks succeeded/failed/skipped">ok/failed/skipped</th><th>trigger</th><th>tenant</th></tr></thead>
  <tbody id="run-rows" data-refresh="{_e(refresh)}">{self.run_rows(dag, status, tenant, since, limit)}</tbody>
</table></div>"""
        bad = self.filter_error(dag, status, since, limit) is not None
        return self.page("runs", "Runs", body, status_code=422 if bad else 200)

    # ------------------------------------------------------------------ one run
    def run(self, run_id: str) -> HTMLResponse:
        from .launch import Launch
        from .runview import run_view

        ctx = self.ctx
        rid = ctx.resolve(run_id)  # an unknown (or pruned) run: a 404 page saying so
        found = ctx.summary_or_launch(rid)
        if isinstance(found, Launch):
            view: dict[str, Any] = {"run": found.as_run(), "graph": None, "timeline": None}
        else:
            view = run_view(found, ctx.history.events_of(rid), ctx.graph(rid), now=ctx.clock.now())
            ctx.with_resume_error(view["run"])
        body = f"""
<section class="run-head">
  <h1>Run <code>{_e(rid)}</code> <span id="run-status">{_status(view["run"].get("status"))}</span></h1>
  <dl id="run-meta" class="meta"></dl>
  <div class="actions">
    <button type="button" id="cancel-btn" class="danger">Cancel</button>
    <button type="button" id="pause-btn">Pause</button>
    <button type="button" id="resume-btn">Resume</button>
    <button type="button" id="retry-btn">Retry</button>
    <a href="/api/runs/{_e(rid)}" class="button">JSON</a>
    <a href="/api/runs/{_e(rid)}/timeline.svg" class="button">Timeline SVG</a>
    <span class="message" id="action-message" role="status"></span>
  </div>
  <p class="message" id="conn-message" role="status"></p>
</section>
<section class="panel" id="gates" hidden><h2>Waiting for approval</h2>
  <label class="muted">Deciding as
    <input id="decider" size="14" placeholder="your name" autocomplete="username"></label>
  <ul id="gate-list"></ul>
</section>
<section class="panel"><h2>DAG</h2><div id="graph" class="graph"></div></section>
<section class="panel"><h2>Timeline</h2><div id="gantt" class="gantt"></div></section>
<section class="panel"><h2>Tasks <span id="task-count" class="muted"></span></h2>
  <div id="task-filter" class="chips" role="group" aria-label="show tasks by status"></div>
  <div class="scroll"><table class="tasks"><thead><tr><th>task</th><th>status</th><th>tries</th><th>started</th>
  <th>took</th><th>exit</th><th>error / reason</th></tr></thead><tbody id="task-rows"></tbody></table></div>
</section>
<section class="panel" id="log-panel" hidden>
  <h2>Log of <code id="log-task"></code> <span id="log-state" class="muted" role="status"></span></h2>
  <div class="log-tools">
    <label id="log-iteration-label" hidden>iteration <select id="log-iteration"></select></label>
    <a id="log-raw" class="button" href="#" target="_blank" rel="noopener">whole log</a>
  </div>
  <p id="log-note" class="muted" hidden></p>
  <pre id="log" class="log" tabindex="0"></pre>
</section>
{_json_script("initial-view", view)}"""
        return self.page("run", f"Run {rid}", body)

    # ------------------------------------------------------------------ schedules
    def schedules(self) -> HTMLResponse:
        data = self.ctx.schedules.listing(self.ctx.clock.now())
        rows = []
        for s in data["schedules"]:
            last = s["last_run"] or {}
            run = last.get("run_id")
            counts = ", ".join(f"{k} {v}" for k, v in sorted(s["counts"].items())) or "-"
            rows.append(
                "<tr>"
                f"<td>{_e(s['id'])}</td><td><code>{_e(s['cron'])}</code></td><td>{_e(s['timezone'])}</td>"
                f"<td>{'yes' if s['enabled'] else 'no'}</td><td>{_e(s['dag'])}</td>"
                f"<td>{_time(s['next_fire_utc'])}</td>"
                f"<td>{_status(last.get('status'))} {_time(last.get('ts'))}"
                + (f' <a href="/runs/{_e(run)}">run</a>' if run else "")
                + "</td>"
                f'<td class="num">{len(s["running"])}</td><td class="num">{s["waiting"]}</td><td>{_e(counts)}</td>'
                "</tr>"
            )
        problems = "".join(f"<li><code>{_e(p['text'])}</code></li>" for p in data["problems"])
        body = f"""
<h1>Schedules <span class="muted">{_e(self.ctx.config.schedules_dir)}</span></h1>
{f'<ul class="problems">{problems}</ul>' if problems else ""}
<div class="scroll"><table class="schedules">
  <thead><tr><th>id</th><th>cron</th><th>timezone</th><th>enabled</th><th>DAG</th><th>next fire</th>
  <th>last run</th><th>running</th><th>waiting</th><th>counts</th></tr></thead>
  <tbody>{"".join(rows) or '<tr><td colspan="10" class="empty">no schedules</td></tr>'}</tbody>
</table></div>"""
        return self.page("schedules", "Schedules", body)

    # ------------------------------------------------------------------ tenants
    def tenants(self, window: str | None) -> HTMLResponse:
        config = self.ctx.config
        label, seconds = (
            window_seconds(window, "window") if window else window_seconds(config.panel_window, "ORCH_PANEL_WINDOW_H")
        )
        now = self.ctx.clock.now()
        report = stats(config.settings, now=now, seconds=seconds, dag=None, tenant=None, limit=RECENT_RUNS)
        tenant_rows = "".join(
            "<tr>"
            f"<td>{_e(t['tenant'] or '-')}</td><td class='num'>{t['runs']}</td><td class='num'>{t['tasks']}</td>"
            f"<td class='num'>{t['failed']}</td><td class='num'>{t['error_rate'] * 100:.1f}%</td>"
            f"<td class='num'>{_e(_duration(t['avg_latency_s']))}</td>"
            f"<td class='num'>{_e(_duration(t['p95_latency_s']))}</td>"
            "</tr>"
            for t in report["tenants"]
        )
        o = report["tasks"]["overall"]
        task_rows = "".join(
            "<tr>"
            f"<td>{_e(t['dag_name'])}</td><td>{_e(t['task_id'])}</td><td class='num'>{t['ok']}</td>"
            f"<td class='num'>{t['failed']}</td><td class='num'>{t['retries']}</td>"
            f"<td class='num'>{t['error_rate'] * 100:.1f}%</td>"
            f"<td class='num'>{_e(_duration(t['avg_duration_s']))}</td>"
            f"<td class='num'>{_e(_duration(t['p95_duration_s']))}</td><td>{_status(t['last_status'])}</td>"
            "</tr>"
            for t in report["tasks"]["tasks"][:20]
        )
        run_rows = "".join(
            "<tr>"
            f'<td><a href="/runs/{_e(r["run_id"])}"><code>{_e(r["run_id"])}</code></a></td>'
            f"<td>{_e(r['dag_name'])}</td><td>{_e(r['tenant'])}</td><td>{_status(r['status'])}</td>"
            f"<td>{_time(r['start'])}</td><td class='num'>{_e(_duration(r['duration']))}</td>"
            "</tr>"
            for r in report["runs"]
        )
        body = f"""
<h1>Tenants <span class="muted">last {_e(label)}</span></h1>
<form class="filters" method="get" action="/tenants">
  <label>Window <input name="window" value="{_e(window or "")}" placeholder="{_e(label)}" size="6"></label>
  <button type="submit">Show</button>
  <span class="muted">default: ORCH_PANEL_WINDOW_H ({_e(config.panel_window)})</span>
</form>
<section class="panel"><h2>Per-tenant load</h2>
<div class="scroll"><table><thead><tr><th>tenant</th><th>runs</th><th>tasks</th><th>failed</th><th>error rate</th>
<th>avg latency</th><th>p95 latency</th></tr></thead>
<tbody>{tenant_rows or NOTHING.format(7)}</tbody></table></div></section>
<section class="panel"><h2>Tasks</h2>
<p class="kpis">ok <b>{o["ok"]}</b> · failed <b>{o["failed"]}</b> · retries <b>{o["retries"]}</b> · skipped
<b>{o["skipped"]}</b> · error rate <b>{o["error_rate"] * 100:.1f}%</b> · avg <b>{_e(_duration(o["avg_duration_s"]))}</b>
· p95 <b>{_e(_duration(o["p95_duration_s"]))}</b></p>
<div class="scroll"><table><thead><tr><th>DAG</th><th>task</th><th>ok</th><th>failed</th><th>retries</th>
<th>error rate</th><th>avg</th><th>p95</th><th>last</th></tr></thead><tbody>{task_rows}</tbody></table></div></section>
<section class="panel"><h2>Recent runs</h2>
<div class="scroll"><table><thead><tr><th>run</th><th>DAG</th><th>tenant</th><th>status</th><th>started</th>
<th>took</th></tr></thead>
<tbody>{run_rows}</tbody></table></div></section>"""
        return self.page("tenants", "Tenants", body)

    # ------------------------------------------------------------------ login and API reference
    def login(self, next_url: str, failed: bool = False) -> HTMLResponse:
        body = f"""
<form class="login" method="post" action="/login">
  <h1>Sign in</h1>
  <p>This dagctl server needs its token (the contents of <code>--token-file</code>; or of
  <code>--read-token-file</code>, to look without changing anything).</p>
  {'<p class="error">That token is not right.</p>' if failed else ""}
  <input type="hidden" name="next" value="{_e(next_url)}">
  <label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
  <button type="submit" class="primary">Sign in</button>
</form>"""
        return self.page("login", "Sign in", body, status_code=401 if failed else 200)

    def docs(self, spec: dict[str, Any]) -> HTMLResponse:
        items = []
        for path, methods in spec.get("paths", {}).items():
            for method, op in methods.items():
                params = ", ".join(
                    f"{p['name']} ({p['in']})" for p in op.get("parameters", []) if p.get("in") != "header"
                )
                items.append(
                    f'<section class="endpoint"><h3><span class="method">{_e(method.upper())}</span> '
                    f"<code>{_e(path)}</code> — {_e(op.get('summary', ''))}</h3>"
                    f"<p>{_e(op.get('description', ''))}</p>"
                    + (f'<p class="muted">parameters: {_e(params)}</p>' if params else "")
                    + "</section>"
                )
        body = (
            '<h1>API <span class="muted">OpenAPI: <a href="/openapi.json">/openapi.json</a></span></h1>'
            "<p>JSON in and out; errors are <code>{&quot;error&quot;, &quot;location&quot;, &quot;hint&quot;}</code>"
            " with a 4xx code. docs/serve.md has the whole reference.</p>" + "".join(items)
        )
        return self.page("docs", "API", body)


def router(ctx: WebContext) -> APIRouter:
    pages = Pages(ctx)
    web = APIRouter(include_in_schema=False)

    @web.get("/")
    def runs(
        dag: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        since: str | None = None,
        limit: str | None = None,
        fragment: str | None = None,
    ) -> Response:
        dag, status, tenant, since, limit = (
            v.strip() or None if v else None for v in (dag, status, tenant, since, limit)
        )
        if fragment == "rows":
            rows = pages.run_rows(dag, status, tenant, since, limit)
            code = 422 if pages.filter_error(dag, status, since, limit) else 200
            return HTMLResponse(rows, status_code=code, headers={"Cache-Control": "no-store"})
        return pages.runs(dag, status, tenant, since, limit)

    @web.get("/runs/{run_id}")
    def run(run_id: str) -> Response:
        return pages.run(run_id)

    @web.get("/schedules")
    def schedules() -> Response:
        return pages.schedules()

    @web.get("/tenants")
    def tenants(window: str | None = None) -> Response:
        return pages.tenants(window or None)

    @web.get("/docs")
    def docs(request: Request) -> Response:
        return pages.docs(request.app.openapi())

    @web.get("/login")
    def login_form(next: str = "/") -> Response:
        return pages.login(_safe_next(next))

    @web.post("/login")
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        target = _safe_next((form.get("next") or ["/"])[0])
        config = ctx.config
        if not config.token:
            return RedirectResponse(target, status_code=303)
        from .security import READ, access_of

        access = access_of(f"Bearer {token}", None, config.token, config.read_token)
        if access is None:
            return pages.login(target, failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_value(config.read_token if access == READ and config.read_token else config.token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @web.get("/static/{name}")
    def static(name: str) -> Response:
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES or name == "page.html":
            raise NotFound(f"no asset '{name}'")
        try:
            data = static_file(name)
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"no asset '{name}'") from None
        return Response(data, media_type=STATIC_TYPES[suffix], headers={"Cache-Control": "public, max-age=3600"})

    return web


def _safe_next(target: str) -> str:
    """Only a path on this server (no ``//host`` or ``https://``: no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def error_page(ctx: WebContext, exc: DagctlError, status: int) -> HTMLResponse:
    body = f'<h1>{status}</h1><p class="error">{_e(exc.message)}</p>' + (
        f'<p class="muted">{_e(exc.hint)}</p>' if exc.hint else ""
    )
    return Pages(ctx).page("error", str(status), body, status_code=status)
