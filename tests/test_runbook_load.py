"""Loading runbooks: the accepted format, warnings, and one-line `file:line:col` errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadscope.engine.runbook import (
    RunbookError,
    RunbookOptions,
    compile_runbooks,
    load_runbooks,
    parse_var_value,
)
from loadscope.engine.runbook._scenario import NO_LOAD_WARNING
from loadscope.engine.target import write_self_signed

ENDPOINT = "http://127.0.0.1:9"


def write(directory: Path, text: str, name: str = "book.yml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def error_of(path: Path, origin: Path | None = None, **kwargs: object) -> str:
    with pytest.raises(RunbookError) as caught:
        load_runbooks([path], **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{origin or path}:")
    return message


def at(path: Path, line: int, col: int) -> str:
    return f"{path}:{line}:{col}: "


MINIMAL = f"""
runners:
  req: {ENDPOINT}
steps:
  home:
    req:
      /:
        get:
          body: null
"""


# -- what loads -----------------------------------------------------------------------------------
def test_minimal_runbook(tmp_path: Path) -> None:
    scenario = load_runbooks([write(tmp_path, MINIMAL)])
    assert scenario.step_names() == ["book:home"]
    assert [c.name for c in scenario.runner_configs()] == ["req"]
    assert scenario.runner_configs()[0].base_url == ENDPOINT
    assert scenario.targets() == [ENDPOINT]
    assert scenario.warnings == []
    assert scenario.name == str(tmp_path / "book.yml")


def test_step_names_from_key_desc_or_index(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        runners:
          req: {ENDPOINT}
        steps:
          - desc: first one
            req: {{/a: {{get: {{}}}}}}
          - req: {{/b: {{get: {{}}}}}}
          - desc: first one
            req: {{/c: {{get: {{}}}}}}
          - test: true
        """,
    )
    scenario = load_runbooks([path])
    assert scenario.step_names() == ["book:first one", "book:steps[1]", "book:steps[2]"]


def test_runner_forms(tmp_path: Path) -> None:
    cert, _ = write_self_signed(tmp_path)
    Path(cert).rename(tmp_path / "ca.pem")
    path = write(
        tmp_path,
        f"""
        runners:
          plain: {ENDPOINT}/api?key=1
          detailed:
            endpoint: https://127.0.0.1:9443
            timeout: 1.5sec
            skipVerify: true
            cacert: ca.pem
            useCookie: true
            notFollowRedirect: true
            openapi3: spec.yml
            trace: true
          db: mysql://root@127.0.0.1/test
        steps:
          a: {{plain: {{/x: {{get: {{}}}}}}}}
          b: {{detailed: {{/y: {{GET: {{}}}}}}}}
        """,
    )
    scenario = load_runbooks([path])
    configs = {c.name: c for c in scenario.runner_configs()}
    assert set(configs) == {"plain", "detailed"}
    detailed = configs["detailed"]
    assert detailed.timeout == 1.5
    assert detailed.skip_verify and detailed.use_cookie and not detailed.follow_redirects
    assert detailed.cacert == str(tmp_path / "ca.pem")
    assert configs["plain"].follow_redirects
    warnings = "\n".join(scenario.warnings)
    assert f"{path}:10:5: warning: `openapi3` of runner `detailed` is ignored" in warnings
    assert "`trace` of runner" not in warnings  # runn's trace header is sent
    assert (
        f"{path}:12:3: warning: runner `db` is not an HTTP runner (database); steps cannot use it"
        in warnings
    )


