"""What the documentation says is true: settings, Make verbs and paths match the rendered files.

Each generated README, `.env.example` and settings module (settings.py, config.ts) is parsed
here, and docs/map.md is checked against copier.yml, extensions/combinations.py and the tree.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from combinations import Combination, derived_names, valid_combinations
from support.projects import JINJA_TAG, ROOT, answers

pytestmark = pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning")

MAP = ROOT / "docs" / "map.md"
MAPPED_FOLDERS = ("template/", "extensions/", "tests/", "docs/")
PYTHON_SETTINGS = "src/my_service/settings.py"
TYPESCRIPT_SETTINGS = "src/config.ts"
# A README names modules from the project root or, in prose, from the source folder.
SOURCE_ROOTS = ("", "src", "src/my_service")
# Made by `make install` or `make run`, not by the template.
# Made by `make install` (the gRPC stubs among them) or at run time.
BUILT_LATER = (
    "dist/", "var/", ".venv", "node_modules", "uv.lock", "package-lock.json",
    "src/my_service/proto/", "src/gen",
)  # fmt: skip
FILE_SUFFIXES = (
    ".py", ".ts", ".js", ".json", ".toml", ".ini", ".md", ".yml", ".yaml", ".mako", ".lock"
)  # fmt: skip
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
FENCED_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A path as documentation writes one: words, dots and dashes between slashes, `*` in globs.
PATH_LIKE = re.compile(r"^[\w.*{}-]*[a-z_.][\w.*{}-]*(/[\w.*{}%-]*)*$")


def names_for(combination: Combination) -> dict[str, object]:
    """The derived names a copy of `combination` renders with (default name and slug)."""
    return derived_names({**answers(combination), "project_slug": "my-service"})


def looks_like_path(text: str) -> bool:
    if not PATH_LIKE.match(text) or text.startswith("/") or not re.search("[a-z]", text):
        return False
    return "/" in text or text.startswith(".") or text.endswith(FILE_SUFFIXES)


def inline_paths(markdown: str) -> list[str]:
    """Paths in `code` spans, commands' arguments included (`manage.py check --deploy`)."""
    without_blocks = FENCED_BLOCK.sub("", markdown)
    return [
        word.removesuffix(",")
        for span in INLINE_CODE.findall(without_blocks)
        for word in span.split()
        if looks_like_path(word.removesuffix(","))
    ]


def layout_paths(markdown: str) -> list[str]:
    """Paths in the layout trees (fenced blocks without a language): indentation nests them."""
    found = []
    for language, block in FENCED_BLOCK.findall(markdown):
        if language:
            continue
        parents: list[tuple[int, str]] = []
        description_column = 0  # where the last entry's description starts
        for line in block.splitlines():
            indent = len(line) - len(line.lstrip())
            name = line.split(maxsplit=1)[0] if line.strip() else ""
            if not looks_like_path(name) or 0 < description_column <= indent:
                continue  # a description wrapped onto its own line
            described = re.match(r"\s*\S+\s+(?=\S)", line)
            description_column = described.end() if described else 0
            while parents and parents[-1][0] >= indent:
                parents.pop()
            path = parents[-1][1] + name if parents else name
            found.append(path)
            if name.endswith("/"):
                parents.append((indent, path))
    return found


