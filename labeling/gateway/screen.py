"""What the annotator's screen looks like through the gateway: no control that is not theirs.

Label Studio Community draws the same screen for every account (Create Project, Invite Members,
Settings, Import, Export, the Data Manager's columns and filters); none of it depends on a role it
does not have. The gateway refuses every one of those actions (rules.py), and here it also takes
them off the screen: a small stylesheet in each page of the app, the Data Manager's columns cut to
the sentence (blind.py), a private tab, and a landing on the label stream after login.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from labeling.gateway.rules import Rule, path_id, project_of
from labeling.gateway.upstream import relay

__all__ = ["HIDDEN", "WHOAMI_KEYS", "landing", "page", "private_tab", "refused"]

# the controls an annotator has no use for, by the selectors Label Studio 1.23's own markup gives
# them (aria labels, test ids, hrefs; never its hashed class names, which change per build)
HIDDEN = (
    "main.p-6 .flex.justify-start.gap-4, "  # the home page's Create Project / Invite Members
    'button[aria-label="Create new project"], a.lsf-main-menu__item[href="/organization"], '
    'button[aria-label="Project options"], a[href^="/projects/"][href*="/settings"], '
    'button[aria-label="Tasks Actions"], .lsf-tab-panel > .lsf-space-dm:first-child > button:nth-child(2), '
    'button[aria-label="Filters"], .lsf-tab-panel > .lsf-space-dm:first-child > .lsf-space-dm, '
    'button[aria-label="Toggle open"], [data-testid="dm-import-button"], [data-testid="dm-export-button"], '
    'button[aria-label="Open New Tab"], button[aria-label="Tab options"], '
    '[data-testid="dm-connect-source-storage-button"], .lsf-select-row, .lsf-table__select-all'
)
_STYLE = f'<style id="srcrel-gateway">{HIDDEN} {{ display: none !important; }}</style>'.encode()
_REFUSED = ("<!doctype html><title>Not part of annotating</title><h1>403: not part of annotating</h1>"
            "<p>This address is for labeling sentences. The page or action you asked for is not part of "
            "annotating, so it is not available here.</p><p><a href='/projects/'>Back to your projects</a></p>")
# one's own account record: no permission list, no organisation owner's address
WHOAMI_KEYS = frozenset({"id", "first_name", "last_name", "username", "email", "last_activity", "custom_hotkeys",
                         "avatar", "initials", "phone", "active_organization", "allow_newsletters", "date_joined"})
_TAB = {"title": "Tasks", "type": "list", "target": "tasks", "hiddenColumns": {"explore": [], "labeling": []},
        "columnsWidth": {}, "columnsDisplayType": {}, "gridWidth": 4, "gridFitImagesToWidth": False,
        "filters": {"conjunction": "and", "items": []}}


def refused(path: str) -> Response:
    if path.startswith("/api/"):
        return JSONResponse({"detail": "not part of annotating: refused by srcrel's gateway"}, status_code=403)
    return HTMLResponse(_REFUSED, status_code=403)


def landing(rule: Rule, path: str, projects: set[int]) -> str | None:
    """Where an annotator goes instead of the app's home or project list: straight to the label
    stream of their one project (several: the list of theirs)."""
    if rule.name not in ("home", "projects page"):
        return None
    if len(projects) == 1:
        return f"/projects/{next(iter(projects))}/data?labeling=1"
    return "/projects/" if rule.name == "home" else None


def page(answer: httpx.Response) -> Response:
    """An HTML page of the app with the stylesheet that hides what is not the annotator's."""
    body = answer.content
    if answer.status_code == 200 and "text/html" in answer.headers.get("content-type", "") and b"</head>" in body:
        body = body.replace(b"</head>", _STYLE + b"</head>", 1)
    return relay(answer, rewritten=True, public=False, body=body, media=answer.headers.get("content-type", "text/html"))


def private_tab(request: Request, rule: Rule, who: dict[str, Any] | None, cleaned: bytes) -> Response:
    """The annotator's own Data Manager tab, never stored in Label Studio (where tabs belong to the
    project and one an annotator made became the administrator's first): the list holds one
    default tab; a new tab or a change is answered as sent, and forgotten."""
    project = project_of(rule, request.url.path, dict(request.query_params))
    user = who["id"] if who else None
    settings = {**_TAB, **json.loads(cleaned or b"{}").get("data", {})}
    if request.method == "GET":
        return JSONResponse([{"id": 0, "project": project, "user": user, "order": 0, "data": _TAB}])
    tab = max(path_id(rule, request.url.path, "tab"), 0)
    return JSONResponse({"id": tab, "project": project, "user": user, "order": 0, "data": settings},
                        status_code=201 if request.method == "POST" else 200)
