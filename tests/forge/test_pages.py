"""The forge's read-only HTML pages: every `html_url` it hands out opens a page for someone who may read the
repository (signed in with HTTP Basic, as git), a 401 challenge for nobody, and a 404 for a stranger."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from github import Github

from forge.admin import Account
from tests.fixtures.forge import ForgeKit

REPO = "pages-owner/intents"
BODY = """## notes: built from `intents/notes.yaml`

| check | result |
|---|---|
| tests | 4 passed |

<details><summary>tests/test_api.py::test_create</summary>

```
assert 500 == 201
```
</details>

[Status of this intent](http://127.0.0.1:8214/dashboard/intents/1)
"""


@dataclass
class Site:
    kit: ForgeKit
    owner: Account
    reader: Account
    stranger: Account
    pull_number: int
    issue_number: int
    head_sha: str
    urls: dict[str, str]


def basic(account: Account) -> tuple[str, str]:
    return (account.login, account.token)


@pytest.fixture(scope="module")
def site(module_forge_kit: ForgeKit) -> Site:
    kit = module_forge_kit
    owner, reader, stranger = kit.user("pages-owner"), kit.user("pages-reader"), kit.user("pages-stranger")
    kit.repo(
        REPO,
        files={"README.md": b"# Intents\n\nCommit an intent under `intents/`.\n"},
        collaborators={"pages-owner": "admin", "pages-reader": "read"},
    )
    gh: Github = kit.github(owner)
    repo = gh.get_repo(REPO)
    repo.create_git_ref("refs/heads/intentops/notes", repo.get_branch("main").commit.sha)
    repo.create_file(
        "services/notes/app.py", "code", "def hello():\n    return '<b>hi</b>'\n", branch="intentops/notes"
    )
    pull = repo.create_pull(base="main", head="intentops/notes", title="intentops: build notes", body=BODY)
    head = pull.head.sha
    status = repo.get_commit(head).create_status(
        state="success",
        context="intentops/tests",
        description="4 tests passed",
        target_url="http://127.0.0.1:8214/dashboard/intents/1",
    )
    comment = pull.as_issue().create_comment("/intentops explain")
    review = (
        kit.github(reader)
        .get_repo(REPO)
        .get_pull(pull.number)
        .create_review(commit=repo.get_commit(head), body="Reads well.", event="COMMENT")
    )
    issue = repo.create_issue(title="intentops: intents/todo.yaml needs attention", body="- one\n- two\n")
    return Site(
        kit,
        owner,
        reader,
        stranger,
        pull.number,
        issue.number,
        head,
        {
            "repository": repo.html_url,
            "pull request": pull.html_url,
            "issue": issue.html_url,
            "comment": comment.html_url,
            "review": review.html_url,
            "commit": repo.get_commit(head).html_url,
            "status": status.url,
        },
    )


@pytest.fixture
def browser(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(auth=basic(site.reader), follow_redirects=True, timeout=20) as client:
        yield client


@pytest.mark.parametrize("kind", ["repository", "pull request", "issue", "comment", "review", "commit"])
def test_every_html_url_opens_a_page(site: Site, browser: httpx.Client, kind: str) -> None:
    url = site.urls[kind]
    response = browser.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    fragment = url.partition("#")[2]
    if fragment:
        assert f'id="{fragment}"' in response.text, "the anchor GitHub's link points at is on the page"


def test_a_pull_request_shows_its_body_statuses_reviews_conversation_and_files(
    site: Site, browser: httpx.Client
) -> None:
    page = browser.get(site.urls["pull request"]).text
    assert "<h1>intentops: build notes" in page and "open" in page
    assert "<table>" in page and "<td>4 passed</td>" in page, "the body is rendered Markdown"
    assert "<details><summary>tests/test_api.py::test_create</summary>" in page
    assert '<a href="http://127.0.0.1:8214/dashboard/intents/1" rel="nofollow noopener noreferrer">' in page
    statuses = page[page.index("Statuses of the head") :]
    assert "intentops/tests" in statuses and "4 tests passed" in statuses
    conversation = page[page.index('id="conversation-h"') :]
    assert "/intentops explain" in conversation and "Reads well." in conversation
    files = page[page.index('id="files-h"') :]
    assert "services/notes/app.py" in files
    assert "return &#39;&lt;b&gt;hi&lt;/b&gt;&#39;" in files and 'class="d-add"' in files


def test_the_repository_page_lists_files_readme_pulls_and_issues(site: Site, browser: httpx.Client) -> None:
    page = browser.get(site.urls["repository"]).text
    assert "<code>README.md</code>" in page and "<h1>Intents</h1>" in page
    assert f'href="/{REPO}/pull/{site.pull_number}"' in page
    assert f'href="/{REPO}/issues/{site.issue_number}"' in page
    clone = browser.get(f"{site.kit.url}/{REPO}.git")
    assert clone.status_code == 200 and str(clone.url).endswith(f"/{REPO}")


def test_an_issue_page_and_a_pull_requests_number_on_it(site: Site, browser: httpx.Client) -> None:
    issue = browser.get(site.urls["issue"]).text
    assert "needs attention" in issue and "<li>one</li>" in issue
    moved = browser.get(f"{site.kit.url}/{REPO}/issues/{site.pull_number}")
    assert str(moved.url).endswith(f"/{REPO}/pull/{site.pull_number}")


def test_nobody_is_asked_to_sign_in_and_a_stranger_sees_nothing(site: Site) -> None:
    url = site.urls["pull request"]
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic realm=")
    assert "intentops: build notes" not in anonymous.text
    stranger = httpx.get(url, auth=basic(site.stranger))
    assert stranger.status_code == 404 and "intentops: build notes" not in stranger.text
    missing = httpx.get(f"{site.kit.url}/pages-owner/nothing-here", auth=basic(site.stranger))
    assert missing.status_code == 404
    wrong = httpx.get(url, auth=(site.reader.login, "ghp_not-a-token"))
    assert wrong.status_code == 401 and "does not know this token" in wrong.text


def test_the_home_page_lists_what_you_may_read_and_offers_a_sign_in(site: Site) -> None:
    anonymous = httpx.get(f"{site.kit.url}/")
    assert anonymous.status_code == 200 and 'href="/-/signin"' in anonymous.text
    assert REPO not in anonymous.text
    signed_in = httpx.get(f"{site.kit.url}/", auth=basic(site.reader))
    assert f'href="/{REPO}"' in signed_in.text
    assert httpx.get(f"{site.kit.url}/", auth=basic(site.stranger)).text.count(REPO) == 0
    challenge = httpx.get(f"{site.kit.url}/-/signin")
    assert challenge.status_code == 401 and "WWW-Authenticate" in challenge.headers
    signed = httpx.get(f"{site.kit.url}/-/signin", auth=basic(site.reader))
    assert signed.status_code == 303 and signed.headers["location"] == "/"


def test_pages_carry_a_strict_content_security_policy(site: Site, browser: httpx.Client) -> None:
    response = browser.get(site.urls["pull request"])
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert browser.get(f"{site.kit.url}/-/forge.css").headers["content-type"].startswith("text/css")


def test_the_api_and_git_still_answer_as_before(site: Site) -> None:
    api = httpx.get(f"{site.kit.api_url}/repos/{REPO}/pulls/{site.pull_number}", auth=basic(site.reader))
    assert api.status_code == 200 and api.json()["number"] == site.pull_number
    refs = httpx.get(
        f"{site.kit.url}/{REPO}.git/info/refs", params={"service": "git-upload-pack"}, auth=basic(site.reader)
    )
    assert refs.status_code == 200 and refs.headers["content-type"].startswith("application/x-git")
    unknown = httpx.get(f"{site.kit.api_url}/no/such/route", auth=basic(site.reader))
    assert unknown.status_code == 404 and unknown.json()["message"] == "Not Found"


def test_a_commit_page_links_its_parent(site: Site, browser: httpx.Client) -> None:
    page = browser.get(site.urls["commit"]).text
    parents = re.findall(rf'href="/{REPO}/commit/([0-9a-f]{{40}})"', page)
    assert parents and browser.get(f"{site.kit.url}/{REPO}/commit/{parents[0]}").status_code == 200
    assert browser.get(f"{site.kit.url}/{REPO}/commit/{'0' * 40}").status_code == 404