def test_warnings_for_keys_it_does_not_run(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        desc: warned
        secrets: [vars.token]
        debug: true
        trace: true
        x-owner: team
        anchors: {{a: 1}}
        runners:
          req: {ENDPOINT}
          g: grpc://127.0.0.1:9
        lables: [a]
        steps:
          one:
            dump:
              expr: current.res.status
              out: dump.txt
            loop:
              count: 1
              backoff: true
            req:
              /:
                get:
                  trace: true
        """,
    )
    scenario = load_runbooks([path])
    expected = [
        (3, 1, "`debug` is ignored"),
        (5, 1, "`x-owner` is ignored (an extension key)"),
        (6, 1, "`anchors` is not a runbook key; it is ignored"),
        (9, 3, "runner `g` is not an HTTP runner (gRPC)"),
        (10, 1, "`lables` is not a runbook key (did you mean `labels`?); it is ignored"),
        (18, 7, "`loop.backoff` is not a loop key"),
    ]
    assert len(scenario.warnings) == len(expected)
    for line, col, text in expected:
        assert any(
            w.startswith(f"{path}:{line}:{col}: warning: ") and text in w for w in scenario.warnings
        ), (line, text, scenario.warnings)


def test_env_expansion_at_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        runners:
          req: ${TARGET:-http://127.0.0.1:1}
        vars:
          count: ${COUNT:-3}
          dash: ${UNSET-fallback}
          empty: ${EMPTY:-was empty}
          kept: ${EMPTY-kept empty}
          nested: ${OUTER:-${INNER:-deep}}
          missing: x${NOT_SET}y
          ${KEY_NOT_EXPANDED}: 1
          dollar: $HOME stays
          quoted: "${COUNT:-3}"
        steps:
          a:
            req: {/: {get: {}}}
            test: vars.count == 3 && vars.quoted == "3" && vars.nested == "deep"
        """,
    )
    scenario = load_runbooks([path], env={"TARGET": "http://127.0.0.1:2", "EMPTY": ""})
    assert scenario.runner_configs()[0].base_url == "http://127.0.0.1:2"
    book = scenario.books[0]
    assert book.static_vars == {
        "count": 3,
        "dash": "fallback",
        "empty": "was empty",
        "kept": None,  # `kept: ` is a YAML null, in runn too
        "nested": "deep",
        "missing": "xy",
        "${KEY_NOT_EXPANDED}": 1,
        "dollar": "$HOME stays",
        "quoted": "3",
    }
    assert scenario.warnings == [
        f"{path}:9:12: warning: ${{NOT_SET}} is not set; it expands to an empty string"
    ]


def test_scalars_are_typed_as_go_yaml_types_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        runners: {{req: {ENDPOINT}}}
        vars:
          yes_word: yes
          on_word: on
          octal_looking: 010
          hex: 0x10
          t: true
          capital: False
          nothing: ~
          float: 1.5e3
          tagged: !!str 123
          date: 2024-01-02
        steps:
          a: {{req: {{/: {{get: {{}}}}}}}}
        """,
    )
    assert load_runbooks([path]).books[0].static_vars == {
        "yes_word": "yes",
        "on_word": "on",
        "octal_looking": 10,
        "hex": 16,
        "t": True,
        "capital": False,
        "nothing": None,
        "float": 1500.0,
        "tagged": "123",
        "date": "2024-01-02",
    }


def test_anchors_aliases_and_merge_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        x-defaults: &defaults
          a: 1
          b: 2
        runners: {{req: {ENDPOINT}}}
        vars:
          same: *defaults
          merged:
            <<: *defaults
            b: 3
          list: &list [1, 2]
          again: *list
        steps:
          a: {{req: {{/: {{get: {{}}}}}}}}
        """,
    )
    assert load_runbooks([path]).books[0].static_vars == {
        "same": {"a": 1, "b": 2},
        "merged": {"b": 3, "a": 1},
        "list": [1, 2],
        "again": [1, 2],
    }


def test_vars_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text('{"k": [1, 2]}')
    path = write(
        tmp_path,
        f"""
        runners: {{req: {ENDPOINT}}}
        vars:
          user: {{name: alice, age: 30}}
          file: json://data.json
        steps:
          a: {{req: {{/: {{get: {{}}}}}}}}
        """,
    )
    scenario = load_runbooks(
        [path],
        {"count": "10", "ratio": "0.5", "name": "bob", "user.age": "31", "neg": "-3",
         "dots": "1.2.3", "other": "json://data.json", "typed": [1]},
    )  # fmt: skip
    assert scenario.books[0].static_vars == {
        "user": {"name": "alice", "age": 31},
        "file": {"k": [1, 2]},
        "count": 10,
        "ratio": 0.5,
        "name": "bob",
        "neg": -3,
        "dots": "1.2.3",
        "other": {"k": [1, 2]},
        "typed": [1],
    }
    assert parse_var_value("007") == 7
    assert parse_var_value("1.") == 1.0
    assert parse_var_value("true") == "true"
    assert parse_var_value("a:b") == "a:b"


