"""Compiling parsed runbooks into programs: every expression, template and request skeleton.

Names are checked here: a template or expression that reads something nothing can define (a var
the runbook does not have, a name no earlier step binds) is an error at load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from ..files import input_file_problem
from ._ast import Literal, Member, Name, Node
from ._bodies import BodyRead, body_reads
from ._book import (
    STEP_KEYS,
    BookSpec,
    DumpSpec,
    IncludeSpec,
    LoopSpec,
    StepSpec,
    parse_book,
    read_var_file,
    reserved,
)
from ._book_fields import close_key
from ._book_requests import RequestSpec, new_boundary, parse_request
from ._book_runners import TEMPLATED_ENDPOINT, RunnerSpec, with_endpoint
from ._builtins_runn import TERMINAL_HINT
from ._dump import DumpOut
from ._errors import EvalError, ExpressionError, RunbookError, one_line
from ._expr_compiler import compile_tree, constant_of
from ._host_rules import with_host_rules
from ._parser import parse
from ._program import BindProgram, BookProgram, IncludeProgram, LoopProgram, StepProgram
from ._registry import Registry
from ._request import BodyEncoder, RequestProgram
from ._scope import NameRules, nil_guarded
from ._static import (
    UNCHANGED as _UNCHANGED,
)
from ._static import (
    NotStatic,
    expand_request_objects,
    expand_static,
    plain_static,
    static_value,
)
from ._template import ExprCompiler, Template, compile_node, compile_string
from ._values import Getter
from ._var_overrides import apply_vars
from ._why import Why
from ._yaml import YMap, YNode, YScalar, YSeq

MAX_INCLUDE_DEPTH = 16
INCLUDED_ONLY = (
    "the runbook runs only when included (`if: included`): run on its own, runn skips it"
)


@dataclass
class _Site:
    """Where a runbook is compiled: at the top, or included by a step with given vars."""

    prefix: str  # prepended to step names: "" at the top, "main:login>" when included
    runners: dict[str, RunnerSpec]  # inherited from the including runbooks
    runner_books: dict[str, str]  # runner name -> the book that defines it
    var_keys: frozenset[str]  # vars the including step passes on top of the runbook's own
    dynamic_vars: bool  # some of them are templates, rendered per run
    included: bool
    skip_test: bool
    force: bool
    depth: int
    chain: tuple[Path, ...]
    trail: tuple[int, ...] = ()  # step indices from the top runbook (runn's trace id)
    host_rules: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # the including runbooks' `secrets:`, which hold here too
    # what `parent` holds that is known at load (the including runbook's static vars)
    parent_view: Mapping[str, Any] | None = None


def compile_book(
    registry: Registry,
    book: BookSpec,
    site: _Site,
    overrides: Mapping[str, Any],
    name: str,
) -> BookProgram:
    host_rules = {**site.host_rules, **book.host_rules}
    site = replace(site, host_rules=host_rules)
    base_vars = {**book.vars, **overrides}
    static_vars = None if site.dynamic_vars else base_vars
    known = _known_at_load(registry, site, static_vars)
    own_runners = {key: _rendered(spec, known) for key, spec in book.runners.items()}
    runners = {**site.runners, **own_runners}
    runner_books = {**site.runner_books, **dict.fromkeys(book.runners, name)}
    var_keys = frozenset(base_vars) | site.var_keys
    program = BookProgram(
        name=name,
        path=book.path,
        use_map=book.use_map,
        env=registry.env,
        static_vars=base_vars,
        force=book.force or site.force,
        skip_test=book.skip_test or site.skip_test,
        interval=book.interval,
    )
    all_binds = frozenset(b_name for step in book.steps for b_name in _bound_names(step))
    root_loop = book.loop is not None
    step_keys = frozenset(step.key for step in book.steps if step.key) if book.use_map else None

    def mark_cookies() -> None:
        program.log_cookies = True

    def reads_bodies(step: StepSpec | None) -> Callable[[Node], None]:
        def note(tree: Node) -> None:
            for read in body_reads(tree):
                index = _body_step(read, step, book)
                if index is None or index in include_steps:
                    registry.all_bodies = True
                else:
                    program.body_steps.add(index)

        return note

    include_steps = {step.index for step in book.steps if step.include is not None}
    step_now: list[StepSpec | None] = [None]  # the step being compiled, for `current`

    def rules(bound: frozenset[str], in_loop: bool = False, outcome: bool = False) -> NameRules:
        return NameRules(
            body_reader=reads_bodies(step_now[0]),
            env=registry.env,
            var_keys=var_keys,
            static_vars=static_vars,
            bound=all_binds if root_loop else bound,
            in_loop=in_loop,
            included=site.included,
            outcome=outcome,
            uses_cookies=mark_cookies,
            reads_results=registry.mark_results_read,
            step_keys=step_keys,
            step_count=None if book.use_map else len(book.steps),
            directory=book.file.parent,
            warn=registry.warn,
        )

    top = rules(frozenset())
    program.needs = [
        (key, _needed(registry, spec, site, f"{site.prefix}{name}:needs.{key}>", book.file.parent))
        for key, spec in book.needs
    ]
    program.concurrency = list(book.concurrency)
    if never_runs(book, top):  # `if: included` at the top: its steps cannot run, nor fail
        program.if_ = _constant(False)
        program.never_runs = _why_never(book, base_vars, registry.env)
        registry.books.append(program)
        return program
    if book.if_ is not None:
        program.if_ = _condition(book.if_, top, "if")
    if book.loop is not None:
        program.loop = _loop(book.loop, rules(all_binds, outcome=True), top)
        program.loop.step_level = False
    bound: frozenset[str] = frozenset()
    for step in book.steps:
        step_now[0] = step
        step_name = f"{site.prefix}{name}:{step.label()}"
        before_names = all_binds if step.defer else bound  # deferred steps run after them all
        own = before_names | frozenset(_bound_names(step))
        compiled = StepProgram(
            name=step_name, index=step.index, key=step.key, force=step.force, deferred=step.defer
        )
        before = rules(before_names)
        inside = rules(own, in_loop=step.loop is not None)
        if step.if_ is not None:
            compiled.if_ = _condition(step.if_, before, "if")
        if step.loop is not None:
            compiled.loop = _loop(step.loop, inside, before)
        custom = _custom_runner_of(step, runners)
        if custom is not None:
            here = replace(site, secrets=(*site.secrets, *book.secrets))
            compiled.include = _custom_runner(
                registry, step, here, step_name, custom, static_vars, runners, runner_books, program
            )
        elif step.runner is not None:
            runner = with_host_rules(_runner_for(step.runner[0], runners), host_rules)
            node = expand_request_objects(
                step.runner[1], _known_at_load(registry, site, static_vars)
            )
            request = parse_request(runner.name, step.runner[0], node, registry.warn)
            engine_runner = registry.runner_name(runner_books[runner.name], runner)
            compiled.request = _request(
                registry,
                request,
                runner,
                engine_runner,
                step_name,
                rules(before_names, in_loop=step.loop is not None),
                book,
                trace_id(site, step.index),
            )
        if step.include is not None:
            compiled.include = _include(
                registry,
                step,
                book,
                site,
                step_name,
                rules(before_names, in_loop=step.loop is not None),
                runners,
                runner_books,
                program,
            )
        if step.dump is not None:
            compiled.dump = _expression(step.dump.expr, inside, "dump")
            compiled.dump_out = _dump_out(step.dump, inside, book)
        compiled.binds = [_bind(bind.key, bind.value, inside) for bind in step.binds]
        if step.test is not None:
            compiled.test, compiled.test_source, compiled.test_why = _test(step, inside)
        program.steps.append(compiled)
        bound = bound | frozenset(_bound_names(step))
        if step.defines:  # runn's Runner Runner: these runners serve the steps after this one
            runners = {**runners, **{k: _rendered(v, known) for k, v in step.defines.items()}}
            runner_books = {**runner_books, **dict.fromkeys(step.defines, name)}
    step_now[0] = None
    program.secret_getters = _run_time_secrets([*site.secrets, *book.secrets], rules(all_binds))
    registry.books.append(program)
    return program


def _rendered(spec: RunnerSpec, known: Mapping[str, Any]) -> RunnerSpec:
    """A runner whose endpoint is a template over what is known at load, rendered now."""
    if spec.template is None:
        return spec
    value = static_value(spec.template, known)
    return spec if value is _UNCHANGED else with_endpoint(spec, value)


def _known_at_load(
    registry: Registry, site: _Site, static_vars: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The names a template may read to be expanded at load: `env`, and `vars` and `parent`
    when they are static."""
    known: dict[str, Any] = {"env": registry.env}
    if static_vars is not None:
        known["vars"] = static_vars
    if site.parent_view is not None:
        known["parent"] = site.parent_view
    return known


