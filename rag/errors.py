"""One error hierarchy. Every error a user can cause or fix is a ``RagError``; its message
names what went wrong and what to do. The CLI maps kinds to exit codes here, in one place;
any other exception is a bug and keeps its traceback."""

from __future__ import annotations


class RagError(Exception):
    """Base of every expected error: the message is shown as is, without a traceback."""

    exit_code = 2


class InputError(RagError, ValueError):
    """Something the user gave cannot be used: a file, a question, a request."""


class ConfigError(RagError, ValueError):
    """A setting (CLI option, ``RAG_*`` variable) names something that does not exist."""


class IndexUnusable(RagError):
    """The index cannot be used (missing, damaged, foreign, locked); the message says how to fix it."""


class IndexLocked(IndexUnusable):
    """Another process is writing the index."""


class IndexWriteError(RagError):
    """A new index generation could not be written (disk full, permissions); the old one is still live."""


class ModelError(RagError):
    """A model or fitted file is missing, corrupt, or does not fit the code that loads it."""


def require(module: str, missing: RagError):
    """The module ``module``, imported; ``missing`` (naming what to install) when it is not."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing from exc


# exit codes of the CLI
EXIT_OK = 0
EXIT_REJECTED = 1  # some input was rejected; the rest was done
EXIT_UNUSABLE = 2  # a RagError: unusable index, models, settings or arguments
EXIT_BUG = 3  # an unexpected exception: a bug, reported with its traceback under -v


def exit_code(exc: BaseException) -> int:
    """The CLI's exit code for an exception that ended a command."""
    return exc.exit_code if isinstance(exc, RagError) else EXIT_BUG
