"""The review experience in a real browser (Debian's Chromium via Playwright): a diff on Approvals, the SPEC
as a rendered document, Reject asking first, counts that follow a deploy live, search by a word of a
purpose, no page wider than a 1280 or a 420 px window, and no link on any page answering 404. Screenshots of
each go to .artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from pipeline.adoption.history import StageHistory
from pipeline.adoption.stagefile import StageFile, StageRoute
from pipeline.buildreport import BuildReport
from pipeline.factory.builtin import builtin_stages
from pipeline.factory.contracts import Stage as LineStage
from pipeline.governance import GivenScore, govern, load_policy_sources
from pipeline.governance.alignment import AlignmentMethod
from pipeline.intents import Intent
from pipeline.ledger import IntentState, Outcome, Stage
from pipeline.registry import Provenance
from pipeline.shadow import Referees, ShadowStore, evaluate
from tests.conftest import ROOT
from tests.dashboard.crawl import crawl
from tests.dashboard.rig import REPO, People, Rig, start_rig
from tests.dashboard.test_review import REPORT
from tests.fixtures.browser import screenshot
from tests.fixtures.forge import ForgeKit
from tests.fixtures.records import enter
from tests.shadow.candidates import ConstantVerifier
from tests.shadow.conftest import HISTORY

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

WIDTHS = (1280, 420)


@pytest.fixture
def live_rig(module_forge_kit: ForgeKit, people: People, tmp_path: Path) -> Iterator[Rig]:
    rig = start_rig(module_forge_kit, people, tmp_path, poll_seconds=0.2)
    yield rig
    rig.server.stop()
    rig.db.dispose()


@pytest.fixture
def signed_page(browser: Browser, live_rig: Rig) -> Iterator[Page]:
    """Alice signed in to the dashboard, and known to the forge's pages (the browser answers their
    sign-in challenge with her login and token, as a person types them once)."""
    approver = live_rig.people.approver
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        http_credentials={"username": approver.login, "password": approver.token},
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_rig.url}/")
    page.get_by_label("Token").fill(approver.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    try:
        yield page
    finally:
        context.close()


def test_a_diff_is_on_the_approvals_card_with_generated_code_folded(signed_page: Page, live_rig: Rig) -> None:
    page = signed_page
    pull = live_rig.open_pull("diffed", purpose="Greet the team in the morning.")
    page.get_by_role("link", name="Approvals").click()
    card = page.locator(f"#approval-{pull.intent_id}")
    spec = card.locator("details.diff-file", has_text="services/diffed/SPEC.md")
    expect(spec.get_by_role("cell", name="## 1. Overview and scope")).to_be_visible()
    purpose = card.locator(".intent-summary p.wrapped", has_text="Greet the team in the morning.")
    expect(purpose).to_be_visible()
    code = card.locator("details.diff-file", has_text="services/diffed/app.py")
    expect(code.get_by_role("cell", name="print('hello')")).to_be_hidden()
    code.locator("summary").click()
    expect(code.get_by_role("cell", name="print('hello')")).to_be_visible()
    screenshot(page, "approvals-diff")


def test_the_spec_page_is_a_rendered_document(signed_page: Page, live_rig: Rig) -> None:
    page = signed_page
    pull = live_rig.open_pull("documented")
    enter(
        live_rig.ledger,
        pull.intent_id,
        IntentState.AWAITING_SIGNOFF,
        report=BuildReport.from_json(REPORT),
        waiting_for="sign-off",
    )
    page.goto(f"{live_rig.url}/approvals/{pull.intent_id}/spec")
    expect(page.get_by_role("heading", name="4. Endpoints", level=2)).to_be_visible()
    expect(page.locator(".spec-doc strong", has_text="FR-001")).to_be_visible()
    expect(page.get_by_text("**FR-001**")).to_have_count(0)
    beside = page.get_by_role("complementary", name="The verifier on 4. Endpoints")
    expect(beside).to_contain_text("12.5 of 16 points")
    expect(beside).to_contain_text("name the errors")
    screenshot(page, "spec-document")


def test_reject_asks_for_confirmation_first(signed_page: Page, live_rig: Rig) -> None:
    page = signed_page
    pull = live_rig.open_pull("maybe-not")
    page.get_by_role("link", name="Approvals").click()
    page.get_by_label("Reason to reject").fill("Duplicates the greeter")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("heading", name="Reject maybe-not?")).to_be_visible()
    expect(page.get_by_text("Duplicates the greeter")).to_be_visible()
    screenshot(page, "reject-confirm")
    page.get_by_role("link", name="Cancel: keep it open").click()
    expect(page.get_by_role("button", name="Approve maybe-not")).to_be_visible()
    forge_pull = live_rig.github(live_rig.people.owner).get_repo(REPO).get_pull(pull.number)
    assert forge_pull.state == "open"

    page.get_by_label("Reason to reject").fill("Duplicates the greeter")
    page.get_by_role("button", name="Reject").click()
    page.get_by_role("button", name=f"Yes, reject and close #{pull.number}").click()
    expect(page.get_by_role("status").first).to_contain_text("You rejected maybe-not")
    forge_pull.update()
    assert forge_pull.state == "closed"


def test_the_state_counts_follow_a_deploy_live(signed_page: Page, live_rig: Rig) -> None:
    page = signed_page
    intent = live_rig.receive("shipping", state=IntentState.MERGED)
    page.reload()
    counts = page.get_by_role("list", name="Intents by state")
    expect(counts).to_contain_text("merged 1")
    page.evaluate("window.__sameDocument = true")
    live_rig.ledger.record(intent, Stage.DEPLOYED, Outcome.SUCCEEDED, duration_ms=4000)
    enter(live_rig.ledger, intent, IntentState.DEPLOYED, service_url="http://127.0.0.1:9300")
    expect(counts).to_contain_text("deployed 1")
    expect(counts).not_to_contain_text("merged")
    assert page.evaluate("window.__sameDocument") is True, "the counts changed without a reload"
    screenshot(page, "queue-counts-live")


def test_search_finds_an_intent_by_a_word_of_its_purpose(signed_page: Page, live_rig: Rig) -> None:
    page = signed_page
    live_rig.open_pull("night-greeter", purpose="Say good morning to the night shift.")
    live_rig.open_pull("day-greeter", purpose="Say goodbye politely.")
    page.get_by_role("searchbox", name="Search").fill("shift")
    page.get_by_role("button", name="Find").click()
    expect(page.locator('[data-service="night-greeter"]')).to_be_visible()
    expect(page.locator('[data-service="day-greeter"]')).to_have_count(0)
    expect(page.get_by_text("1 intent found for “shift”")).to_be_visible()
    screenshot(page, "queue-search")


def _fill(rig: Rig, tag: str) -> dict[str, str]:
    """Every kind of page with something on it: long names and words, a pull request, a blocked intent
    explained in numbers, a deploy, a registered service, analytics, an adopted stage and its shadow
    evaluation. Returns page name -> path."""
    long_name = f"a-service-with-a-name-as-long-as-dns-allows-for-one-label-{tag}"
    pull = rig.open_pull(long_name, purpose="x" * 4000)
    enter(rig.ledger, pull.intent_id, IntentState.AWAITING_SIGNOFF, report=BuildReport.from_json(REPORT))
    for n in range(6):
        intent = rig.receive(f"busy-{tag}-{n}", priority=("low", "high", "critical")[n % 3])
        for stage in (Stage.GOVERNED, Stage.SPEC, Stage.CODE, Stage.TESTS, Stage.PR, Stage.SIGNOFF):
            rig.ledger.record(intent, stage, Outcome.SUCCEEDED, duration_ms=61_000 + n)
        enter(rig.ledger, intent, IntentState.NEEDS_HUMAN, waiting_for="a SPEC that reaches the gate " * 3)
    blocked = rig.receive(f"misaligned-{tag}", commit_sha=rig.commit_intent(f"misaligned-{tag}"))
    intent = Intent(service_name=f"misaligned-{tag}", purpose="Greet the people of misaligned.", tier=1)
    seed = load_policy_sources({"policies/seed.json": (ROOT / "policies" / "seed.json").read_bytes()})
    rig.ledger.record_decision(
        blocked, govern(intent, seed, scorer=GivenScore(0.41, method=AlignmentMethod.CLAUDE), blueprint=None)
    )
    enter(rig.ledger, blocked, IntentState.BLOCKED, waiting_for="a change")
    shipped = rig.open_pull(f"shipped-{tag}")
    rig.github(rig.people.owner).get_repo(REPO).get_pull(shipped.number).merge(merge_method="merge")
    enter(rig.ledger, shipped.intent_id, IntentState.DEPLOYED, service_url="http://127.0.0.1:9101")
    rig.registry.announce(
        name=long_name,
        version="v1-" + "f" * 40,
        url="http://127.0.0.1:9100",
        health_path="/health",
        provenance=Provenance(
            intent_path=f"intents/{long_name}.yaml", pr_number=pull.number, approvers=("alice",)
        ),
    )
    stages = builtin_stages()
    report = evaluate(
        LineStage.SPEC_VERIFIER,
        incumbent=stages.verifier,
        candidate=ConstantVerifier(100),
        cases=HISTORY[:3],
        referees=Referees.of(stages),
        candidate_name=f"spec-verifier-that-grades-everything-one-hundred-{tag}",
    )
    shadow = ShadowStore(rig.db).save(report, repo=REPO, candidate_version="d" * 40)
    route = StageRoute(LineStage.SPEC_VERIFIER, report.candidate, version="d" * 40, shadow=shadow.id)
    StageHistory(rig.db).record_change(REPO, StageFile(), StageFile().with_route(route), commit_sha="e" * 40)
    return {
        "queue": "/",
        "approvals": "/approvals",
        "spec": f"/approvals/{pull.intent_id}/spec",
        "intent": f"/intents/{pull.intent_id}",
        "intent-blocked": f"/intents/{blocked}",
        "intent-deployed": f"/intents/{shipped.intent_id}",
        "services": "/services",
        "analytics": "/analytics",
        "stages": "/stages",
        "shadow": f"/stages/shadow/{shadow.id}",
        "forge-pull": f"{rig.kit.url}/{REPO}/pull/{pull.number}",
    }


def test_no_page_is_wider_than_the_window_at_1280_or_420(signed_page: Page, live_rig: Rig) -> None:
    page = signed_page
    pages = _fill(live_rig, "w")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            page.goto(path if path.startswith("http") else f"{live_rig.url}{path}")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow} px wider than a {width} px window"
            screenshot(page, f"{'narrow' if width == 420 else 'wide'}-{name}")
        page.goto(f"{live_rig.url}/")
        table = page.evaluate("document.querySelector('table.queue').getBoundingClientRect().width")
        assert table <= width, f"the queue table is {table} px wide in a {width} px window"
        nav = page.get_by_role("navigation", name="Dashboard")
        for label in ("Queue", "Approvals", "Services", "Analytics", "Stages"):
            box = nav.get_by_role("link", name=label).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (label, width)
        expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_rig.url}/")
    screenshot(page, "queue-1280")


def test_no_link_on_any_page_answers_404(signed_page: Page, live_rig: Rig) -> None:
    """Every link of every dashboard page, and of the forge pages they lead to, followed (services that are
    not running in this test are left out: they are not pages of the line)."""
    page = signed_page
    pages = _fill(live_rig, "l")
    dashboard, forge = urlsplit(live_rig.url).netloc, urlsplit(live_rig.kit.url).netloc
    starts = [f"{live_rig.url}{path}" if path.startswith("/") else path for path in pages.values()]
    seen, broken = crawl(page, starts, {dashboard, forge})
    assert broken == []
    assert len(seen) >= 10, seen
    assert any(forge in url for url in seen), "the forge's pages were followed too"
