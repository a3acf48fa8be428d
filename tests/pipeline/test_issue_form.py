"""An issue opened from the intent form becomes the intent file the bot commits."""

from __future__ import annotations

import pytest

from pipeline.intents import InvalidIntent, Priority, load_intent
from pipeline.intents.issue_form import TEMPLATE, form_fields, intent_from_issue

# As GitHub renders a submitted issue form (headings are the template's labels).
BODY = """### Service name

hello-world

### Purpose

Say hello in several languages.

### Priority

low

### Tier

3

### Blueprint context

_No response_

### Auto build

- [X] Build as soon as governance allows

### Structured hints

```yaml
endpoints:
  - method: GET
    path: /hello
```
"""


def test_the_form_becomes_a_valid_intent_file() -> None:
    result = intent_from_issue(BODY, issue_number=12)
    assert result.path == "intents/hello-world.yaml"
    assert result.intent.priority is Priority.LOW
    assert result.intent.tier == 3
    assert result.intent.auto_build is True
    assert result.intent.blueprint_context == ""
    assert result.intent.endpoints[0].path == "/hello"
    assert load_intent(result.text, source=result.path) == result.intent


def test_an_unticked_box_means_no_auto_build() -> None:
    body = BODY.replace("- [X] Build", "- [ ] Build")
    assert intent_from_issue(body, issue_number=1).intent.auto_build is False


def test_problems_point_into_the_file_that_would_be_committed() -> None:
    body = BODY.replace("\nlow\n", "\nurgent\n")
    with pytest.raises(InvalidIntent) as caught:
        intent_from_issue(body, issue_number=5)
    problem = caught.value.first
    assert problem.file == "intents/hello-world.yaml"
    assert problem.field == "priority" and problem.line > 0


def test_a_bad_service_name_names_the_issue() -> None:
    body = BODY.replace("\nhello-world\n", "\n../../etc/passwd\n")
    with pytest.raises(InvalidIntent) as caught:
        intent_from_issue(body, issue_number=5)
    assert caught.value.first.file == "issue #5"
    assert "path characters" in caught.value.first.message


def test_hints_cannot_smuggle_tags() -> None:
    body = BODY.replace("endpoints:", "storage: !!python/object/apply:os.system ['id']\nendpoints:")
    with pytest.raises(InvalidIntent, match="not allowed"):
        intent_from_issue(body, issue_number=5)


def test_an_issue_without_the_form_is_refused() -> None:
    with pytest.raises(InvalidIntent, match="no 'Service name'"):
        intent_from_issue("Please build me a thing", issue_number=9)


def test_every_form_field_is_an_intent_field_or_the_hints() -> None:
    from pipeline.intents import Intent

    assert TEMPLATE.is_file()
    assert set(form_fields().values()) - {"hints"} <= set(Intent.model_fields)
