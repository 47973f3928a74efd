"""Ops-authored Jinja2 rendered with a budget: the one sandbox every such template goes through.

Reply templates, mail acknowledgements and SLA alert texts are written by ops, and some
of their input (a ticket's subject) is chosen by customers, so a template is treated as
untrusted code. Jinja2's immutable sandbox stops escapes (``__class__``, ``__globals__``,
unsafe ``str.format``); this module adds a budget that is enforced *while* the template
renders, so a template fails at the first step past a limit instead of after it has
built gigabytes:

* output is streamed from ``Template.generate`` with a running length check;
* every loop iteration (any iterable, not only ``range``) counts against one budget, and
  ``range`` itself is bounded;
* string and list building (``*``, ``+``, ``~``, ``%``, ``str.format`` widths, filters
  such as ``center`` or ``indent``) is refused when it would exceed the output limit;
* the wall-clock deadline is checked at every iteration and output chunk.

It still runs in the caller's thread; ``core.template_workers`` runs it in worker
processes with a hard time and memory limit, which is what the server uses. Nothing here
imports the database or the web layer: the workers load this module alone.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_eval_context


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """What one render may use. The defaults fit any real reply or alert text many times over."""

    output: int = 200_000  # characters of output, and of any one string or list built on the way
    iterations: int = 100_000  # loop iterations, all loops of the render together
    range: int = 10_000  # items of one range()
    seconds: float = 1.0  # wall-clock time, checked as it runs (the worker is killed later still)


class LimitExceeded(jinja2.exceptions.SecurityError):
    """A render went past one of its ``Limits``; ``limit`` names which."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.iterations = 0
        self.deadline = time.monotonic() + limits.seconds

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.iterations:
            raise LimitExceeded(
                "iterations", f"loops more than {self.limits.iterations} times (the iteration limit)")
        if self.iterations % 64 == 0:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded("time", f"takes longer than {self.limits.seconds:g} s (the time limit)")

    def check_size(self, size: int) -> None:
        if size > self.limits.output:
            raise LimitExceeded("output", f"builds more than {self.limits.output} characters (the output limit)")


# The budget of the render running in this thread (a template compiled once is shared by renders).
_CURRENT: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _budget() -> _Budget:
    return _CURRENT.get() or _Budget(Limits())


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every for-loop iterates through this (see ``BudgetedSandbox._parse``)."""
    budget = _budget()
    for item in iterable:
        budget.tick()
        yield item


@pass_eval_context
def _concat(eval_ctx: Any, parts: list[Any]) -> str:
    """The ``~`` operator, with a size check on the result."""
    joined: str = markup_join(parts) if eval_ctx.autoescape else str_join(parts)
    _budget().check_size(len(joined))
    return joined


def _bounded_range(*args: int) -> range:
    items = range(*args)
    limit = _budget().limits.range
    if len(items) > limit:
        raise LimitExceeded("range", f"asks for a range of {len(items)} items (the limit is {limit})")
    return items


_PADDING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_PERCENT_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")


def _check_format(template: str) -> None:
    """Refuse a ``%`` or ``str.format`` pattern whose widths would build a huge string."""
    limit = _budget().limits.output
    for match in _PERCENT_WIDTH.finditer(template):
        for width in match.groups():
            if width == "*" or (width and int(width) > limit):
                raise LimitExceeded("output", f"formats with a width over {limit} (the output limit)")
    for match in _FORMAT_SPEC.finditer(template):
        if any(int(width) > limit for width in re.findall(r"\d+", match.group(1))):
            raise LimitExceeded("output", f"formats with a width over {limit} (the output limit)")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _check_size_arguments(values: Iterable[Any], what: str) -> None:
    limit = _budget().limits.output
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limit:
            raise LimitExceeded("output", f"passes {value} to {what} (the limit is {limit})")


def _budgeted_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter whose parameters (a width, a count) and result are held to the output
    limit; the value it filters may be any number (``{{ 1234567|round }}``)."""
    # Filters marked pass_context/pass_eval_context/pass_environment get that object first.
    value_at = 1 if getattr(func, "jinja_pass_arg", None) else 0

    @functools.wraps(func)  # keeps Jinja's pass_context/pass_eval_context marker
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_size_arguments((*args[value_at + 1:], *kwargs.values()), f"the {func.__name__[3:]} filter")
        if func.__name__ == "do_format" and len(args) > value_at and isinstance(args[value_at], str):
            _check_format(args[value_at])
        result = func(*args, **kwargs)
        _budget().check_size(_size(result))
        return result

    return wrapper


