"""The expr-lang subset: values, operators, errors, and the threshold API."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadscope.engine.runbook import EvalError, RunbookError, compile_expression, evaluate

VALUES = {
    "n": 5,
    "f": 2.5,
    "s": "hello",
    "t": True,
    "none": None,
    "list": [1, 2, 3],
    "map": {"a": 1, "b": {"c": "deep"}, "list": [{"x": 1}]},
    "p99": 312.4,
    "error_rate": 0.5,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # literals
        ("42", 42),
        ("0x2A", 42),
        ("0o52", 42),
        ("0b101010", 42),
        ("1_000", 1000),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("'single'", "single"),
        ('"double"', "double"),
        ('"esc\\n\\t\\"\\u00e9"', 'esc\n\t"é'),
        ("`raw\\n`", "raw\\n"),
        ("true", True),
        ("false", False),
        ("nil", None),
        ("null", None),
        ("[1, 'a', nil]", [1, "a", None]),
        ("[]", []),
        ("{a: 1, 'b c': 2, \"d\": [3]}", {"a": 1, "b c": 2, "d": [3]}),
        ("{}", {}),
        # access
        ("map.a", 1),
        ("map['a']", 1),
        ("map.b.c", "deep"),
        ("map.missing", None),
        ("map.list[0].x", 1),
        ("list[-1]", 3),
        ("list[1:]", [2, 3]),
        ("list[:2]", [1, 2]),
        ("list[:]", [1, 2, 3]),
        ("s[1:3]", "el"),
        ("s[0]", "h"),
        ("none?.field", None),
        ("map?.a", 1),
        ("unknown", None),
        # comparisons
        ("n == 5", True),
        ("n == 5.0", True),
        ("n != 5", False),
        ("n < 6", True),
        ("n <= 5", True),
        ("n > 5", False),
        ("n >= 5", True),
        ("'a' < 'b'", True),
        ("1 < 2 < 3", True),
        ("3 > 2 > 2", False),
        ("true == 1", False),
        ("nil == nil", True),
        ("nil == false", False),
        ("list == [1, 2, 3]", True),
        ("map.b == {c: 'deep'}", True),
        ("[1, 2] == [1, 2.0]", True),
        # logic
        ("true && false", False),
        ("true and true", True),
        ("false || true", True),
        ("false or false", False),
        ("!true", False),
        ("not false", True),
        ("not (n > 3)", False),
        ("false && nil.x", False),
        ("true || nil.x", True),
        # arithmetic
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("6 / 3", 2.0),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("2 ** 10", 1024.0),
        ("2 ^ 3 ^ 2", 512.0),
        ("-n", -5),
        ("+f", 2.5),
        ("n - 1 - 1", 3),
        ("'a' + 'b'", "ab"),
        ("[1] + [2]", [1, 2]),
        ("1 / 0", math.inf),
        # membership and strings
        ("2 in list", True),
        ("9 in list", False),
        ("9 not in list", True),
        ("'a' in map", True),
        ("'z' in map", False),
        ("s contains 'ell'", True),
        ("s not contains 'x'", True),
        ("s startsWith 'he'", True),
        ("s endsWith 'lo'", True),
        ("s matches '^h.*o$'", True),
        ("s not matches '\\\\d'", True),
        # conditionals
        ("t ? 'yes' : 'no'", "yes"),
        ("n > 9 ? 'big' : n > 3 ? 'mid' : 'small'", "mid"),
        ("false ?: 'other'", "other"),
        ("none ?? 'default'", "default"),
        ("n ?? 'default'", 5),
        ("map.missing ?? map.a", 1),
        # functions
        ("len(s)", 5),
        ("len(list)", 3),
        ("len(map)", 3),
        ("string(n)", "5"),
        ("string(2.0)", "2"),
        ("string(true)", "true"),
        ("int('12')", 12),
        ("int(2.9)", 2),
        ("float('1.5')", 1.5),
        ("abs(-3)", 3),
        ("lower('AB')", "ab"),
        ("upper('ab')", "AB"),
        ("trim('  x ')", "x"),
        ("trim('xxyxx', 'x')", "y"),
        ("type(n)", "int"),
        ("type(map)", "map"),
        ("type(nil)", "nil"),
        ("urlencode('a b&c')", "a+b%26c"),
        ("compare(map.b, {c: 'deep'})", True),
        ("compare({a: 1, t: 2}, {a: 1, t: 3}, 't')", True),
        ("compare({a: 1, b: 3, c: 4}, {a: 1, b: 2, c: 5}, ['b', 'c'])", True),
        ("compare({a: 1, b: 3}, {a: 1, b: 2}, ['a'])", False),
        ("compare({u: {id: 1, n: 2}}, {u: {id: 9, n: 2}}, '.u.id')", True),
        ("compare({u: {id: 1}, id: 1}, {u: {id: 9}, id: 2}, '.id')", False),
        ("keys({a: 1, b: 2})", ["a", "b"]),
        ("values({a: 1, b: 2})", [1, 2]),
        # predicates: `#`, `#index`, `#acc`, `.field`, with or without braces
        ("map(list, {# * 2})", [2, 4, 6]),
        ("filter(list, # > 1)", [2, 3]),
        ("map(map.list, .x)", [1]),
        ("map(list, #index)", [0, 1, 2]),
        ("all(list, # > 0) && any(list, # == 2) && none(list, # > 3) && one(list, # == 3)", True),
        ("count(list, # >= 2)", 2),
        ("sum(list, # * 10)", 60),
        ("find(list, # > 1)", 2),
        ("find(list, # > 9)", None),
        ("findIndex(list, # == 3)", 2),
        ("findLast(list, # < 3)", 2),
        ("findLastIndex(list, # > 9)", -1),
        ("groupBy(list, # % 2 == 0)", {False: [1, 3], True: [2]}),
        ("sortBy([{n: 2}, {n: 1}], .n)", [{"n": 1}, {"n": 2}]),
        ("sortBy(list, #, 'desc')", [3, 2, 1]),
        ("reduce(list, #acc + #)", 6),
        ("reduce(list, #acc * #, 10)", 60),
        ("map(map(list, [#]), {map(#, # + 1)})", [[2], [3], [4]]),
        # pipes, let, ranges, sequences, if/else
        ("list | filter(# > 1) | map(# * 10)", [20, 30]),
        ("let x = n * 2; let y = x + 1; y", 11),
        ("1..4", [1, 2, 3, 4]),
        ("(1; 2; 3)", 3),
        ("if n > 1 { 'big' } else { 'small' }", "big"),
        ("if n > 9 { 1 } else if n > 4 { 2 } else { 3 }", 2),
        # expr-lang functions
        ("[sum(list), min(list), max(3, 9), mean(list), median([4, 1, 3])]", [6, 1, 9, 2.0, 3.0]),
        ("[ceil(1.2), floor(1.8), round(2.5), round(-2.5)]", [2.0, 1.0, 3.0, -3.0]),
        ("[first(list), last(list), first([])]", [1, 3, None]),
        ("take(list, 2) + reverse(list)", [1, 2, 3, 2, 1]),
        ("uniq([1, 1, 2]) + flatten([[3], [[4]]]) + concat([5], [6])", [1, 2, 3, 4, 5, 6]),
        ("sort([3, 1, 2]) + sort(['b', 'a'], 'desc')", [1, 2, 3, "b", "a"]),
        (
            "[trimPrefix('v1', 'v'), trimSuffix('a.yml', '.yml'), replace('aa', 'a', 'b')]",
            ["1", "a", "bb"],
        ),
        (
            "[hasPrefix(s, 'he'), hasSuffix(s, 'lo'), indexOf(s, 'l'), lastIndexOf(s, 'l')]",
            [True, True, 2, 3],
        ),
        ("split('a,b,c', ',', 2) + splitAfter('a,b', ',')", ["a", "b,c", "a,", "b"]),
        ("[repeat('ab', 2), join(['a', 'b'], '-'), join(['x', 'y'])]", ["abab", "a-b", "xy"]),
        ("toJSON({b: 1, a: [true]})", '{\n  "a": [\n    true\n  ],\n  "b": 1\n}'),
        ("fromJSON('{\"a\": [1]}').a[0] + 1", 2),
        ("fromBase64(toBase64('héllo'))", "héllo"),
        ("toPairs({a: 1})", [["a", 1]]),
        ("fromPairs([['a', 1]])", {"a": 1}),
        ("get(map, 'a') + get(list, 9) ?? 0", 1),
        (
            "[bitand(6, 3), bitor(4, 1), bitxor(5, 1), bitnot(0), bitshl(1, 3), bitshr(8, 2)]",
            [2, 5, 4, -1, 8, 2],
        ),
        ("string(duration('1h30m'))", "1h30m0s"),
        ("date('2024-03-01T10:00:00Z') - date('2024-03-01T09:30:00Z') == duration('30m')", True),
        ("date('01/02/2024', '01/02/2006') < date('2024-01-03')", True),
        ("now() > date('2020-01-01')", True),
        # runn's functions
        ("merge({a: 1, b: 2}, {b: 3}, {c: 4})", {"a": 1, "b": 3, "c": 4}),
        ("pick({a: 1, b: 2, c: 3}, 'a', 'c')", {"a": 1, "c": 3}),
        ("omit({a: 1, b: 2, c: 3}, ['a', 'b'])", {"c": 3}),
        ("intersect({a: 1, b: 2}, {a: 1, b: 3})", {"a": 1}),
        ("diff({a: 1}, {a: 1})", ""),
        ("diff({a: 1}, {a: 2}) contains '\"a\": 2'", True),
        (
            "[bool('true'), bool('1'), bool('no'), bool(0), bool(nil)]",
            [True, True, False, False, False],
        ),
        ("[basename('/a/b.txt'), basename('a/'), basename('')]", ["b.txt", "a", "."]),
        ("time('2024-01-02 03:04:05') == date('2024-01-02T03:04:05Z')", True),
        ("time(1704164645) == date('2024-01-02T03:04:05Z')", True),
        (
            "hash.Sha256('') + ''",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("len(hash.Sha512('x'))", 128),
        ("faker.IntRange(3, 3) + len(faker.DigitN(4))", 7),
        ("faker.Password(true, false, false, false, false, 8) matches '^[a-z]{8}$'", True),
        # white space and comments
        ("n == 5\n&& s == 'hello'", True),
        ("// a comment\nn /* inline */ == 5", True),
        ("error_rate < 1 && p99 < 200", False),
    ],
)
def test_evaluates(text: str, expected: object) -> None:
    result = compile_expression(text).evaluate(VALUES)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("none.field", "cannot fetch field from nil"),
        ("list[5]", "index out of range"),
        ("list['a']", "cannot index array with string"),
        ("n < 'a'", "invalid operation: int < string"),
        ("s - 1", "invalid operation: string - int"),
        ("n && true", "&& needs a bool, got int"),
        ("!n", "! needs a bool, got int"),
        ("n ? 1 : 2", "?: needs a bool"),
        ("1 in s", "use contains for strings"),
        ("n contains 'a'", "invalid operation: int contains string"),
        ("len(n)", "invalid argument for len"),
        ("int(s)", "invalid argument for int"),
        ("n % f", "invalid operation: int % float"),
        ("n % (n - 5)", "integer divide by zero"),
        ("s matches s + '('", "invalid regular expression"),
        ("map(n, # + 1)", "invalid argument for map"),
        ("filter(list, # + 1)", "filter: the predicate gives int, not bool"),
        ("reduce([], #acc + #)", "reduce of an empty array with no initial value"),
        ("sortBy([1, 'a'], #)", "sortBy: cannot compare number, string"),
        ("fromJSON(s)", "fromJSON: "),
        ("jwt.Parse('x.y.z', {secret: 's'})", "jwt.Parse: "),
        ("jwt.Sign({secret: 's', algorithm: 'RS256'})", "jwt: unsupported algorithm: RS256"),
        ("merge(n)", "invalid argument for merge"),
        ("time(s)", "time: cannot parse 'hello' as a time"),
    ],
)
def test_runtime_errors(text: str, message: str) -> None:
    expression = compile_expression(text)
    with pytest.raises(EvalError, match=message.replace("(", r"\(").replace("?", r"\?")):
        expression.evaluate(VALUES)


@pytest.mark.parametrize(
    ("text", "col", "message"),
    [
        ("1 +", 4, "unexpected end of expression"),
        ("(1", 3, "expected ')' but found end of expression"),
        ("a ? b", 6, "expected ':'"),
        ("[1,", 4, "unexpected end of expression"),
        ("'open", 1, "unterminated string"),
        ("a | 1", 5, "expected a function call after `|`"),
        ("# > 1", 1, "'#' is only valid inside a predicate"),
        ("filter(list)", 1, "filter() takes 2 argument(s)"),
        ("nosuch(1)", 1, "unknown function nosuch()"),
        ("map([1], {#nope})", 11, "unknown pointer #nope"),
        ("s matches '('", 11, "invalid regular expression"),
        ("int('x')", 1, "invalid argument for int"),
        ("len()", 1, "len() takes 1 argument(s)"),
        ("a.b()", 1, "unknown function a.b()"),
        ("faker.Nope() != ''", 1, "unknown function faker.Nope()"),
        ("a[0]()", 1, "methods are not supported"),
        ("x = 1", 3, "unexpected '='"),
        ("1.. 'a'", 1, "invalid operation: int .. string"),
        ("a not b", 3, "unexpected 'not'"),
        ("let x = 1 x", 11, "expected ';'"),
        ("1 # comment", 3, "unexpected '#'"),
        ("input('otp> ')", 1, "input() reads from a terminal"),
        ("/* open", 1, "unterminated /* comment"),
        ("12abc", 1, "invalid number"),
        ("'\\q'", 2, "invalid escape"),
        ("{[1]: 2}", 2, "a map key must be a name or a string"),
        ("1 / 0 > 1 && 'a' < 1", 14, "invalid operation: string < int"),
    ],
)
def test_parse_errors_name_the_place(text: str, col: int, message: str) -> None:
    with pytest.raises(RunbookError) as caught:
        compile_expression(text, origin="--threshold")
    error = str(caught.value)
    assert error.startswith(f"--threshold:1:{col}: ")
    assert message in error
    assert "\n" not in error
    assert f"`{text}`" in error


def test_parse_error_on_a_later_line() -> None:
    with pytest.raises(RunbookError, match=r"^t:2:4: "):
        compile_expression("a == 1\n&& )", origin="t")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(RunbookError, match="nested too deeply"):
        compile_expression("(" * 200 + "1" + ")" * 200)
    with pytest.raises(RunbookError, match="nested too deeply"):
        compile_expression("-" * 500 + "1")


def test_constant_errors_fail_at_compile_time() -> None:
    with pytest.raises(RunbookError, match="invalid operation: string - int"):
        compile_expression("'a' - 1")


def test_threshold_names_terms_and_explanation() -> None:
    expression = compile_expression("error_rate < 1 && p99 < 200", origin="--threshold")
    assert expression.names == {"error_rate", "p99"}
    assert expression.terms() == ["error_rate < 1", "p99 < 200"]
    assert expression.evaluate(VALUES) is False
    assert expression.explain(VALUES) == "(p99 < 200) is not true: p99=312.4"
    both = {"error_rate": 3.0, "p99": 312.4}
    assert expression.explain(both) == (
        "(error_rate < 1) is not true: error_rate=3; (p99 < 200) is not true: p99=312.4"
    )
    assert compile_expression("(a || b)").explain({"a": False, "b": False}) == (
        "(a || b) is not true: a=false, b=false"
    )
    assert compile_expression("rps").explain({"rps": 10}) == "(rps) is 10, not true: rps=10"
    assert compile_expression("rps > 1").explain({}) == (
        "(rps > 1) failed: invalid operation: nil > int: rps=nil"
    )


def test_evaluate_one_shot() -> None:
    assert evaluate("a * 2", {"a": 21}) == 42
    assert compile_expression("x > 1").is_true({"x": 2})
    assert not compile_expression("x > 1").is_true({"x": "oops"})


SOURCE_ALPHABET = st.sampled_from(
    [*"abcxyz019 .,:;?!|&=<>+-*/%^()[]{}'\"`#\\\n_$",
     "&&", "||", "??", "?.", "==", "!=", "<=", ">=", "**", "in", "not", "and", "or", "nil",
     "true", "contains", "matches", "len(", "map.", "list[", "//", "/*", "*/", "0x", "1e", ".5",
     "é", "名前", "２", "٣", "ß", "\u00a0", "\u200b", "😀"]
)  # fmt: skip


@pytest.mark.parametrize(
    ("source", "value"),
    [("名前 == 1", True), ("é + 1", 2), ("map.stätus", 3), ("$x + a1", 3)],
)
def test_names_may_be_unicode_as_in_go(source: str, value: object) -> None:
    values = {"名前": 1, "é": 1, "map": {"stätus": 3}, "$x": 1, "a1": 2}
    assert compile_expression(source).evaluate(values) == value


def test_a_digit_that_is_not_ascii_is_a_clear_error() -> None:
    with pytest.raises(RunbookError, match="unexpected character '２'"):
        compile_expression("２００")


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SOURCE_ALPHABET, max_size=30).map("".join))
def test_random_expressions_never_crash(text: str) -> None:
    try:
        expression = compile_expression(text)
    except RunbookError as exc:
        assert "\n" not in str(exc)
        return
    try:
        expression.evaluate(VALUES)
        expression.explain(VALUES)
    except EvalError:
        pass
