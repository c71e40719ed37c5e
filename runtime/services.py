"""The running application's parts, built once per process and shared by API, UI and CLI."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Connection

from runtime.audit import AuditTrail
from runtime.automation.followups import install_followups
from runtime.automation.pools.install import install_scores_and_pools
from runtime.automation.rules import install_rules
from runtime.blueprints import Pack, load_pack
from runtime.clock import Clock, SystemClock
from runtime.config import Settings
from runtime.identity.users import Users
from runtime.jobs import Jobs
from runtime.notify import Notifier
from runtime.oplog import record_operation
from runtime.params import Params
from runtime.permissions.enforce import PermissionedRecords, PermissionService
from runtime.records import Hooks, RecordsService
from runtime.registry import Registry
from runtime.reports import Reports
from runtime.security import FieldCipher, KeyProvider
from runtime.storage import migrate
from runtime.storage.database import Database
from runtime.storage.deploy import DeployResult, deploy, known_names
from runtime.storage.files import FileStore
from runtime.workflows.host import WorkflowHost


class Tessera:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, upgrade: bool = True):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = Database(settings.database_url)
        if upgrade:
            migrate.upgrade(self.db)
        self.jobs = Jobs(self)  # background jobs (runtime/jobs): features register their tasks at construction
        self.registry = Registry(self.db)
        self.cipher = FieldCipher(KeyProvider(settings))  # sensitive fields, encrypted at rest (runtime.security)
        self.hooks = Hooks()
        self.params = Params(self.db, clock=self.clock, cipher=self.cipher)  # secrets sealed like fields
        self.hooks.after_write.append(AuditTrail(self.clock, cipher=lambda: getattr(self, "cipher", None)))
        # permissions: data scopes, masking and write checks inside the records service (runtime/permissions)
        self.permissions = PermissionService(self.db, self.registry, clock=self.clock)
        self.permissions.install(self.hooks)
        self.records: RecordsService = PermissionedRecords(
            self.db, self.registry, clock=self.clock, hooks=self.hooks, permissions=self.permissions, cipher=self.cipher
        )
        self.users = Users(self.db, clock=self.clock)
        self.files = FileStore(self.db, settings.files_dir, self.clock)
        self.workflows = WorkflowHost(self)
        self.reports = Reports(self)  # reports, dashboards and their scheduled delivery (runtime/reports)
        self.notifier = Notifier(self)
        install_followups(self)  # app.work_items and app.followups (runtime/automation/followups)
        install_scores_and_pools(self)  # app.scores and app.pools (runtime/automation/scores, pools)
        install_rules(self)  # app.automation: rules and state machines (runtime/automation/rules, states)

    def load_pack(self, path: Path | str, *, pack_id_hint: str | None = None) -> Pack:
        """Load a pack from disk, resolving references to entities of the other deployed packs."""
        with self.db.read() as conn:
            entities, sets = known_names(conn, excluding=pack_id_hint or Path(path).name)
        return load_pack(path, known_entities=entities, known_option_sets=sets)

    def deploy(
        self,
        pack: Pack,
        *,
        actor: str = "cli",
        actor_id: int | None = None,
        request_id: str | None = None,
        within: Callable[[Connection, DeployResult], None] | None = None,
    ) -> DeployResult:
        """`within(conn, result)` runs inside the deploy transaction (see runtime.storage.deploy.deploy)."""
        who = {"username": actor, "actor_id": actor_id, "request_id": request_id}
        try:
            result = deploy(self.db, pack, actor=actor, now=self.clock.now(), cipher=self.cipher, within=within)
        except Exception as exc:
            detail = {"ok": False, "pack_id": pack.id, "version": pack.version, "error": str(exc)[:2000]}
            self._log_deploy(who, detail)
            raise
        self.registry.reload()
        self.workflows.register_pack(pack)  # BPMN files of the pack's workflows/ folder, versioned by content
        plan = result.plan
        detail = {
            "ok": True,
            "pack_id": pack.id,
            "from_version": plan.from_version,
            "to_version": plan.to_version,
            "deployment_id": result.deployment_id,
            "steps": len(plan.steps),
            "summary": plan.describe()[:200],
        }
        self._log_deploy(who, detail)
        return result

    def _log_deploy(self, who: dict, detail: dict) -> None:
        """Operation log entry for a deploy; never turns a deploy's outcome into a different error."""
        try:
            record_operation(self.db, "pack_deploy", **who, detail=detail, at=self.clock.now())
        except Exception:  # noqa: BLE001
            logging.getLogger("tessera").exception("could not write the operation log entry of a pack deploy")

    def close(self) -> None:
        self.db.dispose()
