"""Benchmark tasks: items, prompt recipes and seeded few-shot drawing.

A task is a list of :class:`Item` plus a :class:`Recipe` that says how an item becomes the text
the model sees. Items come from JSONL, one object per line::

    {"id": "q1", "prompt": "2+2=", "target": "4"}
    {"id": "q2", "prompt": "Capital of France?", "target": "Paris",
     "choices": ["Rome", "Paris", "Oslo"], "label": 1}
    {"id": "s1", "prompt": "1+1=", "target": "2", "fewshot": true}

A line with ``"fewshot": true`` belongs to the few-shot pool and is never scored. When an item has
``choices`` and ``label`` but no ``target``, the target is ``choices[label]``.

A task spec file (YAML) names the data and the recipe::

    name: arith
    data: arith.jsonl            # relative to the YAML file
    fewshot_data: arith_train.jsonl   # optional extra pool file
    template: "Q: {prompt}\\nA:"  # any item field can be used as {field}
    target_delimiter: " "
    fewshot_separator: "\\n\\n"
    description: "Answer the questions.\\n\\n"
    num_fewshot: 5
    fewshot_seed: 1234
    fewshot_sampling: fixed      # fixed: one draw shared by every item; per_item: a draw per item

The rendered context of an item is ``description + shot_1 + sep + ... + shot_k + sep +
template(item)`` where a shot is ``template(shot) + target_delimiter + shot.target``; the scored
continuation is ``target_delimiter + item.target``. Trailing whitespace of the context is moved to
the start of the continuation (so BPE tokenisers see `` answer`` as one word, as they were
trained to).
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from densing.errors import DensingInputError

SAMPLING_MODES = ("fixed", "per_item")


@dataclass(frozen=True)
class Item:
    """One benchmark item. ``line`` is its 1-based line in ``source`` (for error messages)."""

    id: str
    prompt: str
    target: str
    choices: tuple[str, ...] | None = None
    label: int | None = None
    fields: tuple[tuple[str, Any], ...] = ()
    source: str | None = None
    line: int | None = None

    def template_fields(self) -> dict[str, Any]:
        out = dict(self.fields)
        out.update(id=self.id, prompt=self.prompt, target=self.target)
        return out

    def canonical(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "target": self.target,
            "choices": list(self.choices) if self.choices is not None else None,
            "label": self.label,
            "fields": [[k, v] for k, v in self.fields],
        }


@dataclass(frozen=True)
class Recipe:
    """How an item is rendered into (context, continuation) text."""

    template: str = "{prompt}"
    target_delimiter: str = " "
    fewshot_separator: str = "\n\n"
    description: str = ""
    num_fewshot: int = 0
    fewshot_seed: int = 1234
    fewshot_sampling: str = "fixed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "target_delimiter": self.target_delimiter,
            "fewshot_separator": self.fewshot_separator,
            "description": self.description,
            "num_fewshot": self.num_fewshot,
            "fewshot_seed": self.fewshot_seed,
            "fewshot_sampling": self.fewshot_sampling,
        }


@dataclass(frozen=True)
class Rendered:
    """One text to score: ``prefix`` is the few-shot part shared by items drawing the same shots;
    ``context`` includes the prefix; ``continuation`` is the scored text."""

    prefix: str
    context: str
    continuation: str


@dataclass(frozen=True)
class Task:
    """A named set of items plus the recipe; ``hash`` identifies recipe + items + pool."""

    name: str
    items: tuple[Item, ...]
    recipe: Recipe = field(default_factory=Recipe)
    pool: tuple[Item, ...] = ()
    source: str | None = None

    @property
    def has_choices(self) -> bool:
        return any(it.choices is not None for it in self.items)

    @property
    def hash(self) -> str:
        payload = {
            "recipe": self.recipe.to_dict(),
            "items": [it.canonical() for it in self.items],
            "pool": [it.canonical() for it in self.pool],
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def shots_for(self, item: Item) -> list[Item]:
        """The seeded few-shot examples for ``item`` (the same for every item when fixed)."""
        k = self.recipe.num_fewshot
        if k == 0:
            return []
        if self.recipe.fewshot_sampling == "fixed":
            rng = random.Random(f"{self.recipe.fewshot_seed}")
        else:
            rng = random.Random(f"{self.recipe.fewshot_seed}:{item.id}")
        return rng.sample(list(self.pool), k)

    def render(self, item: Item, continuation: str | None = None) -> Rendered:
        """Render ``item`` with its shots; score ``continuation`` (default: the item's target)."""
        r = self.recipe
        parts = [r.description]
        for shot in self.shots_for(item):
            parts.append(
                _fill(r.template, shot) + r.target_delimiter + shot.target + r.fewshot_separator
            )
        prefix = "".join(parts)
        context = prefix + _fill(r.template, item)
        cont = r.target_delimiter + (item.target if continuation is None else continuation)
        stripped = context.rstrip()
        if stripped != context:  # move trailing whitespace into the continuation
            cont = context[len(stripped) :] + cont
            context = stripped
            prefix = prefix[: len(context)]
        return Rendered(prefix=prefix, context=context, continuation=cont)


def _fill(template: str, item: Item) -> str:
    try:
        return template.format(**item.template_fields())
    except KeyError as exc:
        raise DensingInputError(
            f"template field {exc} is not a field of item '{item.id}'",
            file=item.source,
            row=item.line,
        ) from exc


def _check_template(template: str, file: str | None) -> None:
    try:
        list(string.Formatter().parse(template))
    except ValueError as exc:
        raise DensingInputError(f"bad template {template!r}: {exc}", file=file) from exc


def read_items(path: str | Path) -> tuple[list[Item], list[Item]]:
    """Read a JSONL item file; return ``(items, fewshot_pool)``. Errors name the line."""
    p = Path(path)
    if not p.exists():
        raise DensingInputError("task file not found", file=str(p))
    if p.is_dir():
        raise DensingInputError("expected a JSONL item file, got a directory", file=str(p))
    items: list[Item] = []
    pool: list[Item] = []
    seen: dict[str, int] = {}
    with p.open(encoding="utf-8-sig") as fh:  # a byte-order mark is accepted, as in tables
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DensingInputError(
                    f"malformed JSON: {exc.msg}", file=str(p), row=lineno
                ) from exc
            if not isinstance(obj, dict):
                raise DensingInputError("each line must be a JSON object", file=str(p), row=lineno)
            it = _parse_item(obj, str(p), lineno)
            if it.id in seen:
                raise DensingInputError(
                    f"duplicate id '{it.id}' (first on line {seen[it.id]})",
                    file=str(p),
                    row=lineno,
                    column="id",
                )
            seen[it.id] = lineno
            (pool if obj.get("fewshot", False) is True else items).append(it)
    return items, pool


def _parse_item(obj: dict[str, Any], file: str, line: int) -> Item:
    def err(msg: str, column: str) -> DensingInputError:
        return DensingInputError(msg, file=file, row=line, column=column)

    if "id" not in obj or obj["id"] is None or str(obj["id"]).strip() == "":
        raise err("missing 'id'", "id")
    item_id = str(obj["id"])
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or prompt == "":
        raise err("'prompt' must be a non-empty string", "prompt")
    choices = obj.get("choices")
    label = obj.get("label")
    if choices is not None:
        if (
            not isinstance(choices, list)
            or len(choices) < 2
            or not all(isinstance(c, str) and c != "" for c in choices)
        ):
            raise err("'choices' must be a list of at least two non-empty strings", "choices")
        if label is None:
            raise err("'choices' given without 'label'", "label")
        if isinstance(label, bool) or not isinstance(label, int):
            raise err(f"'label' must be an integer index into choices, got {label!r}", "label")
        if not 0 <= label < len(choices):
            raise err(
                f"label {label} is out of range for {len(choices)} choices (0..{len(choices) - 1})",
                "label",
            )
        choices = tuple(choices)
    elif label is not None:
        raise err("'label' given without 'choices'", "label")
    target = obj.get("target")
    if target is None and choices is not None and label is not None:
        target = choices[label]
    if not isinstance(target, str) or target.strip() == "":
        raise err("'target' must be a non-empty string", "target")
    known = {"id", "prompt", "target", "choices", "label", "fewshot"}
    extra = tuple(sorted((k, v) for k, v in obj.items() if k not in known))
    return Item(
        id=item_id,
        prompt=prompt,
        target=target,
        choices=choices,
        label=label,
        fields=extra,
        source=file,
        line=line,
    )


def load_task(path: str | Path, *, num_fewshot: int | None = None) -> Task:
    """Load a task from a ``.jsonl`` item file or a ``.yaml``/``.yml`` spec file.

    ``num_fewshot`` overrides the spec's number of shots (a bare JSONL file defaults to 0).
    """
    p = Path(path)
    if not p.exists():
        raise DensingInputError("task file not found", file=str(p))
    if p.is_dir():
        raise DensingInputError(
            "--task takes a task file (.jsonl items or .yaml spec), got a directory", file=str(p)
        )
    suffix = p.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        task = _load_spec(p)
    elif suffix == ".jsonl":
        items, pool = read_items(p)
        task = Task(name=p.stem, items=tuple(items), pool=tuple(pool), source=str(p))
    else:
        raise DensingInputError(
            f"unsupported task file type '{suffix}'; expected .jsonl or .yaml", file=str(p)
        )
    if num_fewshot is not None:
        task = Task(
            name=task.name,
            items=task.items,
            recipe=Recipe(**{**task.recipe.to_dict(), "num_fewshot": int(num_fewshot)}),
            pool=task.pool,
            source=task.source,
        )
    _validate(task)
    return task


def _load_spec(p: Path) -> Task:
    try:
        spec = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DensingInputError(
            f"malformed YAML: {problem}",
            file=str(p),
            row=None if mark is None else mark.line + 1,
        ) from exc
    if not isinstance(spec, dict):
        raise DensingInputError("a task spec must be a YAML mapping", file=str(p))
    allowed = {"name", "data", "fewshot_data", *Recipe().to_dict()}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise DensingInputError(
            f"unknown key(s) {unknown}; allowed: {sorted(allowed)}", file=str(p), column=unknown[0]
        )
    if "data" not in spec:
        raise DensingInputError("missing 'data' (the JSONL item file)", file=str(p), column="data")
    items, pool = read_items(_data_file(p, spec, "data"))
    if spec.get("fewshot_data"):
        extra_items, extra_pool = read_items(_data_file(p, spec, "fewshot_data"))
        pool = pool + extra_items + extra_pool
    kwargs = {k: spec[k] for k in Recipe().to_dict() if k in spec}
    for key in ("num_fewshot", "fewshot_seed"):
        if key in kwargs and (isinstance(kwargs[key], bool) or not isinstance(kwargs[key], int)):
            raise DensingInputError(f"'{key}' must be an integer", file=str(p), column=key)
    for key in ("template", "target_delimiter", "fewshot_separator", "description"):
        if key in kwargs and not isinstance(kwargs[key], str):
            raise DensingInputError(f"'{key}' must be a string", file=str(p), column=key)
    return Task(
        name=str(spec.get("name", p.stem)),
        items=tuple(items),
        recipe=Recipe(**kwargs),
        pool=tuple(pool),
        source=str(p),
    )


def _data_file(spec_path: Path, spec: dict[str, Any], key: str) -> Path:
    """The item file named by ``key``, relative to the spec; refused (naming the spec and the key)
    when it is missing or a directory."""
    f = spec_path.parent / str(spec[key])
    if f.is_dir():
        raise DensingInputError(
            f"'{key}' must name a JSONL item file, but {str(f)!r} is a directory",
            file=str(spec_path),
            column=key,
        )
    if not f.exists():
        raise DensingInputError(
            f"'{key}': item file {str(f)!r} not found", file=str(spec_path), column=key
        )
    return f


def _validate(task: Task) -> None:
    r, src = task.recipe, task.source
    _check_template(r.template, src)
    if not task.items:
        raise DensingInputError("the task has no items to score", file=src)
    if r.fewshot_sampling not in SAMPLING_MODES:
        raise DensingInputError(
            f"fewshot_sampling must be one of {list(SAMPLING_MODES)}, got {r.fewshot_sampling!r}",
            file=src,
            column="fewshot_sampling",
        )
    if r.num_fewshot < 0:
        raise DensingInputError("num_fewshot must be >= 0", file=src, column="num_fewshot")
    if r.num_fewshot > 0 and len(task.pool) < r.num_fewshot:
        raise DensingInputError(
            f"{r.num_fewshot}-shot prompts need a few-shot pool of at least "
            f"{r.num_fewshot} items "
            f"(lines with \"fewshot\": true or a 'fewshot_data' file); the pool has "
            f"{len(task.pool)}",
            file=src,
            column="num_fewshot",
        )
    ids = {it.id for it in task.pool}
    dup = [it.id for it in task.items if it.id in ids]
    if dup:
        raise DensingInputError(
            f"item id '{dup[0]}' is in both the scored items and the few-shot pool", file=src
        )
    for it in task.items:  # fail on a bad template field before anything runs
        try:
            task.render(it)
        except DensingInputError as exc:
            if src is None or src == it.source:
                raise
            raise DensingInputError(
                f"{exc.reason} ({it.source}, line {it.line})", file=src, column="template"
            ) from None


def select(items: Sequence[Item], limit: int | None) -> list[Item]:
    """The first ``limit`` items in file order (all when ``limit`` is None)."""
    if limit is not None and limit < 1:
        raise DensingInputError(f"--limit must be >= 1, got {limit}")
    return list(items if limit is None else items[:limit])