def _short_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja2's ``lipsum`` held to a page or two: its size grows with n times max."""
    if n * max > 10_000:
        raise LimitExceeded("output", "asks for too much filler text (the output limit)")
    return str(jinja2.utils.generate_lorem_ipsum(n, html, min, max))


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with every loop counted and every string-building step capped."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _budgeted_filter(f) for name, f in self.filters.items()}
        self.filters["__counted"] = _counted
        self.filters["__concat"] = _concat
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _short_lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Route every for-loop through the iteration budget and every ``~`` through the size cap."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "__counted", [], [], None, None, lineno=loop.lineno)
        for concat in list(tree.find_all(nodes.Concat)):
            parts = nodes.List(concat.nodes, lineno=concat.lineno)
            replacement = nodes.Filter(parts, "__concat", [], [], None, None, lineno=concat.lineno)
            _replace(tree, concat, replacement)
        return tree

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        budget = _budget()
        if operator_ == "**":
            if isinstance(right, int) and abs(right) > 100:
                raise LimitExceeded("output", "raises to a power over 100 (the output limit)")
            return operator.pow(left, right)
        if operator_ == "%":
            if isinstance(left, str):
                _check_format(left)
            result = operator.mod(left, right)
            budget.check_size(_size(result))
            return result
        if operator_ == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                budget.check_size(len(left) + len(right))
            return operator.add(left, right)
        if isinstance(right, int) and isinstance(left, str | list | tuple):
            budget.check_size(len(left) * right)
        elif isinstance(left, int) and isinstance(right, str | list | tuple):
            budget.check_size(len(right) * left)
        elif isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > 4096:
            raise LimitExceeded("output", "multiplies numbers too large (the output limit)")
        return operator.mul(left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Calls from the template: string methods that grow text by an argument (``'x'.ljust(10**9)``,
        ``replace``) are checked before they run, every result after."""
        budget = _budget()
        budget.check_time()
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in _PADDING_METHODS:
            _check_size_arguments((*args, *kwargs.values()), f"str.{name}")
        elif isinstance(owner, str) and name == "replace" and len(args) >= 2:
            old, new = str(args[0]), str(args[1])
            grows = max(0, len(new) - len(old))
            budget.check_size(len(owner) + (owner.count(old) if old else len(owner) + 1) * grows)
        result = super().call(__context, __obj, *args, **kwargs)
        budget.check_size(_size(result))
        return result

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        """Refuse an unsafe attribute at once, rather than render it as an empty string."""
        raise jinja2.exceptions.SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is not allowed")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)
        return wrapped


def _replace(tree: nodes.Node, old: nodes.Node, new: nodes.Node) -> None:
    for parent in tree.find_all(nodes.Node):
        for field, value in parent.iter_fields():
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return


@functools.cache
def _environment(html: bool, strict: bool) -> BudgetedSandbox:
    return BudgetedSandbox(
        autoescape=html,
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=2048)
def _compiled(source: str, html: bool, strict: bool) -> jinja2.Template:
    """Compiling is the slow part of Jinja2; the same few templates render again and again."""
    return _environment(html, strict).from_string(source)


class TemplateFailure(Exception):
    """Why a template did not render: ``limit`` is set when it went past one of the ``Limits``."""

    def __init__(self, message: str, limit: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit
        self.line = line


def render(source: str, context: Mapping[str, Any], limits: Limits, html: bool = False,
           strict: bool = False) -> str:
    """The template's output, or ``TemplateFailure`` saying what went wrong (in words for ops)."""
    budget = _Budget(limits)
    token = _CURRENT.set(budget)
    try:
        template = _compiled(source, html, strict)
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > limits.output:
                raise LimitExceeded("output", f"renders more than {limits.output} characters (the output limit)")
            budget.check_time()
            chunks.append(chunk)
        return "".join(chunks)
    except LimitExceeded as exc:
        raise TemplateFailure(str(exc), exc.limit) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateFailure(f"does not parse: {exc.message}", line=exc.lineno) from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateFailure(f"tries something not allowed: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateFailure(f"uses an unknown value: {exc.message}") from None
    except RecursionError:
        raise TemplateFailure("nests too deeply (the recursion limit)", "recursion") from None
    except MemoryError:
        raise TemplateFailure("needs too much memory (the memory limit)", "memory") from None
    except Exception as exc:  # any failure inside an ops-written template is the template's
        raise TemplateFailure(f"fails to render: {type(exc).__name__}: {exc}") from None
    finally:
        _CURRENT.reset(token)
