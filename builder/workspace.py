"""The builder's authoring core (PL-18/PL-19): drafts, checks, publishing, versions, diff, rollback, export, upgrade.

A draft is a full copy of one deployed pack's documents and BPMN files, stored in the database until
it is published or discarded. Publishing builds the pack with the runtime's loader and deploys it with
`app.deploy`, so validation, the migration plan, the audit/operation log and workflow versioning are
the runtime's own; the version row is written inside the deploy's transaction (all or nothing).

History starts lazily: the first time a pack is edited (or its history is read), what is deployed is
recorded as version 1 (kind "deploy") and as the shipped base for later three-way upgrades. A pack
deployed again from disk outside the builder gets a new "deploy" version and becomes the new base.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from builder import store
from builder.checks import bpmn_problems, build_pack, check_document, check_workflow_path, problems
from builder.deployed import Deployed, deployed_ids, deployed_pack
from runtime.blueprints.errors import PackError, PackInvalid
from runtime.blueprints.loader import MANIFEST
from runtime.errors import BadRequest, NotFound
from runtime.storage.deploy import DeployResult

KINDS = ("deploy", "publish", "rollback", "upgrade")


@dataclass
class Draft:
    pack_id: str
    documents: dict[str, dict]
    workflows: dict[str, str]
    base_version: int | None
    updated_by: str | None
    updated_at: datetime | None
    dirty: bool


def public_version(version: str) -> str:
    """'0.1.0+local.3' -> '0.1.0': the shipped part of a version string."""
    return version.split("+", 1)[0]


def local_version(public: str, number: int) -> str:
    """A builder version's pack.json version: PEP 440 local, so any later shipped release compares greater."""
    return f"{public}+local.{number}"