def _run_time_secrets(names: list[str], rules: NameRules) -> list[Getter]:
    """`secrets:` names whose values come while running (`token` bound from a response,
    `current.res.body.token`): read after each step, so every output masks them from then on.
    `vars.` and `env.` are known at load. A name no expression could read is left out: runn
    does not check them either."""
    getters = []
    for name in names:
        if name.split(".", 1)[0] in ("vars", "env"):
            continue
        try:
            getters.append(compile_text(name, rules))
        except (ExpressionError, RecursionError):
            continue
    return getters


def never_runs(book: BookSpec, rules: NameRules) -> bool:
    """The runbook's own `if` is false whatever happens (`if: included`, not included)."""
    node = book.if_
    if node is None:
        return False
    if isinstance(node.value, bool):
        return not node.value
    try:
        folded = constant_of(parse(str(node.value), []), rules.resolve)
    except ExpressionError:
        return False
    return folded is not None and folded.value is not True


def _why_never(
    book: BookSpec, variables: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[str, str]:
    """Where the runbook's `if` is, and why it skips the runbook, in words."""
    assert book.if_ is not None
    condition = str(book.if_.text if book.if_.text else book.if_.value).strip()
    if re.search(r"\bincluded\b", condition):
        return str(book.if_.location), INCLUDED_ONLY
    facts = []
    for root, name in re.findall(r"\b(env|vars)\.([A-Za-z_][A-Za-z0-9_]*)", condition):
        if root == "env":
            facts.append(f"{name} is {'not set' if name not in env else repr(env[name])}")
        elif name in variables:
            facts.append(f"vars.{name} is {json.dumps(variables[name], default=str)}")
    why = f" ({', '.join(dict.fromkeys(facts))})" if facts else ""
    return str(book.if_.location), f"the runbook's `if: {condition}` is false{why}: runn skips it"


def _body_step(read: BodyRead, step: StepSpec | None, book: BookSpec) -> int | None:
    """The index of the step whose body `read` reads; None when it cannot be told."""
    if read.which == "current":
        return None if step is None else step.index
    if read.which == "previous":
        return None if step is None or step.index == 0 else step.index - 1
    if read.which == "step" and isinstance(read.step, int):
        count = len(book.steps)
        return read.step % count if -count <= read.step < count else None
    if read.which == "step":
        keys = {spec.key: spec.index for spec in book.steps}
        return keys.get(read.step)  # type: ignore[arg-type]
    return None


def trace_id(site: _Site, index: int) -> str:
    """runn's trace id of a step: the root runbook's id and the step indices down to it."""
    root = hashlib.sha1(str(site.chain[0]).encode()).hexdigest()
    steps = "&".join(f"step={number}" for number in (*site.trail, index))
    return f"{root}?{steps}"


def _runner_for(key: YScalar, runners: dict[str, RunnerSpec]) -> RunnerSpec:
    runner = runners.get(key.value)
    if runner is None:
        step_key = close_key(key.value, STEP_KEYS)
        if step_key is not None:  # `tset: true` alone: a misspelt step key, not a runner
            hint = f"`{key.value}` is not a step key: did you mean `{step_key}`?"
        else:
            hint = f"runners defined here: {', '.join(runners) or 'none'}"
            runner_key = close_key(key.value, runners)
            if runner_key is not None:
                hint = f"did you mean `{runner_key}`? {hint}"
        raise RunbookError(key.location, f"unknown runner `{key.value}`", hint)
    if runner.kind == TEMPLATED_ENDPOINT:
        raise RunbookError(
            runner.location,
            f"runner `{runner.name}`: the endpoint template must be known at load",
            "use vars, parent.vars or ${ENV}",
        )
    if runner.problem:
        raise RunbookError(runner.location, runner.problem, f"used at {key.location}")
    if runner.endpoint is None:
        raise RunbookError(
            key.location,
            f"runner `{key.value}` is not an HTTP runner ({runner.kind})",
            "loadscope runs HTTP steps only",
        )
    return runner


# -- expressions ----------------------------------------------------------------------------------
SHARP_COMMENT = "a `# comment` in an expression is deprecated (runn warns too): use `// comment`"


def compile_text(
    text: str, rules: NameRules, sharp_comments: list[tuple[int, int]] | None = None
) -> Getter:
    """An expression checked against `rules` (noting the bodies it reads); ExpressionError.
    With a `sharp_comments` list, runn's deprecated `# comments` are read and listed there."""
    tree = parse(text, sharp_comments)
    guarded = rules.check(tree)
    if rules.body_reader is not None:
        rules.body_reader(tree)
    return compile_tree(tree, rules.resolver(guarded), rules.directory)


def expression_compiler(node: YScalar, rules: NameRules, what: str) -> ExprCompiler:
    """Compiles expression text found at `offset` inside `node` (a template's inside, say)."""

    def compile_at(text: str, offset: int) -> Getter:
        comments: list[tuple[int, int]] = []
        try:
            compiled = compile_text(text, rules, comments)
            if comments and rules.warn is not None:
                rules.warn(node.locate(offset + comments[0][0]), SHARP_COMMENT)
            return compiled
        except ExpressionError as exc:
            location = node.locate(offset + exc.offset)
            hint = exc.hint
            if hint == TERMINAL_HINT and what.startswith("bind "):
                hint = hint.replace("NAME", what.removeprefix("bind "))
            raise RunbookError(
                location, f"{what}: {exc.message} in `{one_line(text, 80)}`", hint
            ) from None
        except RecursionError:
            raise RunbookError(
                node.locate(offset), f"{what}: expression nested too deeply"
            ) from None

    return compile_at


def _expression(node: YScalar, rules: NameRules, what: str) -> Getter:
    text = node.value if isinstance(node.value, str) else str(node.value)
    return expression_compiler(node, rules, what)(text, 0)


def _condition(node: YScalar, rules: NameRules, what: str) -> Getter:
    if isinstance(node.value, bool):
        return _constant(node.value)
    return _expression(node, rules, what)


def _test(step: StepSpec, rules: NameRules) -> tuple[Getter, str, Why | None]:
    assert step.test is not None
    if step.test_constant is not None:
        return _constant(step.test_constant), "true" if step.test_constant else "false", None
    test = _expression(step.test, rules, "test")  # first: its errors say where
    text = str(step.test.value)
    comments: list[tuple[int, int]] = []
    tree = parse(text, comments)
    resolve = rules.resolver(nil_guarded(tree))
    why = Why(text, tree, lambda part: compile_tree(part, resolve, rules.directory))
    for start, end in comments:  # the failure shows the test without them, as runn does
        text = text[:start] + " " * (end - start) + text[end:]
    return test, one_line(text, 200), why


def _dump_out(spec: DumpSpec, rules: NameRules, book: BookSpec) -> DumpOut | None:
    if spec.out is None:
        return None
    compile_at = expression_compiler(spec.out, rules, "dump.out")
    path = compile_string(str(spec.out.value), compile_at, whole_keeps_type=False)
    return DumpOut(path, book.file.parent, spec.trailing_newline, spec.mask_secrets)


def _template(node: YNode | None, rules: NameRules, what: str) -> Template:
    return compile_node(node, lambda scalar: expression_compiler(scalar, rules, what))


def _loop(spec: LoopSpec, inside: NameRules, before: NameRules) -> LoopProgram:
    if isinstance(spec.count, int):
        count = _constant(spec.count)
    else:
        count = _expression(spec.count, before, "loop.count")
    loop = LoopProgram(
        count=count,
        interval=spec.interval,
        min_interval=spec.min_interval,
        max_interval=spec.max_interval,
        multiplier=spec.multiplier,
        jitter=spec.jitter,
    )
    if spec.until is not None:
        loop.until = _condition(spec.until, inside, "loop.until")
        loop.until_source = one_line(str(spec.until.value), 200)
    return loop


def _bound_names(step: StepSpec) -> list[str]:
    names = []
    for bind in step.binds:
        try:
            names.append(_bind_target(bind.key)[0])
        except RunbookError:
            continue  # reported when the bind itself is compiled
    return names


def _bind_target(key: YScalar) -> tuple[str, list[Node], bool]:
    """`name`, `name[]`, `name[k]`, `name[k][]` -> (name, [key expressions], append)."""
    text = str(key.value).strip()
    append = text.endswith("[]")
    if append:
        text = text[:-2].rstrip()
    try:
        tree = parse(text)
    except ExpressionError as exc:
        raise RunbookError(
            key.locate(exc.offset), f"invalid bind key {key.value!r}: {exc.message}"
        ) from None
    keys: list[Node] = []
    while isinstance(tree, Member) and not tree.optional:
        keys.insert(0, tree.key)
        tree = tree.obj
    if not isinstance(tree, Name):
        raise RunbookError(
            key.location, f"invalid bind key {key.value!r}", "use name, name[key] or name[]"
        )
    if reserved(tree.name):
        raise RunbookError(key.location, f"cannot bind `{tree.name}`: the name is reserved")
    return tree.name, keys, append


def _bind(key: YScalar, value: YNode, rules: NameRules) -> BindProgram:
    name, key_nodes, append = _bind_target(key)
    text = str(key.value)
    path: list[Getter] = []
    for node in key_nodes:
        if isinstance(node, Literal):
            path.append(_constant(node.value))
        else:
            path.append(
                expression_compiler(key, rules, "bind")(text[node.start : node.end], node.start)
            )
    value_template = _bind_value(value, rules, f"bind {name}")
    return BindProgram(name=name, path=path, append=append, value=value_template)


def _constant(value: Any) -> Getter:
    return lambda _scope: value


def _bind_value(node: YNode, rules: NameRules, what: str) -> Template:
    """Bind values are bare expressions; in a map or a list, each string is one."""
    if isinstance(node, YScalar):
        if isinstance(node.value, str):
            return Template(render=_expression(node, rules, what))
        return Template(node.value)
    if isinstance(node, YSeq):
        items = [_bind_value(item, rules, what) for item in node.items]
        return Template(render=lambda scope: [item.render(scope) for item in items])
    assert isinstance(node, YMap)
    pairs = [(key.value, _bind_value(value, rules, what)) for key, value in node.items]
    return Template(render=lambda scope: {key: value.render(scope) for key, value in pairs})


# -- requests and includes ------------------------------------------------------------------------
def _traced(request: bool | None, runner: bool | None, book: bool) -> bool:
    """runn's trace header: the request's `trace`, else the runner's, else the runbook's."""
    if request is not None:
        return request
    return runner if runner is not None else book


def _request(
    registry: Registry,
    spec: RequestSpec,
    runner: RunnerSpec,
    engine_runner: str,
    step_name: str,
    rules: NameRules,
    book: BookSpec,
    trace: str,
) -> RequestProgram:
    assert runner.endpoint is not None
    path = compile_string(
        spec.path.value, expression_compiler(spec.path, rules, "path"), whole_keeps_type=True
    )
    headers: list[tuple[Template, list[Template]]] = []
    if spec.headers is not None:
        for name, value in spec.headers.items:
            name_template = compile_string(
                name.value, expression_compiler(name, rules, "header"), whole_keeps_type=False
            )
            values = value.items if isinstance(value, YSeq) else [value]
            headers.append((name_template, [_template(v, rules, "header") for v in values]))
    if _traced(spec.trace, runner.trace, book.trace):
        trace_header = json.dumps({"id": trace}, separators=(",", ":"))
        headers.append((Template(runner.trace_header), [Template(trace_header)]))
    if runner.host is not None:
        headers.insert(0, (Template("Host"), [Template(runner.host)]))
    encoder = body = None
    if spec.media_type is not None and spec.body is not None:
        boundary = runner.multipart_boundary or new_boundary()
        encoder = BodyEncoder(spec.media_type, book.file.parent, boundary)
        body = _template(spec.body, rules, "body")
    use_cookie = spec.use_cookie if spec.use_cookie is not None else bool(runner.use_cookie)
    try:
        program = RequestProgram(
            step_name=step_name,
            runner_name=engine_runner,
            endpoint=runner.endpoint,
            method=spec.method,
            path=path,
            headers=headers,
            body=body,
            encoder=encoder,
            use_cookie=use_cookie,
            follow_redirects=runner.follow_redirects,
            cookie_domain=runner.host,
        )
    except (EvalError, httpx.InvalidURL, ValueError) as exc:  # a static body or path, encoded now
        raise RunbookError(spec.location, f"invalid request: {exc}") from None
    program.openapi = registry.openapi_check(runner, step_name)
    registry.requests.append(program)
    if step_name not in registry.step_names:
        registry.step_names.append(step_name)
    return program


def _include(
    registry: Registry,
    step: StepSpec,
    book: BookSpec,
    site: _Site,
    step_name: str,
    rules: NameRules,
    runners: dict[str, RunnerSpec],
    runner_books: dict[str, str],
    parent: BookProgram,
) -> IncludeProgram:
    spec = step.include
    assert spec is not None
    if spec.inline is None and spec.path in site.chain:
        raise RunbookError(spec.location, f"include cycle: {_cycle(site.chain, spec.path)}")
    if site.depth >= MAX_INCLUDE_DEPTH:
        raise RunbookError(spec.location, "includes nested too deeply")
    if spec.inline is not None:
        child = parse_book(spec.inline, spec.display, spec.path, registry.warn)
    else:
        registry.check_scope(spec.path, book.file.parent, spec.location, f"include {spec.display}")
        child = registry.read(spec.path, spec.display)
    overrides: dict[str, Any] = {}
    dynamic: dict[str, Template] = {}
    for key, value in spec.vars.items if spec.vars is not None else []:
        if isinstance(value, YScalar) and isinstance(value.value, str) and "{{" not in value.value:
            overrides[key.value] = read_var_file(value.value, book.file.parent, value.location)
            continue
        template = _template(value, rules, "include.vars")
        if template.static:
            overrides[key.value] = template.value
        else:
            dynamic[key.value] = template
    child_site = replace(
        _nested_site(site, step.index, step_name, runners, runner_books),
        var_keys=frozenset(dynamic),
        dynamic_vars=bool(dynamic),
        skip_test=spec.skip_test or parent.skip_test,
        force=spec.force,
        chain=site.chain if spec.inline is not None else (*site.chain, spec.path),
        secrets=(*site.secrets, *book.secrets),
        parent_view=None if rules.static_vars is None else {"vars": rules.static_vars},
    )
    program = compile_book(registry, child, child_site, overrides, child.name)
    return IncludeProgram(book=program, vars=dynamic or None, base_vars=program.static_vars)


def _cycle(chain: tuple[Path, ...], again: Path) -> str:
    """`a.yml → b.yml → a.yml`: the runbooks from `again` down to where it comes back, named
    relative to the folder of the first (full paths would not fit on the line)."""
    loop = (*chain[chain.index(again) :], again)
    return " → ".join(os.path.relpath(path, again.parent) for path in loop)


def _nested_site(
    site: _Site,
    step_index: int,
    step_name: str,
    runners: dict[str, RunnerSpec],
    runner_books: dict[str, str],
) -> _Site:
    """Where a runbook that a step runs (include, custom runner) is compiled: one level down,
    its steps named under the step's, with no vars of the step's own and not forced."""
    return replace(
        site,
        prefix=f"{step_name}>",
        runners=runners,
        runner_books=runner_books,
        var_keys=frozenset(),
        dynamic_vars=False,
        included=True,
        force=False,
        depth=site.depth + 1,
        trail=(*site.trail, step_index),
    )


def _custom_runner_of(step: StepSpec, runners: dict[str, RunnerSpec]) -> RunnerSpec | None:
    if step.runner is None:
        return None
    runner = runners.get(step.runner[0].value)
    return runner if runner is not None and runner.runbook is not None else None


def _custom_runner(
    registry: Registry,
    step: StepSpec,
    site: _Site,
    step_name: str,
    runner: RunnerSpec,
    caller_vars: Mapping[str, Any] | None,
    runners: dict[str, RunnerSpec],
    runner_books: dict[str, str],
    parent: BookProgram,
) -> IncludeProgram:
    """A step naming a runner defined by another runbook: that runbook, expanded against the
    step's YAML (`parent.nodes`) and the runner's `params`, run like an include."""
    assert step.runner is not None and runner.runbook is not None
    key, node = step.runner
    path, display = runner.runbook, runner.runbook_display
    if path in site.chain:
        raise RunbookError(key.location, f"runner `{runner.name}` runs {display}, which runs it")
    if runner.directory is not None:
        registry.check_scope(
            path, runner.directory, runner.location, f"runner `{runner.name}`: {display}"
        )
    if site.depth >= MAX_INCLUDE_DEPTH:
        raise RunbookError(key.location, "includes nested too deeply")
    problem = input_file_problem(path)
    if problem:
        raise RunbookError(runner.location, f"runner `{runner.name}`: {display}: {problem}")
    known: dict[str, Any] = {"env": registry.env}
    if caller_vars is not None:
        known["vars"] = caller_vars
    try:
        nodes = plain_static(node, known)
        params = plain_static(runner.params, known)
    except NotStatic as exc:
        raise RunbookError(
            key.location,
            f"runner `{runner.name}`: `{one_line(str(exc), 60)}` is known only while running",
            "loadscope expands a custom runner's step once, at load: use vars or ${ENV}",
        ) from None
    view = {"vars": caller_vars or {}, "env": registry.env, "nodes": nodes, "params": params}
    root = _expanded_runner_book(registry.read_tree(path, display), view, registry.env)
    child = parse_book(root, display, path, registry.warn)
    child_site = replace(
        _nested_site(site, step.index, step_name, runners, runner_books),
        skip_test=parent.skip_test,
        chain=(*site.chain, path),
    )
    program = compile_book(registry, child, child_site, {}, child.name)
    extra = {"nodes": nodes, "params": params}
    return IncludeProgram(
        book=program, vars=None, base_vars=program.static_vars, parent_extra=extra
    )


def _expanded_runner_book(
    root: YNode | None, parent: dict[str, Any], env: Mapping[str, str]
) -> YNode | None:
    """Its `vars` expanded against `parent` first, then everything else against both."""
    if not isinstance(root, YMap):
        return root
    names: dict[str, Any] = {"parent": parent, "env": env}
    items = []
    for key, value in root.items:
        if key.value == "vars":
            value = expand_static(value, names)
            with contextlib.suppress(NotStatic):  # a var needing the run: `vars` stays templated
                names["vars"] = plain_static(value, names)
        items.append((key, value))
    return expand_static(YMap(root.location, items), names)


def _needed(
    registry: Registry, spec: IncludeSpec, site: _Site, prefix: str, directory: Path
) -> BookProgram:
    """A runbook under `needs:`: run before this one; its binds are `needs.<key>.<name>`.
    runn loads it as it loads the runbooks it is given, with every command-line option."""
    if spec.path in site.chain:
        raise RunbookError(spec.location, f"needs cycle: {_cycle(site.chain, spec.path)}")
    registry.check_scope(spec.path, directory, spec.location, f"needs {spec.display}")
    book = registry.read_top(spec.path, spec.display)
    return compile_top(registry, book, (*site.chain, spec.path), book.name, prefix, site.depth + 1)


def compile_top(
    registry: Registry,
    book: BookSpec,
    chain: tuple[Path, ...],
    name: str,
    prefix: str = "",
    depth: int = 0,
) -> BookProgram:
    """A runbook as runn runs one it is given (or one they need): with --var, --skip-test and
    --host-rules (--runner and the layers are applied by `Registry.read_top`)."""
    options = registry.options
    site = replace(
        top_site(chain),
        prefix=prefix,
        depth=depth,
        skip_test=options.skip_test,
        host_rules=dict(options.host_rules),
    )
    base = apply_vars(book.vars, registry.var_overrides, book.file.parent)
    return compile_book(registry, book, site, base, name)


def top_site(chain: tuple[Path, ...]) -> _Site:
    return _Site(
        prefix="",
        runners={},
        runner_books={},
        var_keys=frozenset(),
        dynamic_vars=False,
        included=False,
        skip_test=False,
        force=False,
        depth=0,
        chain=chain,
    )
