"""The seed's `AND` / `OR` / `NOT` rule keywords, translated to CEL by a tokenizer that skips string literals.

`AND` becomes `&&` and `OR` becomes `||`. `NOT` binds like Python's `not` and SQL's NOT: looser than a
comparison, tighter than `AND`/`OR`, so `NOT tier == 0` means `!(tier == 0)`. The operand of a `NOT` is
wrapped in parentheses to keep that meaning in CEL, where `!` binds tighter than `==`.

Only whole identifier tokens spelled exactly `AND`, `OR` or `NOT` are keywords; text inside string literals,
field names after a dot (`x.AND`) and lowercase words are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

KEYWORDS = {"AND": "&&", "OR": "||"}
NOT_KEYWORD = "NOT"
OPENING = "([{"
CLOSING = ")]}"


class TokenKind(StrEnum):
    STRING = "string"
    IDENT = "ident"
    SPACE = "space"
    PUNCT = "punct"
    OTHER = "other"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    column: int
    """0-based offset of the token in the rule."""


class RuleSyntaxError(ValueError):
    """The rule cannot be tokenized (an unterminated string, unbalanced brackets, too deep nesting)."""

    def __init__(self, message: str, column: int) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} (at column {column + 1})")


# A CEL string literal: optional r/b prefixes, then '...', "...", '''...''' or """...""".
_STRING_START = re.compile(r"(?P<prefix>[rRbB]{0,2})(?P<quote>'''|\"\"\"|'|\")")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"\s+")
_OPERATORS = ("&&", "||", "==", "!=", "<=", ">=")
_NOT_OPERAND_ENDS = {"&&", "||", "?", ":", ",", "AND", "OR"}


def tokenize(rule: str) -> list[Token]:
    """Split a rule into tokens; joining their texts gives the rule back exactly."""
    tokens: list[Token] = []
    position = 0
    while position < len(rule):
        token = _next_token(rule, position)
        tokens.append(token)
        position += len(token.text)
    return tokens


def _next_token(rule: str, position: int) -> Token:
    # Tokens start only at token boundaries, so an `r` or `b` before a quote here is always a prefix.
    string = _STRING_START.match(rule, position)
    if string:
        raw = "r" in string.group("prefix").lower()
        end = _string_end(rule, position, string.end(), string.group("quote"), raw=raw)
        return Token(TokenKind.STRING, rule[position:end], position)
    for kind, pattern in ((TokenKind.IDENT, _IDENT), (TokenKind.SPACE, _SPACE)):
        match = pattern.match(rule, position)
        if match:
            return Token(kind, match.group(0), position)
    for operator in _OPERATORS:
        if rule.startswith(operator, position):
            return Token(TokenKind.PUNCT, operator, position)
    kind = TokenKind.OTHER if rule[position].isalnum() else TokenKind.PUNCT
    return Token(kind, rule[position], position)


def _string_end(rule: str, start: int, position: int, quote: str, *, raw: bool) -> int:
    """Offset just past the closing quote of the literal at `start`, whose body starts at `position`."""
    while position < len(rule):
        if rule.startswith(quote, position):
            return position + len(quote)
        if rule[position] == "\\" and not raw:
            position += 2
            continue
        if rule[position] == "\n" and len(quote) == 1:
            break
        position += 1
    raise RuleSyntaxError("unterminated string literal", start)


def translate(rule: str, *, max_depth: int = 32) -> str:
    """Return the rule with `AND`/`OR`/`NOT` turned into CEL; raise RuleSyntaxError if it cannot be read."""
    tokens = tokenize(rule)
    _check_brackets(tokens, max_depth)
    return _emit(tokens, 0, len(tokens))


def _check_brackets(tokens: list[Token], max_depth: int) -> None:
    stack: list[Token] = []
    for token in tokens:
        if token.kind is not TokenKind.PUNCT:
            continue
        if token.text in OPENING:
            stack.append(token)
            if len(stack) > max_depth:
                raise RuleSyntaxError(f"brackets nest deeper than {max_depth} levels", token.column)
        elif token.text in CLOSING:
            if not stack or OPENING.index(stack[-1].text) != CLOSING.index(token.text):
                raise RuleSyntaxError(f"'{token.text}' has no matching opening bracket", token.column)
            stack.pop()
    if stack:
        raise RuleSyntaxError(f"'{stack[-1].text}' is never closed", stack[-1].column)


def _is_keyword(tokens: list[Token], index: int) -> bool:
    token = tokens[index]
    if token.kind is not TokenKind.IDENT or token.text not in (*KEYWORDS, NOT_KEYWORD):
        return False
    before = _previous_significant(tokens, index)
    return before is None or before.text != "."


def _previous_significant(tokens: list[Token], index: int) -> Token | None:
    for token in reversed(tokens[:index]):
        if token.kind is not TokenKind.SPACE:
            return token
    return None


def _emit(tokens: list[Token], start: int, end: int) -> str:
    parts: list[str] = []
    index = start
    while index < end:
        token = tokens[index]
        if _is_keyword(tokens, index) and token.text == NOT_KEYWORD:
            operand_end = _not_operand_end(tokens, index + 1, end)
            parts.append("!(" + _emit(tokens, index + 1, operand_end).strip() + ")")
            index = operand_end
            continue
        parts.append(KEYWORDS[token.text] if _is_keyword(tokens, index) else token.text)
        index += 1
    return "".join(parts)


def _not_operand_end(tokens: list[Token], start: int, end: int) -> int:
    """The operand of NOT runs to the next AND/OR/?/:/, at its own bracket depth, or to a closing bracket."""
    depth = 0
    for index in range(start, end):
        token = tokens[index]
        if token.kind is TokenKind.STRING:
            continue
        if token.text in OPENING:
            depth += 1
        elif token.text in CLOSING:
            if depth == 0:
                return _trim_space(tokens, start, index)
            depth -= 1
        elif depth == 0 and token.text in _NOT_OPERAND_ENDS and _ends_operand(tokens, index):
            return _trim_space(tokens, start, index)
    return _trim_space(tokens, start, end)


def _ends_operand(tokens: list[Token], index: int) -> bool:
    token = tokens[index]
    if token.text in (*KEYWORDS, NOT_KEYWORD):
        return _is_keyword(tokens, index)
    return token.kind is TokenKind.PUNCT


def _trim_space(tokens: list[Token], start: int, end: int) -> int:
    """Leave the whitespace before the next operator outside the parentheses, so spacing reads naturally."""
    while end > start and tokens[end - 1].kind is TokenKind.SPACE:
        end -= 1
    return end