# Settings as `.env` spells them: booleans lower-case, no value for "unset".
def env_spelling(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def python_value(node: ast.expr, constants: dict[str, object]) -> object:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "Field":
            default = next(keyword for keyword in node.keywords if keyword.arg == "default")
            return python_value(default.value, constants)
        if node.func.id == "SecretStr":
            return python_value(node.args[0], constants)
    if isinstance(node, ast.Name):
        return constants[node.id]
    return ast.literal_eval(node)


def python_settings(source: str) -> dict[str, str]:
    """`Settings`' fields and defaults, from the pydantic-settings module's syntax tree."""
    module = ast.parse(source)
    constants = {
        target.id: node.value.value
        for node in module.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    settings = next(
        node for node in module.body if isinstance(node, ast.ClassDef) and node.name == "Settings"
    )
    return {
        field.target.id.upper(): env_spelling(python_value(field.value, constants))
        for field in settings.body
        if isinstance(field, ast.AnnAssign)
        and isinstance(field.target, ast.Name)
        and field.value is not None
    }


def typescript_literal(text: str, constants: dict[str, str]) -> str:
    if text in constants:
        return constants[text]
    if text.startswith('"'):
        return text.strip('"')
    return text.replace("_", "")  # numbers (1_048_576) and booleans


def typescript_settings(source: str) -> dict[str, str]:
    """The zod environment schema's keys and defaults (optional ones are unset)."""
    constants = dict(re.findall(r'^export const ([A-Z_]+) = "([^"]*)";$', source, re.MULTILINE))
    schema = re.search(r"z\s*\.object\(\{\n(.*?)\n  \}\)", source, re.DOTALL)
    assert schema, "no z.object({...}) environment schema"
    found = {}
    for entry in re.split(r"\n(?=    [A-Z][A-Z_]*: )", schema.group(1)):
        name, _, rule = entry.strip().partition(": ")
        defaults = re.findall(r"\.default\(([^()]*)\)", rule)
        assert defaults or ".optional()" in rule, f"{name} has neither a default nor optional()"
        found[name] = typescript_literal(defaults[-1], constants) if defaults else ""
    return found


def env_example(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z_]*)=(.*)$", text, re.MULTILINE))


def readme_environment(readme: str) -> dict[str, str]:
    """The README's environment table: one row per group of variables."""
    table = readme.split("| variable | default | meaning |", 1)[1].split("\n\n", 1)[0]
    found = {}
    for row in table.splitlines()[2:]:
        names, defaults, _ = row.strip("| ").split(" | ", 2)
        for name, default in zip(names.split(", "), defaults.split(", "), strict=True):
            found[name.strip("`")] = "" if default == "unset" else default.strip("`")
    return found


def test_settings_have_the_same_names_and_defaults_everywhere(
    rendered: tuple[Combination, Path],
) -> None:
    combination, project = rendered
    if combination.framework == "express":
        module = typescript_settings((project / TYPESCRIPT_SETTINGS).read_text())
    else:
        module = python_settings((project / PYTHON_SETTINGS).read_text())
    example = env_example((project / ".env.example").read_text())
    readme = readme_environment((project / "README.md").read_text())
    database_url = names_for(combination)["default_database_url"]

    # .env.example points at this project's database; everything else is the default.
    assert example.pop("DATABASE_URL") == database_url
    assert module.pop("DATABASE_URL") == readme.pop("DATABASE_URL") == "sqlite:///./var/app.db"
    assert module == example
    assert readme == example


def test_make_verbs_are_the_same_in_makefile_and_readme(rendered: tuple[Combination, Path]) -> None:
    combination, project = rendered
    verbs = names_for(combination)["make_verbs"]
    makefile = (project / "Makefile").read_text()
    readme = (project / "README.md").read_text()

    helped = dict(re.findall(r"^([a-z-]+):.*## (.*)$", makefile, re.MULTILINE))
    phony = re.search(r"^\.PHONY: (.*)$", makefile, re.MULTILINE)
    documented = re.findall(r"^\| `make ([a-z-]+)[^`]*` \| (.*) \|$", readme, re.MULTILINE)

    assert helped == {name: verb.help for name, verb in verbs.items()}
    assert phony
    assert phony.group(1).split() == list(verbs)
    assert documented == [(name, verb.does) for name, verb in verbs.items()]


def test_every_path_the_readme_names_exists(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    readme = (project / "README.md").read_text()
    named = inline_paths(readme) + layout_paths(readme)
    missing = [
        path
        for path in named
        if not path.startswith(BUILT_LATER)
        and not any((project / root / path).exists() for root in SOURCE_ROOTS)
    ]

    assert named
    assert missing == []


def map_names() -> set[str]:
    return set(INLINE_CODE.findall(MAP.read_text()))


def test_the_map_covers_every_question_and_derived_name() -> None:
    questions = {key for key in yaml.safe_load((ROOT / "copier.yml").read_text()) if key[0] != "_"}
    combination = valid_combinations()[0]
    derived = set(names_for(combination))
    derived.add("jwt_secret")  # added beside the derived names by the same context hook

    assert questions - map_names() == set()
    assert derived - map_names() == set()


def test_every_path_the_map_names_exists() -> None:
    """Template paths may be globs; `file::test_name` names a test in that file.

    A bare dotted name (`.env`, `.jinja`) is a generated file or a suffix, not a path here.
    """
    missing = []
    for name in map_names():
        path, _, test = name.partition("::")
        if not (path.startswith(MAPPED_FOLDERS) or looks_like_path(path)):
            continue
        if path.startswith(".") and "/" not in path:
            continue
        matches = list(ROOT.glob(path))
        if not matches or (test and f"def {test}(" not in matches[0].read_text()):
            missing.append(name)
    assert sorted(missing) == []


def map_sections() -> dict[str, str]:
    """Each question's section of the map: its heading's names, then its text."""
    text = MAP.read_text()
    found = {}
    for heading, body in re.findall(r"^### (.+?)\n(.*?)(?=^##)", text, re.MULTILINE | re.DOTALL):
        found[heading] = body
    return found


def bullet(body: str, label: str) -> str:
    found = re.search(rf"^- \*\*{label}\*\*:(.*?)(?=^- \*\*|\Z)", body, re.MULTILINE | re.DOTALL)
    return found.group(1) if found else ""


def test_the_map_names_every_file_a_question_switches() -> None:
    """Every template file whose name or Jinja tests one of a question's derived names is
    named (or globbed, or under a folder named) in that question's "Produces"."""
    derived = set(names_for(valid_combinations()[0]))
    template = ROOT / "template"
    missing = []
    for heading, body in map_sections().items():
        names = set(INLINE_CODE.findall(bullet(body, "Derived"))) & derived
        if not names:
            continue
        uses = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b")
        covered: set[Path] = set()
        for pattern in INLINE_CODE.findall(bullet(body, "Produces")):
            for match in ROOT.glob(pattern) if pattern.startswith("template/") else []:
                covered |= {match, *match.rglob("*")} if match.is_dir() else {match}
        for path in sorted(template.rglob("*")):
            if not path.is_file() or path in covered:
                continue
            relative = str(path.relative_to(template))
            sources = [relative] + ([path.read_text()] if path.suffix == ".jinja" else [])
            if any(uses.search(tag) for source in sources for tag in JINJA_TAG.findall(source)):
                missing.append(f"{heading}: template/{relative}")
    assert missing == []
