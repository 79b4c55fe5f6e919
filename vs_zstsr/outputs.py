"""Where zstsr may write: the one set of rules every command that writes follows (docs/SAFETY.md).

* An output never resolves to an input: not the same path, not a hard link to it (same device
  and inode), not a symbolic link to it, not a folder holding it.
* A PNG-frame output (a folder) must be new, empty, or a previous zstsr PNG output (its frames
  ``000000.png ...`` and the ``zstsr.json`` that marks it, nothing else); such a folder is replaced
  whole when the new one is complete. A folder holding anything else is never deleted or
  replaced, whatever the options; neither is a file where a folder output is asked for.
* Replacing an existing output file (or an earlier PNG output) needs ``overwrite`` (the CLI's
  ``--overwrite``/``-y``, as in ffmpeg).
* The output's folder must exist and be writable; the output has a name of its own (not ``.``
  or ``..``), and where it exists it is a regular file (never a device, pipe or socket, which
  replacing would destroy: ``-o /dev/null -y`` as root).
* An output file that appears while zstsr works (another program, a second run) is never
  replaced unless ``overwrite`` allowed it: :func:`commit_file` renames without replacing, and
  keeps the run's output beside it under another name.

:func:`check` applies all of these at once, before any work (training included) starts, and
raises :class:`~.errors.UsageError` (one line, exit status 2). Writers then use
:func:`temp_path` (a short hidden name beside the target, so a 254-character output name still
fits the 255-byte limit) and :func:`replace_folder`; :func:`clean_stale` removes the temporary
outputs of the same name that a killed run (``kill -9``) left behind, only when the process that
wrote them is gone (and ran on this machine: temporary names carry it).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Callable, Iterable

from .errors import UsageError, ZstsrError

PNG_MARKER = "zstsr.json"        # written into every PNG-frame output (rate, depth, frames)
_FRAME = re.compile(r"^\d{6}\.png$")
_counter = itertools.count()
# Outputs checked by check_one, by absolute path: whether replacing a file there is allowed
# (overwrite given, or the file is this process's own, committed earlier). A checked output that
# is not here may not replace anything; a path never checked (caches, chunks) replaces as before.
_MAY_REPLACE: dict[str, bool] = {}


def _name(path: str | os.PathLike) -> Path:
    return Path(str(path).rstrip("/" + os.sep) or os.sep)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """``a`` and ``b`` are one file or folder: same resolved path, or same device and inode (a
    hard link). Symbolic links are followed."""
    a, b = _name(a), _name(b)
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def inside(path: Path, folder: Path) -> bool:
    """``path`` resolves to somewhere under ``folder`` (an existing folder)."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
        return True
    except ValueError:
        return False


def is_png_output(folder: str | os.PathLike) -> bool:
    """An earlier zstsr PNG-frame output: its marker and numbered frames, nothing else."""
    folder = Path(folder)
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    return PNG_MARKER in names and all(
        n == PNG_MARKER or (_FRAME.match(n) and (folder / n).is_file() and not (folder / n).is_symlink())
        for n in names)