class Workspace:
    """The only entry point the builder's pages and API use."""

    def __init__(self, app: Any):
        self.app = app
        self.db = app.db

    # packs and drafts ---------------------------------------------------------------------------------
    def packs(self) -> list[dict]:
        """Every deployed pack with its label, version, draft state and number of recorded versions."""
        with self.db.read() as conn:
            ids = deployed_ids(conn)
            with_draft = store.draft_pack_ids(conn)
            counts = store.version_counts(conn)
            out = []
            for pack_id in ids:
                live = deployed_pack(conn, pack_id)
                assert live is not None
                out.append(
                    {
                        "id": pack_id,
                        "label": dict(live.documents.get(MANIFEST, {}).get("name") or {"zh": pack_id, "en": pack_id}),
                        "version": live.version,
                        "deployed_at": live.deployed_at,
                        "has_draft": pack_id in with_draft,
                        "versions": max(counts.get(pack_id, 0), 1),
                    }
                )
        return out

    def draft(self, pack_id: str) -> Draft:
        """The stored draft, or a fresh copy of the deployed pack (not stored until something is saved)."""
        with self.db.read() as conn:
            return self.draft_in(conn, pack_id)

    def draft_in(self, conn: Connection, pack_id: str) -> Draft:
        """draft(), inside the caller's transaction (preview and edits read it with the rest)."""
        live = self.live(conn, pack_id)
        row = store.load_draft(conn, pack_id)
        latest = store.latest_version(conn, pack_id)
        if row is None:
            return Draft(
                pack_id,
                copy.deepcopy(live.documents),
                dict(live.workflows),
                latest["number"] if latest else None,
                None,
                None,
                False,
            )
        dirty = row["documents"] != live.documents or row["workflows"] != live.workflows
        return Draft(
            pack_id,
            row["documents"],
            row["workflows"],
            row["base_version"],
            row["updated_by"],
            row["updated_at"],
            dirty,
        )

    def save_document(self, pack_id: str, rel: str, doc: dict, *, user: str) -> list[dict]:
        """Store one schema-valid document in the draft; returns the whole draft's cross-file problems."""
        check_document(pack_id, rel, doc)
        return self._edit(pack_id, user, lambda d: d.documents.__setitem__(rel, copy.deepcopy(doc)))

    def delete_document(self, pack_id: str, rel: str, *, user: str) -> None:
        """Remove a document from the draft; the manifest cannot be removed."""
        if rel == MANIFEST:
            raise PackInvalid([PackError(rel, "", "the manifest pack.json cannot be deleted")])

        def drop(d: Draft) -> None:
            if rel in d.documents:
                del d.documents[rel]
            elif rel in d.workflows:
                del d.workflows[rel]
            else:
                raise NotFound(f"the draft of pack '{pack_id}' has no file '{rel}'")

        self._edit(pack_id, user, drop)

    def save_workflow(self, pack_id: str, rel: str, xml: str, *, user: str) -> list[dict]:
        """Store one BPMN file that parses (Spiff + expression sandbox); bad XML -> PackInvalid with element/line."""
        check_workflow_path(rel)
        found = bpmn_problems(rel, xml)
        if found:
            raise PackInvalid(found)
        return self._edit(pack_id, user, lambda d: d.workflows.__setitem__(rel, xml))

    def discard(self, pack_id: str, *, user: str) -> None:
        """Throw the draft away; the next draft() is a copy of what is deployed again."""
        with self.db.write() as conn:
            self.live(conn, pack_id)
            store.delete_draft(conn, pack_id)

    def _edit(self, pack_id: str, user: str, change: Any) -> list[dict]:
        self.ensure_history(pack_id)
        with self.db.write() as conn:
            draft = self.draft_in(conn, pack_id)
            change(draft)
            store.save_draft(
                conn,
                pack_id,
                draft.documents,
                draft.workflows,
                base_version=draft.base_version,
                user=user,
                now=self.app.clock.now(),
            )
            return problems(conn, pack_id, draft.documents, draft.workflows)

    # checking and publishing --------------------------------------------------------------------------
    def check(self, pack_id: str) -> list[dict]:
        """Every problem of the whole draft; [] = publishable."""
        with self.db.read() as conn:
            draft = self.draft_in(conn, pack_id)
            return problems(conn, pack_id, draft.documents, draft.workflows)

    def preview(self, pack_id: str, *, lang: str = "zh") -> dict:
        """What publishing the draft would do to the schema and to existing records (nothing is applied)."""
        from builder.preview import preview_draft

        return preview_draft(self, pack_id, lang=lang)

    def publish(self, pack_id: str, *, user: str, user_id: int | None, comment: str = "") -> dict:
        """Deploy the draft as the next version; the draft is gone afterwards."""
        draft = self.draft(pack_id)
        if not draft.dirty:
            raise BadRequest(f"the draft of pack '{pack_id}' has no changes to publish")
        return self.publish_content(
            pack_id, draft.documents, draft.workflows, kind="publish", user=user, user_id=user_id, comment=comment
        )

    def publish_content(
        self,
        pack_id: str,
        documents: dict[str, Any],
        workflows: dict[str, str],
        *,
        kind: str,
        user: str,
        user_id: int | None,
        comment: str,
        version: str | None = None,
        new_base: tuple[str, dict, dict] | None = None,
    ) -> dict:
        """Build, deploy and record one version in the deploy's transaction; the draft goes with it."""
        self.ensure_history(pack_id)
        documents = copy.deepcopy(documents)
        with self.db.read() as conn:
            live = self.live(conn, pack_id)
            latest = store.latest_version(conn, pack_id)
            number = (latest["number"] if latest else 0) + 1
            manifest = documents.get(MANIFEST)
            if isinstance(manifest, dict) and version is not None:
                manifest["version"] = version
            elif isinstance(manifest, dict) and public_version(str(manifest.get("version"))) == public_version(
                live.version
            ):
                manifest["version"] = local_version(public_version(live.version), number)
            pack = build_pack(conn, pack_id, documents, workflows)
        now = self.app.clock.now()
        recorded: dict[str, int] = {}

        def record(conn: Connection, result: DeployResult) -> None:
            recorded["number"] = store.add_version(
                conn,
                pack_id,
                pack_version=pack.version,
                kind=kind,
                documents=documents,
                workflows=dict(workflows),
                author=user,
                author_id=user_id,
                comment=comment or "",
                deployment_id=result.deployment_id,
                now=now,
            )
            store.delete_draft(conn, pack_id)
            if new_base is not None:
                store.save_base(conn, pack_id, new_base[0], new_base[1], new_base[2], now)

        self.app.deploy(pack, actor=user, actor_id=user_id, within=record)
        return self.version_summary(pack_id, recorded["number"])

    # history ------------------------------------------------------------------------------------------
    def ensure_history(self, pack_id: str) -> None:
        """Record what is deployed as a "deploy" version (and the shipped base) if the history lacks it.

        True on the first edit of a pack, and after a deploy from disk outside the builder (the
        deployment id of the newest version differs from the pack's newest deployment).
        """
        with self.db.read() as conn:
            live = self.live(conn, pack_id)
            latest = store.latest_version(conn, pack_id)
            if latest is not None and latest["deployment_id"] == live.deployment_id:
                return
        with self.db.write() as conn:
            live = self.live(conn, pack_id)
            latest = store.latest_version(conn, pack_id)
            if latest is not None and latest["deployment_id"] == live.deployment_id:
                return  # another process recorded it meanwhile
            now = self.app.clock.now()
            store.add_version(
                conn,
                pack_id,
                pack_version=live.version,
                kind="deploy",
                documents=live.documents,
                workflows=live.workflows,
                author=live.deployed_by,
                author_id=None,
                comment="",
                deployment_id=live.deployment_id,
                now=live.deployed_at or now,
            )
            store.save_base(conn, pack_id, live.version, live.documents, live.workflows, now)

    def versions(self, pack_id: str) -> list[dict]:
        """Newest first."""
        self.ensure_history(pack_id)
        with self.db.read() as conn:
            return [_summary(r) for r in store.list_versions(conn, pack_id)]

    def version(self, pack_id: str, number: int) -> dict:
        """One version with its documents and workflows."""
        self.ensure_history(pack_id)
        with self.db.read() as conn:
            row = store.get_version(conn, pack_id, number)
        if row is None:
            raise NotFound(f"pack '{pack_id}' has no version {number}")
        return {**_summary(row), "documents": row["documents"], "workflows": row["workflows"]}

    def version_summary(self, pack_id: str, number: int) -> dict:
        return {k: v for k, v in self.version(pack_id, number).items() if k not in ("documents", "workflows")}

    def diff(self, pack_id: str, a: int | str, b: int | str) -> list[dict]:
        """Readable changes from a to b (version numbers or "draft")."""
        from builder.diff import diff_contents

        before, after = self._content(pack_id, a), self._content(pack_id, b)
        return diff_contents(before, after)

    def _content(self, pack_id: str, which: int | str) -> tuple[dict[str, Any], dict[str, str]]:
        if which == "draft":
            d = self.draft(pack_id)
            return d.documents, d.workflows
        try:
            number = int(which)
        except (TypeError, ValueError):
            raise BadRequest(f"'{which}' is neither a version number nor 'draft'") from None
        v = self.version(pack_id, number)
        return v["documents"], v["workflows"]

    def rollback(self, pack_id: str, number: int, *, user: str, user_id: int | None, comment: str = "") -> dict:
        """Publish an earlier version's content as a new version (the history is never rewritten)."""
        target = self.version(pack_id, number)
        number_next = self.versions(pack_id)[0]["number"] + 1
        version = local_version(public_version(target["pack_version"]), number_next)
        return self.publish_content(
            pack_id,
            target["documents"],
            target["workflows"],
            kind="rollback",
            user=user,
            user_id=user_id,
            comment=comment or f"rollback to version {number}",
            version=version,
        )

    # export and upgrade -------------------------------------------------------------------------------
    def export(self, pack_id: str, dest: Path, *, as_zip: bool = False) -> Path:
        """Write the published pack as a directory (or .zip) that `tessera pack validate`/`deploy` accept."""
        from builder.export import write_pack

        with self.db.read() as conn:
            live = self.live(conn, pack_id)
        return write_pack(live.documents, live.workflows, Path(dest), as_zip=as_zip)

    def upgrade_preview(self, pack_id: str, shipped: Path) -> dict:
        """Three-way merge of the shipped base, the new shipped pack and the local edits (see builder.merge)."""
        from builder.upgrade import upgrade_preview

        return upgrade_preview(self, pack_id, Path(shipped))

    def upgrade(
        self, pack_id: str, shipped: Path, *, resolutions: dict[str, str], user: str, user_id: int | None
    ) -> dict:
        """Publish the merged pack as an "upgrade" version; every conflict needs a resolution."""
        from builder.upgrade import apply_upgrade

        return apply_upgrade(self, pack_id, Path(shipped), resolutions=resolutions, user=user, user_id=user_id)

    # helpers ------------------------------------------------------------------------------------------
    def live(self, conn: Connection, pack_id: str) -> Deployed:
        """What is deployed for the pack; NotFound for a pack that is not.

        The runtime keeps every BPMN spec it ever registered, so a workflow file deleted in the builder
        would still be found among the specs: when the live deployment is one the builder recorded, its
        version's workflows are the truth.
        """
        live = deployed_pack(conn, pack_id)
        if live is None:
            raise NotFound(f"no pack '{pack_id}' is deployed")
        latest = store.latest_version(conn, pack_id, with_content=True)
        if latest is not None and latest["deployment_id"] == live.deployment_id:
            live.workflows = latest["workflows"]
        return live


def _summary(row: dict[str, Any]) -> dict:
    return {
        "number": row["number"],
        "pack_version": row["pack_version"],
        "author": row["author"],
        "comment": row["comment"],
        "created_at": row["created_at"],
        "kind": row["kind"],
    }
