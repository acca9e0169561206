"""Framework API names and vocabularies, loaded from rules/knowledge/*.yaml."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pyyaml without libyaml
    _Loader = yaml.SafeLoader


def data_dir() -> Path:
    """The catalog folder: packaged inside the wheel, or beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("jobcheck's rules/ folder is missing from the installation")


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)


class Knowledge:
    def __init__(
        self,
        data: Mapping[str, Any],
        task_decorators: Tuple[Tuple[str, str], ...] = (),
        enqueue_functions: Tuple[Tuple[str, str], ...] = (),
    ) -> None:
        self.data = data
        # the project's own "send this job" functions: the first argument is the job (or its name)
        self.enqueue_functions: Dict[str, str] = dict(enqueue_functions)
        self.aliases: Dict[str, str] = dict(data.get("aliases", {}))
        self.frameworks: Dict[str, Dict[str, Any]] = data["frameworks"]
        self.defaults: Dict[str, Dict[str, Any]] = data["defaults"]
        self._canonical: Dict[str, str] = {}
        self._decorators: Dict[str, str] = {}
        for framework, spec in self.frameworks.items():
            for name in spec.get("task_decorators", ()):
                self._decorators[name] = framework
        for name, framework in task_decorators:
            self._decorators[self.canonical(name)] = framework
        self._module_framework = {
            module: framework for framework, spec in self.frameworks.items() for module in spec.get("modules", ())
        }

    def canonical(self, qname: str) -> str:
        """Map an import path onto its canonical name (longest alias prefix wins)."""
        cached = self._canonical.get(qname)
        if cached is None:
            cached = self._canonical[qname] = self._canonicalise(qname)
        return cached

    def _canonicalise(self, qname: str) -> str:
        for _ in range(4):
            parts = qname.split(".")
            for cut in range(len(parts), 0, -1):
                prefix = ".".join(parts[:cut])
                target = self.aliases.get(prefix)
                if target is not None:
                    rest = parts[cut:]
                    if target.endswith("()") and rest:
                        qname = target + "." + ".".join(rest)
                    else:
                        qname = ".".join([target, *rest])
                    break
            else:
                return qname
        return qname

    def spec(self, framework: str) -> Dict[str, Any]:
        return self.frameworks[framework]

    def decorator_names(self) -> List[str]:
        """Every task decorator, shipped or declared in `[tool.jobcheck] task-decorators`."""
        return list(self._decorators)

    def decorator_framework(self, canonical: str) -> Optional[str]:
        return self._decorators.get(canonical)

    def framework_of_module(self, qname: str) -> Optional[str]:
        return self._module_framework.get(qname.split(".")[0])

    def is_type(self, canonical: str) -> bool:
        last = canonical.rsplit(".", 1)[-1]
        return bool(last) and last[0].isupper()

    def factory_type(self, canonical: str) -> Optional[str]:
        for spec in self.frameworks.values():
            produced = spec.get("queue_factories", {}).get(canonical)
            if produced:
                return produced
        return None

    def names(self, framework: str, key: str) -> List[str]:
        return list(self.frameworks[framework].get(key, ()))


@functools.lru_cache(maxsize=8)
def load_knowledge(
    task_decorators: Tuple[Tuple[str, str], ...] = (), enqueue_functions: Tuple[Tuple[str, str], ...] = ()
) -> Knowledge:
    return Knowledge(load_yaml(data_dir() / "knowledge" / "frameworks.yaml"), task_decorators, enqueue_functions)