def writable_folder(folder: Path) -> None:
    """Refuse a missing or read-only output folder, by trying to create a file there."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: output folder does not exist")
    probe = folder / f".zstsr-probe-{os.getpid()}-{next(_counter)}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as e:
        raise UsageError(f"{folder}: cannot write there ({e.strerror or e})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def _existing_ancestor(folder: Path) -> Path:
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_one(path: str | os.PathLike, *, folder: bool, inputs: Iterable = (), overwrite: bool = False,
              what: str = "output", make_parents: bool = False) -> None:
    """Apply the module's rules to one output (``folder``: a PNG-frame folder, else a file).
    ``make_parents``: the caller creates missing folders above it (``zstsr render``'s output
    folder and its Proxy/), so a missing one is fine where the nearest existing one is writable."""
    p = _name(path)
    parent = p.parent if str(p.parent) else Path(".")
    if make_parents and not parent.exists():
        parent = _existing_ancestor(parent)
        if not parent.is_dir():
            raise UsageError(f"{parent} is a file, not a folder; choose another output folder")
    for inp in inputs:
        if inp is None:
            continue
        if same_file(p, inp):
            raise UsageError(f"{what} {path} is the input {inp}; choose another name")
        if p.is_dir() and inside(_name(inp), p):
            raise UsageError(f"{what} {path} is a folder holding the input {inp}; choose another name")
    if p.name in ("", ".."):    # `-o .`: the folder itself, where its own temporary folder would go
        raise UsageError(f"{what} {path} names no file or folder of its own; give it a name")
    writable_folder(parent)
    _refuse_existing(p, path, folder=folder, overwrite=overwrite, what=what)
    # recorded only once every rule passed: a refused output leaves no entry behind
    _MAY_REPLACE[_key(p)] = overwrite


def _refuse_existing(p: Path, path, *, folder: bool, overwrite: bool, what: str) -> None:
    """The rules for an output name that already exists (UsageError where one is broken)."""
    if not os.path.lexists(p):
        return
    if os.path.exists(p) and not (p.is_dir() or p.is_file()):
        raise UsageError(f"{what} {path} is not a regular file (a device, pipe or socket); "
                         "choose a file name")
    if p.is_symlink() and folder:
        raise UsageError(f"{what} {path} is a symbolic link; give a new folder name")
    if folder:
        if not p.is_dir():
            raise UsageError(f"{what} {path} is a file; PNG frames are written to a folder: choose a new "
                             "name (or one ending in .mkv, .mp4 or .mov)")
        if not any(p.iterdir()):
            return
        if not is_png_output(p):
            raise UsageError(f"{what} {path} is a folder holding other files; zstsr writes PNG frames only "
                             "to a new or empty folder, or over its own earlier PNG output")
        if not overwrite:
            raise UsageError(f"{what} {path} holds an earlier PNG output; pass --overwrite (-y) to replace it")
        return
    if p.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name")
    if not overwrite:
        raise UsageError(f"{what} {path} exists; pass --overwrite (-y) to replace it")


def check(outputs: Iterable[tuple[str | os.PathLike | None, bool]], inputs: Iterable = (), *,
          overwrite: bool = False, make_parents: bool = False) -> None:
    """:func:`check_one` for each ``(path, is_folder)`` (``None`` paths skipped), and no two
    outputs the same. Call it before any work starts."""
    inputs = [i for i in inputs if i is not None]
    done: list[Path] = []
    for path, folder in outputs:
        if path is None:
            continue
        for other in done:
            if same_file(path, other):
                raise UsageError(f"two outputs are the same file: {other} and {path}")
        check_one(path, folder=folder, inputs=inputs, overwrite=overwrite, make_parents=make_parents)
        done.append(_name(path))


def _key(path: str | os.PathLike) -> str:
    p = _name(path)
    return os.path.join(os.path.realpath(p.parent if str(p.parent) else "."), p.name)


def commit_file(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """Rename the finished file ``tmp`` to ``target``. Where ``target`` is an output :func:`check`
    did not allow to be replaced, a file that appeared there since is kept: the rename does not
    replace (a hard link, then the temporary name removed), and the run's output is kept as
    ``NAME.zstsr-PID.EXT`` beside it, named in the error raised."""
    tmp, target = Path(tmp), _name(target)
    key = _key(target)
    if _MAY_REPLACE.get(key, True):
        os.replace(tmp, target)
        return
    try:
        _rename_no_replace(tmp, target)
    except FileExistsError:
        _keep_beside(tmp, target, "appeared while zstsr was working and was left as it is")
    _MAY_REPLACE[key] = True       # our own file now: a later save of it (a checkpoint) replaces it


def _keep_beside(tmp: Path, target: Path, why: str) -> None:
    """Keep the finished output ``tmp`` as ``NAME.zstsr-PID[-N].EXT`` beside ``target`` (a short
    name: a long one plus the tag could pass the 255-byte limit), never over anything, and raise
    the error that names both."""
    kept = None
    stem, suffix = target.stem, target.suffix
    if len(suffix.encode()) > 16:       # not an extension ("Take 1.xxxx..."): all of it is the name
        stem, suffix = target.name, ""
    for n in range(100):
        name = target.with_name(f"{short_name(stem)}.zstsr-{os.getpid()}{f'-{n}' if n else ''}{suffix}")
        try:
            _rename_no_replace(tmp, name)
        except FileExistsError:
            continue
        except OSError:
            break
        kept = name
        break
    if kept is None:
        raise ZstsrError(f"{target} {why}; this run's output could not be kept ({tmp.name} removed)") from None
    raise ZstsrError(f"{target} {why}; this run's output is {kept}") from None


def _rename_no_replace(src: Path, dst: Path) -> None:
    """``src`` -> ``dst`` unless ``dst`` exists (FileExistsError). A hard link is atomic; where the
    file system has none, a check just before the rename (a short window, nothing better there)."""
    if src.is_dir() and not src.is_symlink():
        # a folder (a PNG output) cannot be hard-linked; rename() never replaces a non-empty
        # folder or a file with a folder, so only a missing or empty one can be taken over
        if os.path.lexists(dst) and not (dst.is_dir() and not dst.is_symlink() and not any(dst.iterdir())):
            raise FileExistsError(dst)
        try:
            os.rename(src, dst)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise FileExistsError(dst) from None
        except OSError as e:
            if e.errno == errno.ENOTEMPTY:
                raise FileExistsError(dst) from None
            raise
        return
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(dst):
            raise FileExistsError(dst) from None
        os.replace(src, dst)
        return
    os.unlink(src)


# --------------------------------------------------------------------------------------------
# temporary names


def short_name(name: str) -> str:
    """``name``, or for a long one a prefix and a hash of it: temporary names stay far below the
    255-byte limit of a file name."""
    raw = name.encode()
    if len(raw) <= 80:
        return name
    return raw[:60].decode(errors="ignore") + "~" + hashlib.sha1(raw).hexdigest()[:10]


def _host_tag() -> str:
    """This machine, in a temporary name: ``h`` and 8 hex digits of its name's hash. A folder
    may be shared by machines (``--ray`` over a network folder), and a process number means
    nothing on another machine, so :func:`clean_stale` judges only its own machine's files."""
    return "h" + hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def temp_path(target: str | os.PathLike, suffix: str = "") -> Path:
    """A new hidden name beside ``target``: ``.NAME.partial-HOST-PID-N`` + ``suffix`` (NAME
    shortened when long; HOST: :func:`_host_tag`). Nothing is created."""
    t = _name(target)
    return t.parent / f".{short_name(t.name)}.partial-{_host_tag()}-{os.getpid()}-{next(_counter)}{suffix}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True   # exists, not ours
    return True


