"""A JMeter test plan (.jmx) as a flat list of its elements, and its properties read by name.

A .jmx is `<jmeterTestPlan><hashTree>`: each element (TestPlan, ThreadGroup, HTTPSamplerProxy, ...) is
followed by a `<hashTree>` holding its children. Properties are `<stringProp name=...>` (or int, long,
bool, double), `<elementProp>` (a nested element: the Loop Controller, the arguments) and
`<collectionProp>` (lists: arguments, headers). Variables (`${name}`) come from the TestPlan's and the
Arguments elements' user-defined variables; `${__P(name,default)}` takes its default.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from llmload.errors import UsageError

_SCALAR_PROPS = ("stringProp", "intProp", "longProp", "boolProp", "doubleProp", "floatProp")
_REFERENCE = re.compile(r"\$\{([^${}]*)\}")
_FUNCTION = re.compile(r"^__(P|property)\((.*)\)$")


@dataclass
class PlanElement:
    """One element of the plan: its class, the name the user gave it, whether it runs, its XML."""

    testclass: str
    name: str
    enabled: bool  # false also under a disabled parent
    node: ET.Element


def read_plan(path: Path) -> list[PlanElement]:
    """Every element under the TestPlan, in document order (the TestPlan itself first)."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise UsageError(f"{path}:{exc.position[0]}: not valid XML ({exc})") from None
    tree = root.find("hashTree")
    if root.tag != "jmeterTestPlan" or tree is None:
        raise UsageError(f"{path}: not a JMeter test plan (<jmeterTestPlan><hashTree>)")
    out: list[PlanElement] = []
    _walk(tree, out)
    if not out or out[0].testclass != "TestPlan":
        raise UsageError(f"{path}: no TestPlan element (not a JMeter test plan?)")
    return out


def _walk(tree: ET.Element, out: list[PlanElement], enabled: bool = True) -> None:
    """The elements of one hashTree and, after each, its children; a disabled element disables its children."""
    current: PlanElement | None = None
    for child in tree:
        if child.tag == "hashTree":
            if current is not None:
                _walk(child, out, current.enabled)
            continue
        current = PlanElement(child.get("testclass", child.tag), child.get("testname", ""),
                              enabled and child.get("enabled", "true") != "false", child)  # fmt: skip
        out.append(current)


def prop(node: ET.Element, name: str, default: str = "") -> str:
    """A scalar property of `node` (not of its nested elements), as text."""
    for child in node:
        if child.tag in _SCALAR_PROPS and child.get("name") == name:
            return (child.text or "").strip() if child.tag != "stringProp" else child.text or ""
    return default


def element_prop(node: ET.Element, name: str) -> ET.Element | None:
    for child in node:
        if child.tag == "elementProp" and child.get("name") == name:
            return child
    return None


def collection_items(node: ET.Element | None, name: str) -> list[ET.Element]:
    """The elementProps of the collectionProp `name` directly under `node`."""
    if node is None:
        return []
    for child in node:
        if child.tag == "collectionProp" and child.get("name") == name:
            return [item for item in child if item.tag == "elementProp"]
    return []


def arguments(node: ET.Element | None) -> dict[str, str]:
    """Name -> value of an Arguments element (or elementProp): user-defined variables."""
    items = collection_items(node, "Arguments.arguments")
    return {prop(item, "Argument.name"): prop(item, "Argument.value") for item in items if prop(item, "Argument.name")}


def plan_variables(elements: list[PlanElement]) -> dict[str, str]:
    """The TestPlan's user-defined variables, then every enabled Arguments element's, in order."""
    found: dict[str, str] = {}
    for element in elements:
        if element.testclass == "TestPlan":
            found.update(arguments(element_prop(element.node, "TestPlan.user_defined_variables")))
        elif element.testclass == "Arguments" and element.enabled:
            found.update(arguments(element.node))
    return found


def substitute(text: str, variables: dict[str, str]) -> tuple[str, set[str]]:
    """${name} -> its value, ${__P(name,default)} and ${__property(name,,default)} -> the default (JMeter
    properties are not known here); returns the text and the references left as they were."""
    unresolved: set[str] = set()

    def value(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref in variables:
            return variables[ref]
        default = _property_default(ref)
        if default is None:
            unresolved.add(match.group(0))
            return match.group(0)
        return default

    for _ in range(3):  # a variable's value may refer to another
        text = _REFERENCE.sub(value, text)
    return text, unresolved


def _property_default(ref: str) -> str | None:
    function = _FUNCTION.match(ref)
    if function is None:
        return None
    args = [a.strip() for a in function.group(2).split(",")]
    position = 1 if function.group(1) == "P" else 2
    return args[position] if len(args) > position and args[position] else None
