"""The URLs of ``notify:``: their shape, checked when a DAG or ``dagctl.yaml`` is read; ``${env.NAME}`` in them,
filled from the environment when a run starts (so a webhook's token need not be written in a file kept in
git); and how to name one in a message without its secrets. Pure, no apprise: which services apprise knows is
asked when the run starts (:mod:`dagctl.run.notify`).
"""

from __future__ import annotations

import re

from dagctl.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_REF = re.compile(r"\$\{([^}]*)\}")
_ENV = re.compile(r"env\.([A-Za-z_][A-Za-z0-9_]*)")
EXAMPLE = 'write an apprise URL such as "slack://T000/B000/XXX" or "${env.SLACK_URL}"'


def url_problem(url: str) -> str | None:
    """What is wrong with one URL as written (None: nothing). References other than ``${env.NAME}`` are refused;
    a URL made of references is checked once they are filled."""
    refs = _REF.findall(url)
    for ref in refs:
        if not _ENV.fullmatch(ref.strip()):
            return f"notify url {masked(url)!r}: ${{{ref}}} cannot be used in a notify URL, only ${{env.NAME}}"
    if refs or _URL.fullmatch(url.strip()):
        return None
    return f"notify url {masked(url)!r} is not a URL (scheme://...)"


def filled(url: str, environ: Mapping[str, str]) -> str:
    """``url`` with each ``${env.NAME}`` replaced by that environment variable; a missing or empty one is an
    error naming it (a run whose messages would go nowhere should not start)."""

    def value(match: re.Match[str]) -> str:
        name = _ENV.fullmatch(match.group(1).strip())
        if name is None:  # refused when the file was read; kept as written otherwise
            return match.group(0)
        found = environ.get(name.group(1), "")
        if not found:
            raise UsageError(
                f"notify url {url!r}: environment variable {name.group(1)} is not set",
                hint=f"export {name.group(1)}=... before the run, or write the URL itself",
            )
        return found

    done = _REF.sub(value, url).strip()
    if done != url and not _URL.fullmatch(done):
        raise UsageError(f"notify url {url!r} is not a URL once filled in ({masked(done)!r})", hint=EXAMPLE)
    return done


def masked(url: str) -> str:
    """``url`` fit for a log or a terminal: the scheme, and the host when it looks like one (a name with a dot,
    an address); a user, password, path and query, where services keep their tokens, become ``***``.
    ``slack://T000/B000/XXX`` -> ``slack://***``; ``mailto://me:pw@example.com`` -> ``mailto://***@example.com``."""
    if "${" in url and not _REF.sub("", url).strip(" /:"):
        return url  # only references: nothing secret is written
    scheme, sep, rest = url.partition("://")
    if not sep:  # not a URL: a typo, or a token pasted alone
        return url if len(url) <= 12 else url[:6] + "***"
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    _, at, host = authority.rpartition("@")
    host_kept = host if ("." in host or host.startswith("[") or host.split(":")[0] == "localhost") else ""
    shown = f"{scheme}://" + ("***@" if at else "") + (host_kept or "***")
    if host_kept and len(authority) < len(rest):
        shown += "/***"
    return shown
