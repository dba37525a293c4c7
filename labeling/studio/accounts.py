"""The annotators' accounts for a push: checked before anything is written, created in Label
Studio, granted the project at the gateway, and each given a private file a lead can send as it
is (the gateway's address, the email and password, the projects the account labels)."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Any

from labeling.gateway.records import grant, members, read_access, read_titles
from labeling.studio import api
from labeling.studio.config import StudioSettings
from labeling.studio.connection import public_address
from labeling.studio.records import Project
from srcrel_core.errors import ConfigError
from srcrel_core.io import write_private_file

__all__ = ["check_annotators", "create_annotators"]

log = logging.getLogger("labeling.studio.push")


def create_annotators(client: Any, emails: list[str], settings: StudioSettings, managed: bool,
                       project: Project) -> tuple[Path, ...]:
    """The accounts, added to the project for the gateway, each with a file a lead can send as it
    is: the address to go to, the email and password, and the projects the account labels."""
    files: list[Path] = []
    for email in emails:
        api.create_user(client, email)
    if not managed:
        if emails:
            log.warning("annotator accounts created on an external server: its admin must set their passwords")
        return ()
    grant(settings.data_dir, project.id, emails, title=project.title)  # the gateway lets them label it
    address, titles = public_address(settings), read_titles(settings.data_dir)
    for email in emails:
        path = Path(settings.data_dir).resolve() / "annotators" / f"{email}.json"
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        password = known.get("password")
        if not password:  # keep an existing password: annotators may already use it
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            password = secrets.token_urlsafe(16)
            api.set_user_password(settings, email, password)
        projects = [{"id": pid, "title": titles.get(pid, ""), "label": f"{address}/projects/{pid}/data?labeling=1"}
                    for pid in sorted(members(read_access(settings.data_dir), email))]
        write_private_file(path, json.dumps({"address": address, "email": email, "password": password,
                                             "projects": projects}, indent=2) + "\n")
        files.append(path)
    return tuple(files)


def check_annotators(emails: list[str]) -> None:
    """Every account an email address, each once: checked before anything is written, so a typo
    never leaves a half-made project behind (Label Studio would refuse it after the project)."""
    from email_validator import EmailNotValidError, validate_email

    seen: dict[str, int] = {}
    for i, email in enumerate(emails):
        try:
            validate_email(str(email), check_deliverability=False)
        except EmailNotValidError as exc:
            # a special-use domain (team.local, srcrel.local) is an address all the same: srcrel
            # never mails its accounts, and Label Studio takes them
            if "special-use" not in str(exc):
                raise ConfigError(f"annotators[{i}]={email}: not an email address ({exc}); give accounts as "
                                  "annotators=[a@example.org,b@example.org]") from None
        if str(email).lower() in seen:
            raise ConfigError(f"annotators[{i}]={email}: the same account as annotators[{seen[str(email).lower()]}]; "
                              "list each annotator once")
        seen[str(email).lower()] = i
