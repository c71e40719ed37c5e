"""The running application's parts, built once per process and shared by API, UI and CLI."""

from __future__ import annotations

from pathlib import Path

from runtime.blueprints import Pack, load_pack
from runtime.clock import Clock, SystemClock
from runtime.config import Settings
from runtime.identity.users import Users
from runtime.records import Hooks, RecordsService
from runtime.registry import Registry
from runtime.storage import migrate
from runtime.storage.database import Database
from runtime.storage.deploy import DeployResult, deploy, known_names
from runtime.storage.files import FileStore


class Tessera:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, upgrade: bool = True):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = Database(settings.database_url)
        if upgrade:
            migrate.upgrade(self.db)
        self.registry = Registry(self.db)
        self.hooks = Hooks()
        self.records = RecordsService(self.db, self.registry, clock=self.clock, hooks=self.hooks)
        self.users = Users(self.db)
        self.files = FileStore(self.db, settings.files_dir, self.clock)

    def load_pack(self, path: Path | str, *, pack_id_hint: str | None = None) -> Pack:
        """Load a pack from disk, resolving references to entities of the other deployed packs."""
        with self.db.read() as conn:
            entities, sets = known_names(conn, excluding=pack_id_hint or Path(path).name)
        return load_pack(path, known_entities=entities, known_option_sets=sets)

    def deploy(self, pack: Pack, *, actor: str = "cli") -> DeployResult:
        result = deploy(self.db, pack, actor=actor, now=self.clock.now())
        self.registry.reload()
        return result

    def close(self) -> None:
        self.db.dispose()
