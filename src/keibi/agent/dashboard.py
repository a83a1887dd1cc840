"""The local dashboard: a read-only page and JSON API on localhost, served from the store.

It never writes and holds no state of its own: each request opens the store read-only,
so it cannot slow or block the agent's data path. It binds to 127.0.0.1 by default.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from keibi.events.encoding import to_ecs
from keibi.store.query import QueryError, parse_filters
from keibi.store.sqlite import Store

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>keibi</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em} table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4} .critical,.high{color:#b00020;font-weight:bold} .medium{color:#b36b00}
.low,.info{color:#555} #status{margin-bottom:1em;color:#444} code{font-size:12px}
</style></head><body>
<h1>keibi — alerts on this host</h1>
<div id="status">loading…</div>
<table><thead><tr><th>time (UTC)</th><th>severity</th><th>rule</th><th>entity</th>
<th>count</th><th>ATT&amp;CK</th><th>what happened</th></tr></thead>
<tbody id="alerts"></tbody></table>
<script>
function txt(v){return v===undefined||v===null?"":String(v)}
function cell(tr,v,cls){const td=document.createElement("td");td.textContent=txt(v);
 if(cls)td.className=cls;tr.appendChild(td)}
async function refresh(){
 try{
  const st=await (await fetch("api/status")).json();
  const s=document.getElementById("status");
  if(st.agent){const a=st.agent;s.textContent=`agent pid ${a.pid} on ${a.host}: `+
   `${a.events} events, ${a.events_per_s} events/s, ${a.alerts_new} alerts, `+
   `${a.sources.filter(x=>x.active).length}/${a.sources.length} sources active`+
   (a.last_error?`, last error: ${a.last_error}`:"");}
  else s.textContent="agent not running";
  const al=await (await fetch("api/alerts?limit=200")).json();
  const tb=document.getElementById("alerts");tb.replaceChildren();
  for(const a of al.alerts){const tr=document.createElement("tr");
   const k=(a.keibi||{}).alert||{};const r=a.rule||{};const t=(a.threat||{}).technique||{};
   const ent=[a.source&&a.source.ip,a.user&&a.user.name,a.process&&a.process.name]
     .filter(Boolean).join(" ");
   cell(tr,a["@timestamp"]);cell(tr,k.severity,k.severity);cell(tr,r.name||r.id);
   cell(tr,ent);cell(tr,k.count);cell(tr,(t.id||[]).join(", "));cell(tr,a.message);
   tb.appendChild(tr);}
 }catch(e){document.getElementById("status").textContent="dashboard error: "+e}
}
refresh();setInterval(refresh,3000);
</script></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the agent's terminal is for alerts

    def _json(self, obj: Any, code: int = 200) -> None:
        body = json.dumps(obj, default=str).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        qs = parse_qs(url.query)
        try:
            limit = max(1, min(1000, int(qs.get("limit", ["100"])[0])))
        except ValueError:
            self._json({"error": "limit must be a number"}, 400)
            return
        if url.path in ("/", "/index.html"):
            body = _PAGE.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", "default-src 'self' 'unsafe-inline'")
            self.end_headers()
            self.wfile.write(body)
            return
        try:
            store = Store.open_readonly(self.server.db_path)
        except Exception as exc:
            self._json({"error": f"store not readable: {exc}"}, 503)
            return
        try:
            if url.path == "/api/alerts":
                alerts = store.list_alerts(limit=limit)
                self._json({"alerts": [to_ecs(a) for a in alerts]})
            elif url.path == "/api/status":
                raw = store.get_status("agent")
                self._json({"agent": json.loads(raw) if raw else None})
            elif url.path == "/api/search":
                try:
                    filters = parse_filters(qs.get("q", []))
                except QueryError as exc:
                    self._json({"error": str(exc)}, 400)
                    return
                events = store.search(filters, limit=limit)
                self._json({"events": [to_ecs(e) for e in events]})
            else:
                self._json({"error": "not found"}, 404)
        finally:
            store.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    db_path: Path


class Dashboard:
    """Serves the dashboard from a background thread until :meth:`stop`."""

    def __init__(self, db_path: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.db_path = db_path
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
