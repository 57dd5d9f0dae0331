"""Where an Optuna study of ``qgym tune`` lives: ``--storage`` as Optuna and RL Zoo read it.

- a database URL: ``sqlite:///file.db`` (the default, ``qgym-tune.db`` here), ``postgresql://...`` or
  ``mysql://...`` (Optuna's RDB storage: processes on many machines share a server);
- a path ending in ``.log``: Optuna's JournalStorage on that file (RL Zoo's default since 2.6), which
  processes on one machine, or on machines sharing the file system, append to under a file lock.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["default_storage", "open_study", "printable"]


def default_storage(folder: str | Path = ".") -> str:
    """An embedded SQLite file, ``qgym-tune.db`` in ``folder``."""
    return f"sqlite:///{(Path(folder) / 'qgym-tune.db').resolve()}"


def open_study(storage: str, study_name: str, pruner: Any = None, attempts: int = 10) -> Any:
    """Create or join the study (maximized); processes starting together on a fresh database race to
    create its tables and the study, and the losers retry (Optuna's own schema setup is not race-free).
    A ValueError names the storage (without its password) when it cannot be used."""
    import optuna
    import sqlalchemy.exc

    backend = _journal(storage) if _is_journal(storage) else storage
    for attempt in range(attempts):
        try:
            return optuna.create_study(
                storage=backend,
                study_name=study_name,
                direction="maximize",
                load_if_exists=True,
                pruner=pruner,
            )
        except ImportError as error:  # the database's driver
            raise ValueError(
                f"--storage {printable(storage)} needs a database driver that is not installed "
                f"({error.name}); for PostgreSQL: pip install 'psycopg[binary]'"
            ) from None
        except (sqlalchemy.exc.ArgumentError, ValueError) as error:
            raise ValueError(
                f"--storage {printable(storage)} is not a storage Optuna reads: {error}; give a database URL "
                "(sqlite:///FILE.db, postgresql://...) or a journal file ending in .log"
            ) from None
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.DuplicatedStudyError) as error:
            if attempt == attempts - 1:
                raise ValueError(
                    f"cannot open the study {study_name!r} in {printable(storage)}: "
                    f"{' '.join(str(error).split())[:300]}"
                ) from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def printable(url: str) -> str:
    """A storage safe to print: ``postgresql://user:***@host/db``."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not (sep and at and ":" in credentials):
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def _is_journal(storage: str) -> bool:
    return "://" not in storage and storage.endswith(".log")


def _journal(path: str) -> Any:
    """Optuna's JournalStorage on ``path`` (its folder must exist; the file is made)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    file = Path(path)
    if file.is_dir() or not file.parent.is_dir():
        raise ValueError(
            f"--storage {path}: a journal file needs an existing folder and a file name ending in .log"
        )
    try:
        return JournalStorage(JournalFileBackend(str(file)))
    except OSError as error:
        raise ValueError(f"--storage {path} cannot be used: {error.strerror or error}") from None