def clean_stale(target: str | os.PathLike, log: Callable[[str], None] | None = None) -> None:
    """Remove temporary outputs of ``target``'s name left by processes of this machine that no
    longer run: files, and folders holding only PNG frames and the marker (a PNG output in
    progress). Another machine's (a shared folder) are left alone, whatever their process number;
    names without a machine (zstsr before it wrote one) are judged as this machine's."""
    t = _name(target)
    pat = re.compile(rf"^\.{re.escape(short_name(t.name))}\.partial-(?:(h[0-9a-f]{{8}})-)?(\d+)(?:-\d+)?(?:\..*)?$")
    try:
        entries = list(t.parent.iterdir())
    except OSError:
        return
    host = _host_tag()
    for p in entries:
        m = pat.match(p.name)
        if not m or m.group(1) not in (None, host) or _alive(int(m.group(2))):
            continue
        if p.name.endswith(".old"):     # an earlier PNG output an older zstsr moved aside: the user's
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                if not all(_FRAME.match(q.name) or q.name == PNG_MARKER for q in p.iterdir()):
                    continue
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError:
            continue
        if log:
            log(f"note: removed {p.name}, a partial output left by process {m.group(2)}, which has ended")


def replace_folder(tmp: Path, target: Path) -> Path | None:
    """Move the finished PNG folder ``tmp`` to ``target``: directly when ``target`` is missing or
    empty; when it is an earlier zstsr PNG output that :func:`check` allowed to replace
    (``overwrite``), that one is moved aside first and its frames deleted after. Anything else
    there (a file, a folder of other files, or a PNG output that appeared while zstsr worked
    without ``overwrite``) is left as it is, and the run's frames are kept beside it under another
    name (:func:`commit_file`'s rule for folders), never deleted; so are they where the rename is
    refused (an empty mount point). Returns the earlier output's folder where something else was
    put into it meanwhile (it is left there, under a visible name, for the caller to say so)."""
    target = _name(target)
    try:
        _rename_no_replace(tmp, target)
        return None
    except FileExistsError:
        pass
    except OSError as e:
        _keep_beside(tmp, target, f"could not be written ({e.strerror or e})")
    if (not _MAY_REPLACE.get(_key(target), True) or target.is_symlink() or not target.is_dir()
            or not is_png_output(target)):
        _keep_beside(tmp, target, "is not an earlier zstsr PNG output that --overwrite allows to replace, "
                                  "and was left as it is")
    # a visible name, not a temporary one (clean_stale would take a .partial folder for ours)
    old = target.with_name(f"{short_name(target.name)}.zstsr-old-{os.getpid()}-{next(_counter)}")
    try:
        os.rename(target, old)
    except OSError as e:
        _keep_beside(tmp, target, f"could not be moved aside ({e.strerror or e}) and was left as it is")
    try:
        _rename_no_replace(tmp, target)
    except BaseException as e:     # Ctrl-C too: the earlier output goes back under its name
        try:
            _rename_no_replace(old, target)
        except OSError:
            _keep_beside(tmp, target, f"could not be replaced ({_why(e)}); the earlier PNG output is {old}")
        if not isinstance(e, OSError):
            raise
        _keep_beside(tmp, target, f"could not be replaced ({_why(e)}); the earlier PNG output is back in place")
    return None if _remove_png_output(old) else old


def _why(e: BaseException) -> str:
    if isinstance(e, FileExistsError):
        return "its name was taken meanwhile"
    return getattr(e, "strerror", None) or type(e).__name__


def _remove_png_output(folder: Path) -> bool:
    """Delete an earlier PNG output's frames and marker, then the folder if nothing else is in it
    (a file put there since it was checked stays, with its folder). Whether the folder is gone."""
    with contextlib.suppress(OSError):
        for p in folder.iterdir():
            if (p.name == PNG_MARKER or _FRAME.match(p.name)) and p.is_file() and not p.is_symlink():
                with contextlib.suppress(OSError):
                    p.unlink()
        folder.rmdir()
    return not os.path.lexists(folder)
