"""Validate rendered KServe InferenceServices through the kserve SDK's generated models.

Runs in its own venv (``.venv-kserve``, built by ``make test-k8s`` from
kserve-requirements.txt): kserve cannot share a venv with Airflow or the app's pins.

Each document of kind InferenceService is walked against the models' ``openapi_types`` and
``attribute_map`` (V1beta1InferenceService, then every nested kserve and Kubernetes model): a
field that no model declares, or a value of the wrong JSON type, is an error (the SDK's own
deserializer drops unknown fields silently). Each object is then built as its model
classes (their constructors), whose setters refuse a missing required field or a value outside
an enum. (The SDK's own ApiClient deserializer cannot build the nested Kubernetes models.)

Usage: python kserve_validate.py FILE... (or - for stdin). One JSON line per InferenceService:
{source, index, name, status, errors}; exit 1 when one is invalid, 2 when there is none.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import kubernetes.client.models as k8s_models
import yaml
from kserve import models as kserve_models

_LIST = re.compile(r"^(?:list|List)\[(.+)\]$")
_DICT = re.compile(r"^(?:dict\(str, (.+)\)|Dict\[str, (.+)\])$")
# Types the generators name after the Go package: the Kubernetes client's class without it.
_GO_PACKAGE = re.compile(r"^K8sIoApi[A-Z][a-z]+(?=V\d)")
_QUANTITIES = frozenset({"ResourceQuantity", "V1beta1MetricQuantity"})
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "date": (str,),
    "datetime": (str,),
    "V1Time": (str,),
}


def model_class(name: str) -> type | None:
    for candidate in (name, _GO_PACKAGE.sub("", name)):
        for module in (kserve_models, k8s_models):
            found = getattr(module, candidate, None)
            if isinstance(found, type) and hasattr(found, "openapi_types"):
                return found
    return None


def load(value: Any, type_name: str, where: str, errors: list[str]) -> Any:
    """``value`` built as the generated type ``type_name``; what does not fit goes to
    ``errors`` (a field no model declares, a wrong JSON type, a refused required/enum)."""
    if value is None or type_name == "object":
        return value
    if matched := _LIST.match(type_name):
        if not isinstance(value, list):
            errors.append(f"{where}: expected a list, got {type(value).__name__}")
            return None
        return [load(item, matched[1], f"{where}[{i}]", errors) for i, item in enumerate(value)]
    if matched := _DICT.match(type_name):
        if not isinstance(value, dict):
            errors.append(f"{where}: expected a map, got {type(value).__name__}")
            return None
        inner = matched[1] or matched[2]
        return {key: load(item, inner, f"{where}.{key}", errors) for key, item in value.items()}
    # Quantities are strings in the models, but the API server takes numbers too (cpu: 1).
    in_resources = where.split(".")[-2] in {"limits", "requests"}
    if type_name in _QUANTITIES or (type_name == "str" and in_resources):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            errors.append(f"{where}: expected a quantity, got {value!r}")
        return str(value)
    if type_name in _PRIMITIVES:
        allowed = _PRIMITIVES[type_name]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            errors.append(f"{where}: expected {type_name}, got {value!r}")
        return value
    model = model_class(type_name)
    if model is None:
        errors.append(f"{where}: the SDK names type {type_name!r}, which no model defines")
        return None
    return load_model(value, model, where, errors)


def load_model(value: Any, model: type, where: str, errors: list[str]) -> Any:
    if not isinstance(value, dict):
        errors.append(f"{where}: expected an object ({model.__name__}), got {value!r}")
        return None
    attributes: dict[str, str] = model.attribute_map  # type: ignore[attr-defined]
    types: dict[str, str] = model.openapi_types  # type: ignore[attr-defined]
    by_json = {json_name: attr for attr, json_name in attributes.items()}
    kwargs = {}
    for key, item in value.items():
        attr = by_json.get(key)
        if attr is None:
            errors.append(f"{where}.{key}: not a field of {model.__name__}")
            continue
        built = load(item, types[attr], f"{where}.{key}", errors)
        if built is not None or item is None:  # a part already refused is not told twice
            kwargs[attr] = built
    try:  # the generated setters refuse a missing required field or a value off an enum
        return model(**kwargs)
    except (ValueError, TypeError) as exc:
        errors.append(f"{where}: {model.__name__}: {exc}")
        return None


def validate(document: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    if document.get("apiVersion") != "serving.kserve.io/v1beta1":
        found = document.get("apiVersion")
        errors.append(f".apiVersion: expected serving.kserve.io/v1beta1, got {found!r}")
    load_model(document, kserve_models.V1beta1InferenceService, "", errors)
    return errors


def main(argv: list[str]) -> int:
    seen = 0
    invalid = False
    for source in argv or ["-"]:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        for index, document in enumerate(yaml.safe_load_all(text)):
            if not isinstance(document, dict) or document.get("kind") != "InferenceService":
                continue
            seen += 1
            errors = validate(document)
            invalid = invalid or bool(errors)
            name = (document.get("metadata") or {}).get("name", "")
            status = "invalid" if errors else "ok"
            line = {"source": source, "index": index, "name": name, "status": status}
            print(json.dumps({**line, "errors": errors}))
    if not seen:
        print("no InferenceService in the input", file=sys.stderr)
        return 2
    return 1 if invalid else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
