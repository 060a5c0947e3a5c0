"""What changed between two catalog versions: items added, changed (field by field) and withdrawn.

One diff serves ``catalog import --dry-run``, ``catalog diff``, the catalog
page and the note on a case received against an outdated item, so staff
read the same words everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The list fields of an item whose entries are keyed by this attribute.
_KEYED_LISTS = {"materials": "code", "fields": "name", "result_fields": "name"}


@dataclass(frozen=True)
class FieldChange:
    """One field of an item or department: ``before`` is None when added, ``after`` None when removed."""

    path: str
    before: Any
    after: Any

    def text(self) -> str:
        if self.before is None:
            return f"{self.path}: added"
        if self.after is None:
            return f"{self.path}: removed"
        return f"{self.path}: {_show(self.before)} → {_show(self.after)}"


@dataclass(frozen=True)
class EntryChange:
    code: str
    name: str
    fields: list[FieldChange] = field(default_factory=list)


@dataclass
class CatalogChanges:
    """The difference between two catalogs, in code order."""

    added: list[EntryChange] = field(default_factory=list)
    changed: list[EntryChange] = field(default_factory=list)
    withdrawn: list[EntryChange] = field(default_factory=list)
    departments: list[EntryChange] = field(default_factory=list)
    # Codes of the project templates added, changed or withdrawn.
    projects: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.withdrawn or self.departments or self.projects)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, {len(self.withdrawn)} withdrawn"
                + (f", {len(self.departments)} department(s) changed" if self.departments else "")
                + (f", {len(self.projects)} project template(s) changed" if self.projects else ""))

    def lines(self) -> list[str]:
        """The changes as text, one entry per line and one line per changed field."""
        out: list[str] = []
        for entry in self.departments:
            out.append(f"department {entry.code} {entry.name}")
            out.extend(f"    {change.text()}" for change in entry.fields)
        out.extend(f"+ {entry.code} {entry.name}" for entry in self.added)
        for entry in self.changed:
            out.append(f"~ {entry.code} {entry.name}")
            out.extend(f"    {change.text()}" for change in entry.fields)
        out.extend(f"- {entry.code} {entry.name} (withdrawn)" for entry in self.withdrawn)
        return out


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(map(str, value)) or "(none)"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def diff_entries(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[FieldChange]:
    """Field-by-field changes between two versions of one item (or department, material, form field)."""
    changes: list[FieldChange] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        key = _KEYED_LISTS.get(name)
        if key and isinstance(old, list) and isinstance(new, list):
            changes.extend(_diff_keyed(old or [], new or [], key, f"{prefix}{name}"))
        else:
            changes.append(FieldChange(f"{prefix}{name}", old, new))
    return changes


def _diff_keyed(old: list[dict], new: list[dict], key: str, path: str) -> list[FieldChange]:
    before = {entry[key]: entry for entry in old}
    after = {entry[key]: entry for entry in new}
    changes: list[FieldChange] = []
    for code in [*before, *(code for code in after if code not in before)]:
        if code not in after:
            changes.append(FieldChange(f"{path}.{code}", before[code].get("name_zh") or code, None))
        elif code not in before:
            changes.append(FieldChange(f"{path}.{code}", None, after[code].get("name_zh") or code))
        else:
            changes.extend(diff_entries(before[code], after[code], f"{path}.{code}."))
    if not changes and [entry[key] for entry in old] != [entry[key] for entry in new]:
        changes.append(FieldChange(f"{path} (order)", [entry[key] for entry in old], [entry[key] for entry in new]))
    return changes


def diff_documents(before: dict[str, Any] | None, after: dict[str, Any]) -> CatalogChanges:
    """Changes from catalog ``before`` (None: nothing yet) to ``after``; both have departments and items."""
    changes = CatalogChanges()
    old_items = {item["code"]: item for item in (before or {}).get("items", [])}
    new_items = {item["code"]: item for item in after["items"]}
    for code in sorted(new_items):
        item = new_items[code]
        if code not in old_items:
            changes.added.append(EntryChange(code, item["name_zh"]))
        elif old_items[code] != item:
            changes.changed.append(EntryChange(code, item["name_zh"], diff_entries(old_items[code], item)))
    changes.withdrawn = [EntryChange(code, old_items[code]["name_zh"]) for code in sorted(old_items)
                         if code not in new_items]
    old_departments = {entry["code"]: entry for entry in (before or {}).get("departments", [])}
    new_departments = {entry["code"]: entry for entry in after["departments"]}
    for code in sorted(set(old_departments) | set(new_departments)):
        old, new = old_departments.get(code), new_departments.get(code)
        if old == new:
            continue
        name = (new or old)["name_zh"]
        if old is None or new is None:
            changes.departments.append(EntryChange(code, name, [FieldChange("department", old and name,
                                                                            new and name)]))
        else:
            changes.departments.append(EntryChange(code, name, diff_entries(old, new)))
    old_projects = {entry["code"]: entry for entry in (before or {}).get("projects", [])}
    new_projects = {entry["code"]: entry for entry in after.get("projects", [])}
    changes.projects = sorted(code for code in set(old_projects) | set(new_projects)
                              if old_projects.get(code) != new_projects.get(code))
    return changes
