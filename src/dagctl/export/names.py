"""Names in an Argo manifest. Pure.

* Task and template names: lowercase letters, digits and ``-``, starting with a letter, at most 63
  characters. Argo allows capitals and a leading digit, but pod names are built from template names
  (Kubernetes wants them lowercase) and Argo's ``depends`` expressions read a leading digit as a number.
  A dagctl id that does not fit is rewritten (``load_sales.v2`` -> ``load-sales-v2``); when two ids would
  get the same name, or the name is reserved, the later one gets a suffix from a hash of its id, so the
  names are the same on every export.
* Object names (``metadata.name``): DNS-1123 subdomains, labels of lowercase letters, digits and ``-`` joined by
  ``.``, each starting and ending with a letter or digit (``A..weird.-name_`` -> ``a.weird.name``); a name cut
  to fit gets a suffix from a hash of the whole text. :func:`is_dns_label` and :func:`is_dns_subdomain` check
  names given as they are (a namespace, a PersistentVolumeClaim, a Secret).
* Parameter names: letters, digits, ``_`` and ``-`` (Argo's rule); other names are refused, not rewritten,
  because users pass them on ``argo submit -p NAME=...``.
* Label values: at most 63 characters, alphanumeric at both ends.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

NAME_MAX = 63
ENTRYPOINT = "main"
"""The DAG template's name, so no task may take it."""
OUTPUTS_PARAM = "dagctl-outputs"
"""The output parameter holding all of a task's outputs as one JSON object."""
RESERVED = frozenset({ENTRYPOINT, "and", "or", "not", "in", "matches", "contains", "true", "false", "nil", "let"})
"""Names a task may not get: the entrypoint, and words of Argo's ``depends`` expression language."""
_PARAM = re.compile(r"[A-Za-z0-9_-]+")
_LABEL = re.compile(r"([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?")
_ENV = re.compile(r"[-._A-Za-z][-._A-Za-z0-9]*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253


def short_hash(text: str) -> str:
    return f"{zlib.crc32(text.encode()):08x}"[:6]


def _slug(text: str, allowed: str) -> str:
    slug = re.sub(f"[^{allowed}]+", "-", text.lower())
    return re.sub("-{2,}", "-", slug).strip("-.")


def task_names(ids: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """dagctl task id -> Argo task (and template) name, unique, in the order given, none of ``reserved``."""
    names: dict[str, str] = {}
    used = set(RESERVED) | set(reserved)
    for tid in ids:
        base = _slug(tid, "a-z0-9-")
        if not base[:1].isalpha():
            base = f"t-{base}".rstrip("-")
        base = base[:NAME_MAX].rstrip("-")
        name, salt = base, 0
        while name in used:
            name = f"{base[: NAME_MAX - 7].rstrip('-')}-{short_hash(tid + '#' * salt)}"
            salt += 1
        used.add(name)
        names[tid] = name
    return names


def unique_name(base: str, salt: str, used: set[str]) -> str:
    """``base`` (an Argo name), or ``base`` shortened with a suffix from a hash of ``salt`` when it is in
    ``used``; the name returned is added to ``used``."""
    name, n = base[:NAME_MAX].rstrip("-"), 0
    while name in used:
        name = f"{base[: NAME_MAX - 7].rstrip('-')}-{short_hash(salt + '#' * n)}"
        n += 1
    used.add(name)
    return name


def object_name(text: str, limit: int) -> str:
    """A Kubernetes object name (or ``generateName`` stem) of at most ``limit`` characters: a DNS-1123 subdomain."""
    name = _subdomain(text) or "dagctl"
    if len(name) > limit:
        name = f"{_subdomain(name[: limit - 7])}-{short_hash(text)}"
    return name


def _subdomain(text: str) -> str:
    """``text`` as dot-separated DNS-1123 labels: other characters become ``-``, and each label is trimmed to
    start and end with a letter or digit (empty labels are dropped)."""
    labels = (_slug(label, "a-z0-9-") for label in text.lower().split("."))
    return ".".join(label for label in labels if label)


def is_dns_label(name: str) -> bool:
    """Whether ``name`` is a DNS-1123 label (a namespace): at most 63 lowercase letters, digits and ``-``,
    starting and ending with a letter or digit."""
    return len(name) <= DNS_LABEL_MAX and bool(_DNS_LABEL.fullmatch(name))


def is_dns_subdomain(name: str) -> bool:
    """Whether ``name`` is a DNS-1123 subdomain (most object names): DNS-1123 labels joined by ``.``, at most 253
    characters."""
    return 0 < len(name) <= DNS_SUBDOMAIN_MAX and all(_DNS_LABEL.fullmatch(label) for label in name.split("."))


def is_param_name(name: str) -> bool:
    return bool(_PARAM.fullmatch(name))


def is_label_value(value: str) -> bool:
    return bool(value) and bool(_LABEL.fullmatch(value))


def is_env_name(name: str) -> bool:
    """Whether Kubernetes takes ``name`` as a container environment variable."""
    return bool(_ENV.fullmatch(name))
