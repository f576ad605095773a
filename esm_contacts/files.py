"""Input files: the one check every reader makes before opening, and size-capped reading.

Every reader of user-named files (structures, contact files, alignments, lists,
checkpoints) calls :func:`check_input_file` first. Only regular files (symlinks to
them too) are read: opening a FIFO blocks until someone writes to it, and a character
device such as ``/dev/zero`` never ends, so either would hang or exhaust memory. The
check names what the path is instead ("is a FIFO", "is a folder", "no such file").

Text that may be a path or something else (a sequence, a PDB ID, a model name) is
classified by :func:`file_kind`, which never raises: a name the operating system
cannot even look up (longer than 255 bytes, say) is not a file.
"""

import gzip
import os
import stat
from pathlib import Path
from typing import Optional, Type, Union

from .messages import size_text

__all__ = ["InputFileError", "file_kind", "check_input_file", "read_bytes_limited", "byte_limit"]

PathLike = Union[str, os.PathLike]
#: Bytes decompressed per step by :func:`read_bytes_limited`.
CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISREG, "file"),
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


class InputFileError(ValueError):
    """A path that exists but is not a regular file (folder, FIFO, device, socket), or empty
    text."""


def file_kind(path: PathLike) -> str:
    """What a path is: ``"file"``, ``"folder"``, ``"FIFO"``, ``"character device"``,
    ``"block device"``, ``"socket"``, ``"missing"`` or ``"other"``.

    Symbolic links are followed. Never raises: a path that cannot be looked up at all
    (a name too long, a component that is a file, a loop of links, no permission on a
    folder) is ``"missing"``.

    Parameters
    ----------
    path : str or path-like
        The path to look up.

    Returns
    -------
    kind : str
        One of the words above.

    Examples
    --------
    >>> file_kind(".")
    'folder'
    >>> file_kind("no/such/file.pdb")
    'missing'
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # ValueError: an embedded NUL character
        return "missing"
    return next((kind for test, kind in _KINDS if test(mode)), "other")


def _describe(kind: str) -> str:
    return {"file": "a file", "folder": "a folder", "other": "not a regular file"}.get(
        kind, f"a {kind}"
    )


def check_input_file(
    path: PathLike, what: str = "file", missing: Type[Exception] = FileNotFoundError
) -> Path:
    """``path`` as a Path once it is a regular file that can be opened without blocking.

    Parameters
    ----------
    path : str or path-like
        What the user named.
    what : str
        What the file should be, for the messages ("no such checkpoint file").
    missing : exception type
        Raised (a FileNotFoundError subclass) when nothing is at `path`.

    Returns
    -------
    path : Path
        `path`, checked.

    Raises
    ------
    TypeError
        `path` is not a str or path-like.
    FileNotFoundError
        Nothing at `path` ("PATH: no such WHAT"); or `missing`.
    InputFileError
        An empty path, or something that is not a regular file: "PATH: is a FIFO, not a
        regular file" (a folder, a character device, a block device, a socket likewise).

    Examples
    --------
    >>> check_input_file(".", "structure file")
    Traceback (most recent call last):
    ...
    esm_contacts.files.InputFileError: .: is a folder, not a regular file
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"expected the path of the {what} (str or path-like), got {type(path).__name__}"
        )
    if str(path) == "":
        raise InputFileError(f"empty path: give a {what}")
    path = Path(path)
    kind = file_kind(path)
    if kind == "missing":
        raise missing(f"{path}: no such {what}")
    if kind != "file":
        raise InputFileError(f"{path}: is {_describe(kind)}, not a regular file")
    return path


def byte_limit(limit: Optional[int], default: int, env: str) -> int:
    """The byte cap to use: `limit` if given, else the environment variable `env`, else `default`.

    Parameters
    ----------
    limit : int, optional
        The cap asked for in the call, in bytes; None to look at `env`.
    default : int
        The cap in bytes when neither `limit` nor `env` gives one.
    env : str
        Name of the environment variable that may hold a cap (an empty value counts as unset).

    Returns
    -------
    limit : int
        The cap in bytes, >= 1.

    Raises
    ------
    ValueError
        A cap that is not a positive whole number (the message names where it came from).
    """
    if limit is None:
        text = os.environ.get(env, "").strip()
        if not text:
            return default
        source, value = env, text
        number = int(text) if text.isdigit() else 0
    else:
        source, value = "byte limit", limit
        number = limit if isinstance(limit, int) and not isinstance(limit, bool) else 0
    if number < 1:
        raise ValueError(f"{source} {value!r}: give a positive whole number of bytes")
    return number


def read_bytes_limited(
    path: PathLike, limit: int, what: str = "file", env: Optional[str] = None
) -> bytes:
    """A file's bytes, gunzipped when it starts with the gzip magic number, at most `limit` of them.

    Decompression runs a chunk at a time and stops as soon as the output passes
    `limit`. Gzip data is decompressed twice, counting first: refusing a gzip bomb
    costs a chunk (1 MiB) of memory whatever the cap, and only accepted content is
    kept.

    Parameters
    ----------
    path : str or path-like
        Checked with :func:`check_input_file`.
    limit : int
        Largest accepted content in bytes (after decompression).
    what : str
        For the messages.
    env : str, optional
        The environment variable that overrides the cap, named in the message.

    Returns
    -------
    content : bytes
        The file's bytes, decompressed if it was gzip data.

    Raises
    ------
    ValueError
        Content beyond `limit`, or gzip data that does not decompress.
    """
    path = check_input_file(path, what)
    how = f" (raise it with {env})" if env else ""

    def too_large(size: str) -> ValueError:
        return ValueError(f"{path}: {size}; a {what} may have at most {size_text(limit)}{how}")

    size = path.stat().st_size
    with open(path, "rb") as stream:
        magic = stream.read(2)
        stream.seek(0)
        if magic != b"\x1f\x8b":
            if size > limit:
                raise too_large(f"the file has {size_text(size)}")
            raw = stream.read(
                limit + 1
            )  # one byte more: a file that grew since stat() is caught too
            if len(raw) > limit:
                raise too_large(f"the file has more than {size_text(limit)}")
            return raw
        try:
            # Twice: counting first, so that refusing a bomb never holds `limit` bytes.
            _gunzip(stream, limit, keep=False, too_large=too_large)
            stream.seek(0)
            return _gunzip(stream, limit, keep=True, too_large=too_large)
        except (
            OSError,
            EOFError,
        ) as error:  # BadGzipFile is an OSError; truncated data an EOFError
            raise ValueError(
                f"{path}: cannot decompress gzip data ({error or 'truncated'})"
            ) from None


def _gunzip(stream, limit: int, keep: bool, too_large) -> bytes:
    """Decompress `stream` a chunk at a time; ValueError (`too_large`) past `limit` bytes.

    Returns the content if `keep`, else nothing (b"") after checking the size.
    """
    chunks, total = [], 0
    with gzip.GzipFile(fileobj=stream) as unpacked:
        while True:
            chunk = unpacked.read(CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise too_large(f"more than {size_text(limit)} once decompressed")
            if keep:
                chunks.append(chunk)
    return b"".join(chunks)
