"""Policy profiles (P1): find a profile file, follow ``extends``, merge, validate, keep provenance.

A profile is a YAML file named ``<name>.yaml``, looked up first in ``HCP_POLICY_DIR`` (if set) and
then in the packaged ``profiles/`` directory. A child names its parent in ``extends``; the chain is
merged root first: mappings merge key by key, lists and scalars replace, an explicit ``null``
replaces too ("no default rating here"). Values that only make sense together (a ``Duration``, the
label catalogue) are replaced whole, never merged field by field. Provenance records, for every
resolved key path, the file it came from, so that ``haochaping policy show`` can say why a value is
what it is.
"""

from __future__ import annotations

import copy
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from haochaping.config import get_settings
from haochaping.errors import InvalidInput, NotFound
from haochaping.policy.schemas import Duration, LabelCatalogue, Profile

PACKAGED_DIR = Path(__file__).resolve().parent / "profiles"
SUFFIX = ".yaml"
# A profile name is also a file name and a value of ``regions.profile`` (String(50)).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,49}")
# Keys every file must set itself: a child inheriting its parent's version would make two
# different rule sets indistinguishable in the evaluations that store it.
OWN_KEYS = ("name", "title", "version")
# Replaced whole by a child: half of a duration, or a catalogue with another catalogue's version,
# would be a value no document ever wrote.
ATOMIC_MODELS: tuple[type[BaseModel], ...] = (Duration, LabelCatalogue)

KeyPath = tuple[str | int, ...]


class PolicyError(InvalidInput):
    """A profile file that cannot be used: its message names the file, the key and the reason."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__("policy_invalid", message, details=details)


@dataclass(frozen=True)
class _Layer:
    """One file of an inheritance chain, as read."""

    name: str
    path: Path
    data: dict[str, Any]


# --- reading one file ----------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key written twice (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: let the regular constructor report it
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "构造映射时",
                node.start_mark,
                f"键 {key!r} 重复出现",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _file_error(path: Path, key: str, reason: str) -> PolicyError:
    return PolicyError(
        f"政策配置文件 {path} 的配置项 {key}：{reason}",
        details={"errors": [{"file": str(path), "key": key, "reason": reason}]},
    )


def _read(path: Path) -> _Layer:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"政策配置文件 {path} 不存在", details={"file": str(path)}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            f"无法读取政策配置文件 {path}（须为 UTF-8 文本）：{exc}", details={"file": str(path)}
        ) from exc
    try:
        # _StrictLoader is a SafeLoader: no arbitrary Python objects.
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(
            f"政策配置文件 {path} {where}不是合法的 YAML：{problem}",
            details={"file": str(path), "reason": str(exc)},
        ) from exc
    if not isinstance(data, dict):
        raise PolicyError(
            f"政策配置文件 {path} 的内容应为键值映射（name: …、title: … 等），而不是 "
            f"{type(data).__name__}",
            details={"file": str(path)},
        )
    for key in OWN_KEYS:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _file_error(
                path, key, "每个配置文件必须自己写明此项，且为非空字符串（版本号请加引号）"
            )
    if data["name"] != path.stem:
        raise _file_error(path, "name", f"应与文件名一致（{path.stem}），实为 “{data['name']}”")
    parent = data.get("extends")
    if parent is not None and (not isinstance(parent, str) or not NAME_PATTERN.fullmatch(parent)):
        raise _file_error(
            path, "extends", f"应为上级配置名（小写字母、数字、下划线），实为 {parent!r}"
        )
    levels = data.get("levels")
    if isinstance(levels, dict):
        # YAML reads `5:` as an int and `"5":` as a string; both mean level 5.
        data["levels"] = {
            int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in levels.items()
        }
    return _Layer(name=data["name"], path=path, data=data)


# --- finding files and following `extends` -------------------------------------------------------


def _search_dirs() -> tuple[Path, ...]:
    custom = get_settings().policy_dir
    return (custom, PACKAGED_DIR) if custom is not None else (PACKAGED_DIR,)


def _find(name: str, dirs: Iterable[Path]) -> Path | None:
    if not NAME_PATTERN.fullmatch(name):
        return None
    for directory in dirs:
        candidate = directory / f"{name}{SUFFIX}"
        if candidate.is_file():
            return candidate
    return None


def _chain(first: _Layer, dirs: Sequence[Path]) -> list[_Layer]:
    """The file and its ancestors, child first; refuses cycles and unknown parents."""
    chain = [first]
    while (parent := chain[-1].data.get("extends")) is not None:
        names = [layer.name for layer in chain]
        if parent in names:
            cycle = " → ".join([*names[names.index(parent) :], parent])
            raise _file_error(chain[-1].path, "extends", f"继承关系出现循环：{cycle}")
        path = _find(parent, dirs)
        if path is None:
            searched = "、".join(str(d) for d in dirs)
            raise _file_error(
                chain[-1].path, "extends", f"找不到上级配置 “{parent}”（已查找：{searched}）"
            )
        chain.append(_read(path))
    return chain


# --- merging with provenance ---------------------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


@lru_cache(maxsize=256)
def _is_atomic(path: KeyPath) -> bool:
    """Whether the schema types the value at ``path`` as one of ``ATOMIC_MODELS``."""
    annotation: Any = Profile
    for part in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return False
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return False
    annotation = _unwrap(annotation)
    return isinstance(annotation, type) and issubclass(annotation, ATOMIC_MODELS)


def _join(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


def _forget(provenance: dict[str, str], path: KeyPath) -> None:
    key = _join(path)
    for existing in [k for k in provenance if k == key or k.startswith(key + ".")]:
        del provenance[existing]


def _record(provenance: dict[str, str], path: KeyPath, value: Any, source: str) -> None:
    if isinstance(value, dict) and value and not _is_atomic(path):
        for key, inner in value.items():
            _record(provenance, (*path, key), inner, source)
    else:
        provenance[_join(path)] = source


def _merge_into(
    target: dict[Any, Any],
    provenance: dict[str, str],
    data: Mapping[Any, Any],
    source: str,
    prefix: KeyPath = (),
) -> None:
    for key, value in data.items():
        path = (*prefix, key)
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict) and not _is_atomic(path):
            _merge_into(current, provenance, value, source, path)
        else:
            _forget(provenance, path)
            target[key] = copy.deepcopy(value)
            _record(provenance, path, value, source)


def _merge(chain: Sequence[_Layer]) -> tuple[dict[str, Any], dict[str, str]]:
    merged: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for layer in reversed(chain):
        _merge_into(merged, provenance, layer.data, str(layer.path))
    return merged, provenance


def _ordered(provenance: dict[str, str], profile: Profile) -> dict[str, str]:
    """Provenance in the schema's field order (levels 1..5, work-order steps…), for display."""
    order: dict[str, int] = {}

    def walk(value: Any, prefix: str) -> None:
        order.setdefault(prefix, len(order))
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{prefix}.{key}" if prefix else str(key))

    walk(profile.model_dump(), "")
    return dict(sorted(provenance.items(), key=lambda item: order.get(item[0], len(order))))