def test_several_runbooks_share_or_split_runners(tmp_path: Path) -> None:
    one = write(tmp_path, MINIMAL, "one.yml")
    two = write(tmp_path, MINIMAL, "two.yml")
    other = write(tmp_path, MINIMAL.replace(ENDPOINT, "http://127.0.0.1:10"), "three.yml")
    scenario = load_runbooks([one, two, other])
    assert [c.name for c in scenario.runner_configs()] == ["req", "three:req"]
    assert scenario.step_names() == ["one:home", "two:home", "three:home"]
    same = load_runbooks([one, one])
    assert same.step_names() == ["one:home", "one#2:home"]


def test_included_steps_are_named_after_their_parent(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        vars: {user: nobody}
        steps:
          login:
            req: {/login: {post: {body: {application/json: {user: "{{ vars.user }}"}}}}}
        """,
        "child.yml",
    )
    path = write(
        tmp_path,
        f"""
        runners: {{req: {ENDPOINT}}}
        steps:
          first:
            include: {{path: child.yml, vars: {{user: alice}}}}
          again:
            include: file://child.yml
        """,
        "main.yml",
    )
    scenario = load_runbooks([path])
    assert scenario.step_names() == ["main:first>child:login", "main:again>child:login"]
    assert [c.name for c in scenario.runner_configs()] == ["req"]


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("steps: [\n  a", 3, 1, "invalid YAML"),
        ("a: b: c\n", 1, 5, "invalid YAML: mapping values are not allowed"),
        ("a:\n\t- b\n", 2, 1, "invalid YAML"),
        ("- 1\n- 2\n", 1, 1, "a runbook is a map, not a list"),
        ("a: 1\n---\nb: 2\n", 2, 1, "a runbook is one YAML document (remove the `---`)"),
        ("a: 1\na: 2\n", 2, 1, "duplicate key 'a' (first at line 1)"),
        ("a: *missing\n", 1, 4, "invalid YAML: found undefined alias"),
        ("desc: x\n", 1, 1, "the runbook has no `steps`"),
        (
            "desc: x\nstpes: []\n",
            2,
            1,
            "the runbook has no `steps` (`stpes` is not a runbook key: did you mean `steps`?)",
        ),
        ("steps: 5\n", 1, 8, "`steps` is a list or a map, not a number"),
        ("steps: [5]\n", 1, 9, "steps[0] is a map, not a number"),
        ("steps: {a: [1]}\n", 1, 12, "step 'a' is a map, not a list"),
    ],
)
def test_yaml_and_shape_errors(
    tmp_path: Path, text: str, line: int, col: int, message: str
) -> None:
    path = tmp_path / "book.yml"
    path.write_text(text)
    error = error_of(path)
    assert error.startswith(at(path, line, col)), error
    assert message in error


def test_empty_and_missing_and_binary_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    assert error_of(empty) == f"{empty}:1:1: the runbook is empty (it needs at least `steps:`)"
    with pytest.raises(RunbookError, match="no such runbook file"):
        load_runbooks([tmp_path / "missing.yml"])
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in error_of(binary)


STEP_ERRORS = [
    # (step body, line, col, message); the body is on line 5 from col 5
    ("db: {query: select 1}", 5, 5, "unknown runner `db` (runners defined here: req)"),
    ("exec: {command: ls}", 5, 5, "exec (shell command) steps are not supported"),
    (
        "req: {/: {get: {}}}\n    other: {/: {get: {}}}",
        6,
        5,
        "a step runs one runner; this one has req, other",
    ),
    (  # a misspelt step key is named, wherever it is
        "tset: true\n    req: {/: {get: {}}}",
        5,
        5,
        "a step runs one runner; this one has tset, req (`tset` is not a step key: did you mean "
        "`test`?)",
    ),
    ("tset: true", 5, 5, "unknown runner `tset` (`tset` is not a step key: did you mean `test`?)"),
    ("rq: {/: {get: {}}}", 5, 5, "unknown runner `rq` (did you mean `req`? runners defined here"),
    ("req: {/a: {get: {}}, /b: {get: {}}}", 5, 10, "an HTTP step is `runner: {/path: {method:"),
    ("req: {/a: {get: {}, post: {}}}", 5, 11, "path '/a' needs exactly one method"),
    ("req: {/a: get}", 5, 11, "path '/a' needs exactly one method"),
    ("req: {/a: {g e t: {}}}", 5, 16, "invalid HTTP method 'g e t'"),
    ("req: {/a: {post: {}}}", 5, 22, "POST needs a body, as in runn (add body:"),
    ("req: {/a: {patch: {body: null}}}", 5, 30, "PATCH needs a body"),
    ("req: {/a: {post: {body: {application/json: null}}}}", 5, 30, "POST needs a body"),
    ("req: {/a: {get: {body: {a/b: 1, c/d: 2}}}}", 5, 28, "`body` is null or one `media/type:"),
    ("req: {/a: {get: {query: {a: 1}}}}", 5, 22, "unknown request key `query`"),
    ("req: {/a: {get: {headers: [a]}}}", 5, 31, "`headers` is a map, not a list"),
    ("req: {/a: {get: {headers: {X: {a: 1}}}}}", 5, 35, "header 'X' is a string or a list"),
    ("req: {/a: {get: 5}}", 5, 21, "`get` is a map of headers, body ..., not a number"),
    ("test: 5", 5, 11, "`test` is an expression or a boolean, not a number"),
    ("bind: [a]", 5, 11, "`bind` is a map of name: expression, not a list"),
    ("bind: {vars: 1}", 5, 12, "cannot bind `vars`: the name is reserved"),
    ("bind: {'a b': 1}", 5, 15, "invalid bind key 'a b': unexpected 'b'"),
    ("loop: [1]", 5, 11, "`loop` is a count or a map, not a list"),
    ("loop: {count: 2, interval: soon}", 5, 32, "invalid `loop.interval`: not a duration"),
    ("loop: {count: true}", 5, 19, "`loop.count` is a number or an expression, not a boolean"),
    ("if: [1]", 5, 9, "`if` is an expression, not a list"),
    ("force: maybe", 5, 12, "`force` is true or false, not a string"),
    ("include: missing.yml", 5, 14, "cannot include 'missing.yml': no such file"),
    ("include: {steps: [{test: true}], vars: [1]}", 5, 44, "`include.vars` is a map"),
    ("include: {vars: {a: 1}}", 5, 14, "`include` needs a `path` to a runbook"),
    ("include: 'http://example.com/a.yml'", 5, 14, "only local files"),
    ("include: '{{ vars.file }}'", 5, 14, "an include path cannot be a template"),
]


@pytest.mark.parametrize(("body", "line", "col", "message"), STEP_ERRORS)
def test_malformed_steps(tmp_path: Path, body: str, line: int, col: int, message: str) -> None:
    path = write(tmp_path, f"runners:\n  req: {ENDPOINT}\nsteps:\n  s:\n    {body}\n")
    error = error_of(path)
    assert error.startswith(at(path, line, col)), error
    assert message in error, error


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        (
            "ftp://127.0.0.1",
            "runner `req` is not an HTTP runner (database) (loadscope runs HTTP steps only)",
        ),
        ("~", "runner `req` is not an HTTP runner (undefined)"),
        ("{endpoint: 'not a url'}", "invalid endpoint 'not a url' (use http://host:port)"),
        ("{endpoint: 'http://'}", "invalid endpoint"),
        ("{endpoint: 'http://127.0.0.1:99999'}", "invalid endpoint 'http://127.0.0.1:99999': port"),
        (  # the error names the endpoint as the command line names a URL: no password
            "{endpoint: 'http://me:hunter22@127.0.0.1:99999'}",
            "invalid endpoint 'http://***@127.0.0.1:99999': port",
        ),
        ("'{{ vars.url }}'", "runner `req`: the endpoint is not a URL: None"),
        (
            "{endpoint: '{{ steps[0].res.body.url }}'}",
            "runner `req`: the endpoint template must be known at load "
            "(use vars, parent.vars or ${ENV})",
        ),
        ("{endpoint: 'http://127.0.0.1', cert: none.pem}", "`cert`: no such file none.pem"),
        ("{endpoint: 'http://127.0.0.1', timeout: later}", "invalid `timeout`"),
        ("[a]", "runner `req` is a URL or a map, not a list"),
    ],
)
def test_runner_errors(tmp_path: Path, runner: str, message: str) -> None:
    path = write(
        tmp_path, f"runners:\n  req: {runner}\nsteps:\n  s:\n    req: {{/: {{get: {{}}}}}}\n"
    )
    assert message in error_of(path)


def _tls_runner(directory: Path, *files: str) -> Path:
    """A runbook whose runner has these `key: file` lines, from line 4 on."""
    lines = "".join(f"    {line}\n" for line in files)
    runner = f"runners:\n  req:\n    endpoint: https://127.0.0.1:9\n{lines}"
    text = runner + "steps:\n  - req: {/: {get: {}}}\n"
    return write(directory, text)


@pytest.mark.parametrize(
    ("files", "line", "col", "message"),
    [
        (
            "cacert: book.yml",
            4,
            13,
            "`cacert`: book.yml: not a PEM certificate (no certificate in it)",
        ),
        ("cacert: broken.pem", 4, 13, "`cacert`: broken.pem: not a PEM certificate (bad PEM data)"),
        ("cert: book.yml|key: key.pem", 4, 11, "`cert`: book.yml: not a PEM certificate"),
        ("cert: cert.pem|key: book.yml", 5, 10, "`key`: book.yml: not a PEM private key"),
        (
            "cert: cert.pem|key: other/key.pem",
            5,
            10,
            "`key`: other/key.pem: does not match the certificate in `cert`",
        ),
    ],
)
def test_tls_files_that_are_not_pem_fail_at_load(
    tmp_path: Path, files: str, line: int, col: int, message: str
) -> None:
    write_self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    write_self_signed(tmp_path / "other")
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    path = _tls_runner(tmp_path, *files.split("|"))
    assert error_of(path).startswith(at(path, line, col) + message)


def test_an_encrypted_key_fails_at_load_without_asking_for_a_password(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    write_self_signed(tmp_path)
    encrypted = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    (tmp_path / "locked.pem").write_bytes(encrypted)
    path = _tls_runner(tmp_path, "cert: cert.pem", "key: locked.pem")
    assert "`key`: locked.pem: an encrypted private key" in error_of(path)


def test_a_cert_without_key_is_ignored_as_runn_ignores_it(tmp_path: Path) -> None:
    write_self_signed(tmp_path)
    scenario = load_runbooks([_tls_runner(tmp_path, "cert: cert.pem")])
    (config,) = scenario.runner_configs()
    assert config.cert is None and config.key is None
    assert "`cert` without `key` is ignored, as runn ignores it" in "\n".join(scenario.warnings)


@pytest.mark.parametrize(
    ("runner", "line", "col", "message"),
    [
        # The runner's value lost to an unset ${ENV}: said so, where the runner is defined.
        ("${NOPE}", 2, 8, "runner `req` is empty: the environment variable NOPE is not set"),
        ("'${NOPE}'", 2, 8, "runner `req` is empty: the environment variable NOPE is not set"),
        (
            "${NOPE}${ALSO}/api",
            2,
            8,
            "runner `req` is '/api', not a URL: the environment variables NOPE and ALSO are "
            "not set",
        ),
        (
            "'http://${NOPE}:8080/'",
            2,
            8,
            "invalid endpoint 'http://:8080/' (the environment variable NOPE is not set)",
        ),
        (
            "{endpoint: '${NOPE}'}",
            2,
            19,
            "invalid endpoint '' (the environment variable NOPE is not set)",
        ),
        # runn's `${VAR?message}`: an error of its own when VAR is not set
        ("${NOPE?give the target URL}", 2, 8, "NOPE is not set: give the target URL"),
        ("${NOPE?}", 2, 8, "the environment variable NOPE is not set: it is required"),
    ],
)
def test_a_runner_emptied_by_an_unset_env_var_says_so(
    tmp_path: Path, runner: str, line: int, col: int, message: str
) -> None:
    path = write(tmp_path, f"runners:\n  req: {runner}\nsteps:\n  - req: {{/: {{get: {{}}}}}}\n")
    error = error_of(path, env={})
    assert error.startswith(at(path, line, col)), error
    assert message in error, error


def test_an_unset_env_var_in_a_runner_no_step_uses_is_no_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"runners:\n  req: {ENDPOINT}\n  db: ${{NOPE}}\nsteps:\n  - req: {{/: {{get: {{}}}}}}\n",
    )
    scenario = load_runbooks([path], env={})
    assert any("NOPE" in warning for warning in scenario.warnings), scenario.warnings


def test_a_set_env_var_with_a_required_marker_expands(tmp_path: Path) -> None:
    path = write(tmp_path, "runners:\n  req: ${T?set T}\nsteps:\n  - req: {/: {get: {}}}\n")
    scenario = load_runbooks([path], env={"T": ENDPOINT})
    assert scenario.runner_configs()[0].base_url == ENDPOINT


EXPRESSION_ERRORS = [
    # (step body, line, col, message); the body is on line 6 from col 5
    (
        "test: current.res.status ==",
        6,
        32,
        "test: unexpected end of expression in `current.res.status ==`",
    ),
    ("test: 'current.res.status == )'", 6, 34, "test: unexpected ')'"),
    (
        "test: |\n      current.res.status == 200\n      && current.res.body.(x)",
        8,
        27,
        "test: expected a field name after '.', found '('",
    ),
    ("if: a =! b", 6, 11, "if: unexpected '=' in `a =! b` (did you mean `==`?)"),
    ("dump: map(x, {#index}) | nope()", 6, 11, "dump: unknown function nope()"),
    ("bind: {x: 'current.res.body |'}", 6, 34, "bind x: expected a function call after `|`"),
    ("bind: {x: 'input(\"otp\")'}", 6, 16, "bind x: input() reads from a terminal"),
    ("loop: {count: 2, until: 'foo('}", 6, 34, "loop.until: unexpected end of expression"),
    ("loop: 'len(1,'", 6, 18, "loop.count: unexpected end of expression"),
    ("req: {'/users/{{ 1 + }}': {get: {}}}", 6, 26, "path: unexpected end of expression in `1 +`"),
    ("req: {/a: {get: {headers: {X: 'a {{ b c }}'}}}}", 6, 43, "header: unexpected 'c'"),
    (
        "req: {/a: {post: {body: {application/json: {k: '{{ ) }}'}}}}}",
        6,
        56,
        "body: unexpected ')'",
    ),
    ("test: nosuch(1)", 6, 11, "test: unknown function nosuch()"),
]


@pytest.mark.parametrize(("body", "line", "col", "message"), EXPRESSION_ERRORS)
def test_expression_errors(tmp_path: Path, body: str, line: int, col: int, message: str) -> None:
    path = write(
        tmp_path,
        f"runners:\n  req: {ENDPOINT}\nsteps:\n  home: {{req: {{/: {{get: {{}}}}}}}}\n"
        f"  s:\n    {body}\n",
    )
    error = error_of(path)
    assert error.startswith(at(path, line, col)), error
    assert message in error, error


UNDEFINED = [
    (
        "req: {'/u/{{ token }}': {get: {}}}",
        7,
        18,
        "path: unknown name `token` in `token` (not in "
        "vars, not bound by an earlier step, not a built-in name)",
    ),
    ("test: later == 1", 7, 11, "test: unknown name `later`"),
    (
        "test: vars.nope == 1",
        7,
        16,
        "test: unknown var `nope` in `vars.nope == 1` (vars defined: known)",
    ),
    (
        "req: {/a: {get: {headers: {X: '{{ vars.missing }}'}}}}",
        7,
        44,
        "header: unknown var `missing`",
    ),
    ("req: {'/p/{{ i }}': {get: {}}}", 7, 18, "path: `i` is only set inside a step with `loop`"),
    ("if: i == 0\n    loop: 2\n    test: true", 7, 9, "if: `i` is only set"),
    (
        "test: steps.nope.res.status == 200",
        7,
        17,
        "test: unknown step `nope` in `steps.nope.res.status == 200` (steps: after, s)",
    ),
]


@pytest.mark.parametrize("test", ["steps[2].res.status == 200", "steps[7] == nil"])
def test_list_steps_out_of_range(tmp_path: Path, test: str) -> None:
    path = write(
        tmp_path,
        f"runners:\n  req: {ENDPOINT}\nsteps:\n  - req: {{/: {{get: {{}}}}}}\n  - test: '{test}'\n",
    )
    assert "the runbook has 2 steps" in error_of(path)
    fine = write(tmp_path, f"runners:\n  req: {ENDPOINT}\nsteps:\n  - req: {{/: {{get: {{}}}}}}\n"
                 "  - test: 'steps[1] == nil && steps[-2] != nil'\n")  # fmt: skip
    compile_runbooks([fine])


@pytest.mark.parametrize(("body", "line", "col", "message"), UNDEFINED)
def test_undefined_names(tmp_path: Path, body: str, line: int, col: int, message: str) -> None:
    path = write(
        tmp_path,
        f"runners:\n  req: {ENDPOINT}\nvars:\n  known: 1\nsteps:\n  s:\n    {body}\n"
        "  after:\n    bind: {later: 1, token: 2}\n    test: true\n",
    )
    error = error_of(path)
    assert error.startswith(at(path, line, col)), error
    assert message in error, error


def test_names_that_can_be_defined_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        runners: {{req: {ENDPOINT}}}
        vars: {{id: 1}}
        steps:
          first:
            req: {{/a: {{get: {{}}}}}}
            bind:
              token: current.res.body.token
              seen: seen ?? 0
            test: token == nil || token != "" && seen == 0
          second:
            loop: {{count: 2, until: "i == 1 && current.res.status == 200"}}
            req:
              "/b/{{{{ token }}}}/{{{{ vars.id }}}}/{{{{ i }}}}?n={{{{ runn.i }}}}":
                get:
                  headers:
                    X-Env: "{{{{ env.HOME }}}}"
                    X-Prev: "{{{{ previous.res.status }}}}"
            test: steps.first.res.status == 200 && cookies != nil && parent == nil && !included
        """,
    )
    load_runbooks([path])


