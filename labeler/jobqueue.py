"""The embedded job queue: Huey on a SQLite file under var/, whose folder is made on
first connection (the settings module itself touches no disk)."""
from pathlib import Path

from huey import SqliteHuey
from huey.storage import SqliteStorage


class FolderCreatingSqliteStorage(SqliteStorage):
    def _create_connection(self):
        Path(self.filename).parent.mkdir(parents=True, exist_ok=True)
        return super()._create_connection()


class LocalHuey(SqliteHuey):
    storage_class = FolderCreatingSqliteStorage