# --- validation errors in Chinese ----------------------------------------------------------------

_VALUE_ERRORS: tuple[tuple[re.Pattern[str], str | None, str], ...] = (
    (re.compile(r"levels must be exactly 1\.\.5"), "levels", "评价等级必须恰好是 1 到 5 这五级"),
    (
        re.compile(r"bad_levels contains unknown level (\S+)"),
        "bad_levels",
        "差评等级 {0} 不是已定义的评价等级",
    ),
    (
        re.compile(r"label (\S+) names unknown level (\S+)"),
        "labels",
        "标签 {0} 的适用等级 {1} 不是已定义的评价等级",
    ),
    (re.compile(r"duplicate label codes: (.+)"), None, "标签编码重复：{0}"),
)

_TYPE_REASONS = {
    "extra_forbidden": "未知的配置项（拼写错误，或此处不允许该项）",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "string_type": "应为字符串",
    "dict_type": "应为键值映射",
    "model_type": "应为键值映射",
    "model_attributes_type": "应为键值映射",
    "list_type": "应为列表",
}


def _reason(error: Mapping[str, Any]) -> tuple[str | None, str]:
    """(key path override or None, Chinese reason) for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
        for pattern, key, template in _VALUE_ERRORS:
            match = pattern.search(text)
            if match:
                return key, template.format(*match.groups())
        return None, f"取值不合规：{text}"
    if kind == "missing":
        return None, "缺少此项（本文件及其上级配置都没有设置）"
    if kind == "enum":
        return None, f"取值应为 {ctx.get('expected', '')} 之一，实为 {error.get('input')!r}"
    if kind == "greater_than_equal":
        return None, f"不能小于 {ctx.get('ge')}，实为 {error.get('input')!r}"
    if kind == "less_than_equal":
        return None, f"不能大于 {ctx.get('le')}，实为 {error.get('input')!r}"
    if kind in _TYPE_REASONS:
        reason = _TYPE_REASONS[kind]
        if kind != "extra_forbidden":
            reason += f"，实为 {error.get('input')!r}"
        return None, reason
    return None, f"取值不合规：{error['msg']}"


def _source_of(key: str, provenance: Mapping[str, str], chain: Sequence[_Layer]) -> str:
    """The file to blame for ``key``: its own, its nearest ancestor key's, or the most derived
    file among its descendants (parents are valid on their own, so the child broke it)."""
    if key in provenance:
        return provenance[key]
    parts = key.split(".")
    for end in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in provenance:
            return provenance[prefix]
    below = {source for k, source in provenance.items() if k.startswith(key + ".")}
    for layer in chain:  # child first
        if str(layer.path) in below:
            return str(layer.path)
    return str(chain[0].path)


def _translate(
    exc: ValidationError, provenance: Mapping[str, str], chain: Sequence[_Layer]
) -> PolicyError:
    problems: list[dict[str, str]] = []
    for error in exc.errors():
        loc = [part for part in error["loc"] if part != "[key]"]
        override, reason = _reason(error)
        if "[key]" in error["loc"]:
            reason = f"键{reason}"
        key = override or ".".join(str(part) for part in loc) or "（整个配置）"
        problems.append({"file": _source_of(key, provenance, chain), "key": key, "reason": reason})
    lines = [f"文件 {p['file']} 的配置项 {p['key']}：{p['reason']}" for p in problems]
    text = lines[0] if len(lines) == 1 else "".join(f"\n  - {line}" for line in lines)
    return PolicyError(
        f"政策配置 “{chain[0].name}” 无效：{text}",
        details={"profile": chain[0].name, "errors": problems},
    )


# --- public functions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """A resolved profile, the file of every key path, and the inheritance chain (child first)."""

    profile: Profile
    provenance: Mapping[str, str]
    files: tuple[str, ...]


def _resolve(first: _Layer, dirs: Sequence[Path]) -> Resolved:
    chain = _chain(first, dirs)
    merged, provenance = _merge(chain)
    try:
        profile = Profile.model_validate(merged)
    except ValidationError as exc:
        raise _translate(exc, provenance, chain) from None
    return Resolved(
        profile=profile,
        provenance=types.MappingProxyType(_ordered(provenance, profile)),
        files=tuple(str(layer.path) for layer in chain),
    )


@lru_cache(maxsize=64)
def _resolve_by_name(name: str, dirs: tuple[Path, ...]) -> Resolved:
    path = _find(name, dirs)
    if path is None:
        searched = "、".join(str(d) for d in dirs)
        raise NotFound(
            "policy_not_found",
            f"找不到政策配置 “{name}”（已查找：{searched}）",
            details={"name": name},
        )
    return _resolve(_read(path), dirs)


def resolve(name: str) -> Resolved:
    """Profile ``name`` with its provenance and chain; cached until ``clear_cache()``."""
    return _resolve_by_name(name, _search_dirs())


def resolve_file(path: Path) -> Resolved:
    """One file with its parents (looked up beside it first, then as usual). Not cached."""
    path = Path(path)
    return _resolve(_read(path), (path.resolve().parent, *_search_dirs()))


def load_profile(name: str) -> Profile:
    """The resolved, validated profile ``name`` (P1); cached until ``clear_cache()``."""
    return resolve(name).profile


def load_with_provenance(name: str) -> tuple[Profile, dict[str, str]]:
    """The profile and, for every resolved key path (``levels.5.score``, ``labels``…), the file
    it came from."""
    resolved = resolve(name)
    return resolved.profile, dict(resolved.provenance)


def check_file(path: Path) -> Profile:
    """Validate one profile file including its parents; raises ``PolicyError``."""
    return resolve_file(path).profile


def available_profiles() -> list[str]:
    """Names of every profile file found (``HCP_POLICY_DIR`` and packaged), sorted."""
    names: set[str] = set()
    for directory in _search_dirs():
        if directory.is_dir():
            names.update(
                p.stem for p in directory.glob(f"*{SUFFIX}") if NAME_PATTERN.fullmatch(p.stem)
            )
    return sorted(names)


def clear_cache() -> None:
    """Forget loaded profiles (after editing a file or changing ``HCP_POLICY_DIR``)."""
    _resolve_by_name.cache_clear()