def test_root_loop_may_read_names_bound_later(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        runners: {{req: {ENDPOINT}}}
        loop: {{count: 3, until: "outcome == 'success' && idx == 2"}}
        steps:
          - req: {{"/x/{{{{ idx }}}}": {{get: {{}}}}}}
          - bind: {{idx: "idx == nil ? 0 : idx + 1"}}
        """,
    )
    load_runbooks([path])


def test_include_errors(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  again:\n    include: a.yml\n", "b.yml")
    path = write(tmp_path, f"runners: {{req: {ENDPOINT}}}\nsteps:\n  s:\n    include: b.yml\n",
                 "a.yml")  # fmt: skip
    error = error_of(path, tmp_path / "b.yml")
    assert error == f"{tmp_path / 'b.yml'}:3:14: include cycle: a.yml → b.yml → a.yml"
    write(tmp_path, "steps:\n  s:\n    test: vars.unknown == 1\n", "c.yml")
    path = write(tmp_path, f"runners: {{req: {ENDPOINT}}}\nsteps:\n  s:\n    include: c.yml\n",
                 "d.yml")  # fmt: skip
    error = error_of(path, tmp_path / "c.yml")
    assert error.startswith(f"{tmp_path / 'c.yml'}:3:16: test: unknown var `unknown`")
    write(tmp_path, "steps:\n  s:\n    nope: {/: {get: {}}}\n", "e.yml")
    path = write(tmp_path, f"runners: {{req: {ENDPOINT}}}\nsteps:\n  s:\n    include: e.yml\n",
                 "f.yml")  # fmt: skip
    assert "unknown runner `nope`" in error_of(path, tmp_path / "e.yml")


def test_a_runbook_that_sends_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "steps:\n  - test: true\n")
    scenario = load_runbooks([path])
    assert scenario.step_names() == []
    assert scenario.warnings == [f"{path}: warning: {NO_LOAD_WARNING}"]


@pytest.mark.slow
def test_alias_bombs_and_deep_nesting(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, "
              f"*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 8)]  # fmt: skip
    bomb = tmp_path / "bomb.yml"
    bomb.write_text("\n".join(lines) + "\nsteps: []\n")
    assert "too many nodes" in error_of(bomb)
    deep = tmp_path / "deep.yml"
    deep.write_text("steps: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in error_of(deep) or "invalid YAML" in error_of(deep)


# -- random input never crashes -------------------------------------------------------------------
YAML_PIECES = st.sampled_from(
    [
        "runners:", "  req: http://127.0.0.1:9", "steps:", "  - ", "  s:", "    req:", "      /:",
        "        get:", "        post:", "          body:", "            application/json:",
        "    test: ", "    bind:", "      x: ", "    loop: ", "    if: ", "    include: ",
        "vars:", "  a: ", "{{ ", " }}", "current.res.status == 200", "[", "]", "{", "}", "&a",
        "*a", "<<: ", "- ", ": ", "'", '"', "|", "\t", "${X:-1}", "null", "true", "3", "-",
        "headers:", "          X: ", "desc: ", "loop:", "  count: ", "  until: ", "i", "#",
    ]
)  # fmt: skip


RANDOM = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.slow
@RANDOM
@given(st.lists(st.tuples(YAML_PIECES, st.booleans()), max_size=24))
def test_random_yaml_never_crashes(tmp_path: Path, pieces: list[tuple[str, bool]]) -> None:
    text = "".join(piece + ("\n" if newline else "") for piece, newline in pieces)
    path = tmp_path / "random.yml"
    path.write_text(text)
    try:
        compile_runbooks([path], env={"X": "2"})
    except RunbookError as exc:
        assert "\n" not in str(exc)
        assert str(exc).startswith(f"{path}:")


@pytest.mark.slow
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(tmp_path: Path, text: str) -> None:
    path = tmp_path / "text.yml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        compile_runbooks([path])
    except RunbookError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10ms", 0.01), ("10msec", 0.01), ("1sec", 1.0), ("1s", 1.0), ("1min", 60.0),
     ("1m30s", 90.0), ("0.5", 0.5), ("2", 2.0)],
)  # fmt: skip
def test_durations_as_runn_writes_them(tmp_path: Path, text: str, seconds: float) -> None:
    path = write(
        tmp_path,
        f"""
        desc: timings
        labels: [smoke, http]
        interval: {text}
        runners: {{req: {ENDPOINT}}}
        steps:
          s:
            loop: {{count: 3, until: "true", minInterval: {text}, maxInterval: 1h,
                    multiplier: 2, jitter: 0.25}}
            req: {{/: {{get: {{}}}}}}
        """,
    )
    book = load_runbooks([path]).books[0]
    assert book.interval == seconds
    loop = book.steps[0].loop
    assert loop is not None
    assert (loop.min_interval, loop.max_interval, loop.multiplier, loop.jitter) == (
        seconds, 3600.0, 2.0, 0.25
    )  # fmt: skip
    assert loop.interval is None
    assert 0.75 * 2 * seconds <= loop.pause(2) <= 1.25 * 2 * seconds


def test_non_finite_durations_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"interval: .inf\nrunners: {{req: {ENDPOINT}}}\nsteps: []\n")
    assert "is not a finite duration" in error_of(path)


SKIPPED = f"""
vars:
  on: false
if: {{condition}}
runners:
  req: {ENDPOINT}
steps:
  - req: {{{{/x: {{{{get: {{{{}}}}}}}}}}}}
"""


@pytest.mark.parametrize(
    ("condition", "why"),
    [
        ('env.RUNIT == "1"', 'the runbook\'s `if: env.RUNIT == "1"` is false (RUNIT is not set)'),
        ("vars.on", "the runbook's `if: vars.on` is false (vars.on is false)"),
        ("included", "the runbook runs only when included (`if: included`)"),
    ],
)
def test_a_runbook_its_if_skips_loads_with_a_warning_saying_which_condition(
    tmp_path: Path, condition: str, why: str
) -> None:
    # runn skips it, and so does a run: iterations pass without a step, sending nothing
    path = write(tmp_path, SKIPPED.format(condition=condition))
    scenario = load_runbooks([path], env={})
    assert not scenario.sends_requests
    assert scenario.warnings == [
        f"{at(path, 3, 5)}warning: {why}: run on its own, runn skips it: every iteration skips "
        "it and sends nothing"
        if condition == "included"
        else f"{at(path, 3, 5)}warning: {why}: runn skips it: every iteration skips it and "
        "sends nothing"
    ]


def test_a_skipped_runbook_beside_one_that_runs_is_a_warning(tmp_path: Path) -> None:
    skipped = write(tmp_path, SKIPPED.format(condition="vars.on"), "skipped.yml")
    runs = write(tmp_path, MINIMAL, "runs.yml")
    scenario = load_runbooks([skipped, runs])
    assert scenario.warnings == [
        f"{skipped}:3:5: warning: the runbook's `if: vars.on` is false (vars.on is false): "
        "runn skips it"
    ]


def test_a_true_condition_is_no_warning(tmp_path: Path) -> None:
    path = write(tmp_path, SKIPPED.format(condition='env.RUNIT == "1"'))
    assert load_runbooks([path], env={"RUNIT": "1"}).warnings == []


def test_a_needs_cycle_shows_the_chain(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, "needs: {a: ../a.yml}\nsteps:\n  - test: true\n", "sub/b.yml")
    path = write(tmp_path, "needs: {b: sub/b.yml}\nsteps:\n  - test: true\n", "a.yml")
    options = RunbookOptions(scopes=frozenset({"read:parent"}))
    message = error_of(path, tmp_path / "sub" / "b.yml", options=options)
    assert message.endswith("needs cycle: a.yml → sub/b.yml → a.yml")
