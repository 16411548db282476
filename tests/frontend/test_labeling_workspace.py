"""The labeling workspace in a real browser: hotkeys, live re-ranking, undo, skip.

The first test must run first on the session's server: it counts the ten labels
that make the demo project (retrain_every=10) start a round."""
import re

from playwright.sync_api import expect

from .conftest import login, number, wait_for_idle_jobs

ANY_ITEM = re.compile(r"^\d+$")


def open_workspace(page, app_server):
    page.goto(f"/projects/{app_server.project_id}/label/")
    card = page.locator("#item-card")
    expect(card).to_have_attribute("data-item-id", ANY_ITEM)
    expect(page.locator("#progress-mine")).to_have_text(re.compile(r"^\d+$"))
    return card


def label_and_wait(page, card, key: str, mine_after: int) -> str:
    """Press a class key; the next item shows at once, then the claim brings fresh counts."""
    before = card.get_attribute("data-item-id")
    page.keyboard.press(key)
    expect(card).not_to_have_attribute("data-item-id", before)
    expect(page.locator("#progress-mine")).to_have_text(str(mine_after))
    expect(card).to_have_attribute("data-item-id", ANY_ITEM)
    return before


def test_hotkeys_label_items_and_the_new_batch_arrives_without_a_reload(page, app_server):
    login(page, "annotator")
    card = open_workspace(page, app_server)
    page.evaluate("window.__sameDocument = 'still here'")
    rounds_before = page.request.get(f"/api/projects/{app_server.project_id}/rounds/").json()
    expected_version = max(r["number"] for r in rounds_before) + 1
    mine = number(page.inner_text("#progress-mine"))
    labeled = number(page.inner_text("#progress-labeled"))
    notice = page.locator("#rerank-notice")
    expect(notice).to_be_hidden()
    # Sanity of the legend and the buttons: class order, hotkeys 1 and 2.
    expect(page.locator("#class-buttons .class-button")).to_have_text([re.compile("1\\s*negative"), re.compile("2\\s*positive")])
    expect(page.locator("#shortcut-legend")).to_contain_text("skip")

    for n in range(1, 11):
        label_and_wait(page, card, "1" if n % 2 else "2", mine + n)
        if n == 9:
            expect(notice).to_be_hidden()
    current_item = card.get_attribute("data-item-id")
    current_text = page.inner_text("#item-text")
    assert number(page.inner_text("#progress-labeled")) == labeled + 10

    # The tenth label starts a round; its batch.ready is pushed and the queue behind
    # the current item is replaced in place.
    expect(notice).to_be_visible(timeout=30_000)
    expect(notice).to_have_text(f"Queue re-ranked by model version {expected_version}")
    expect(page.locator("#job-indicator")).to_contain_text(f"round {expected_version} ready")
    assert card.get_attribute("data-item-id") == current_item
    assert page.inner_text("#item-text") == current_text
    assert page.evaluate("window.__sameDocument") == "still here"

    # The next item comes from the new model's batch, with its hint.
    label_and_wait(page, card, "1", mine + 11)
    expect(page.locator("#queue-position")).to_contain_text(f"of the batch from model v{expected_version}")
    page.keyboard.press("h")
    expect(page.locator("#hint")).to_contain_text("Model suggests:")
    page.reload()  # the hint setting is kept in localStorage
    expect(page.locator("#hint")).to_contain_text("Model suggests:")
    expect(page.locator("#hint-button")).to_have_attribute("aria-pressed", "true")


def test_z_undoes_the_last_answer_and_shows_its_item_again(page, app_server):
    login(page, "annotator")
    card = open_workspace(page, app_server)
    mine = number(page.inner_text("#progress-mine"))
    first_item = card.get_attribute("data-item-id")
    first_text = page.inner_text("#item-text")

    label_and_wait(page, card, "2", mine + 1)
    page.keyboard.press("z")
    expect(card).to_have_attribute("data-item-id", first_item)
    expect(page.locator("#item-text")).to_have_text(first_text)
    expect(page.locator("#progress-mine")).to_have_text(str(mine))
    expect(page.locator("#status")).to_contain_text("Undone")

    # Labeled again, then Ctrl+Z takes that answer back too.
    label_and_wait(page, card, "1", mine + 1)
    page.keyboard.press("Control+z")
    expect(card).to_have_attribute("data-item-id", first_item)
    expect(page.locator("#progress-mine")).to_have_text(str(mine))
    label_and_wait(page, card, "1", mine + 1)
    expect(page.locator("#message")).to_be_hidden()


def test_s_skips_the_item_for_good(page, app_server):
    login(page, "annotator")
    card = open_workspace(page, app_server)
    mine = number(page.inner_text("#progress-mine"))
    skipped = card.get_attribute("data-item-id")

    page.keyboard.press("s")
    expect(card).not_to_have_attribute("data-item-id", skipped)
    expect(card).to_have_attribute("data-item-id", ANY_ITEM)
    expect(page.locator("#status")).to_contain_text("Skipped")
    assert number(page.inner_text("#progress-mine")) == mine

    # Not offered again, even after a reload.
    page.reload()
    expect(card).to_have_attribute("data-item-id", ANY_ITEM)
    assert card.get_attribute("data-item-id") != skipped
    expect(page.locator("#message")).to_be_hidden()


def test_enter_submits_the_chosen_class(page, app_server):
    login(page, "annotator")
    card = open_workspace(page, app_server)
    mine = number(page.inner_text("#progress-mine"))
    before = card.get_attribute("data-item-id")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Choose a class first")
    assert card.get_attribute("data-item-id") == before
    page.keyboard.press("ArrowRight")
    expect(page.locator(".class-button.selected")).to_contain_text("negative")
    label_and_wait(page, card, "Enter", mine + 1)


def test_api_refusals_are_shown_in_the_message_area(page, app_server):
    login(page, "annotator2")  # no answers yet: nothing to undo
    open_workspace(page, app_server)
    page.keyboard.press("z")
    expect(page.locator("#message")).to_contain_text("There is no answer of yours to undo")


def test_a_submit_lost_on_the_network_is_retried_with_the_same_client_id(page, app_server):
    login(page, "annotator")
    card = open_workspace(page, app_server)
    mine = number(page.inner_text("#progress-mine"))
    sent = []

    def flaky(route):
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/api/projects/*/annotations/", flaky)
    label_and_wait(page, card, "2", mine + 1)
    assert len(sent) == 2
    assert sent[0]["client_id"] == sent[1]["client_id"]
    assert sent[0]["item"] == sent[1]["item"]
    expect(page.locator("#message")).to_be_hidden()


def test_the_page_reconnects_its_websocket_and_keeps_getting_pushes(page, app_server):
    attempts = []

    def drop_the_first(ws):
        attempts.append(ws.url)
        if len(attempts) == 1:
            ws.close()
        else:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r"/ws/projects/\d+/$"), drop_the_first)
    login(page, "annotator")
    card = open_workspace(page, app_server)
    item = card.get_attribute("data-item-id")
    for _ in range(100):
        if len(attempts) >= 2:
            break
        page.wait_for_timeout(100)
    assert len(attempts) >= 2
    expect(page.locator("#message")).to_be_hidden()

    wait_for_idle_jobs(app_server.admin, app_server.project_id)
    rounds = app_server.admin.get(f"/api/projects/{app_server.project_id}/rounds/")
    expected = max(r["number"] for r in rounds) + 1
    app_server.admin.post(f"/api/projects/{app_server.project_id}/jobs/")
    expect(page.locator("#rerank-notice")).to_contain_text(f"model version {expected}", timeout=30_000)
    assert card.get_attribute("data-item-id") == item


def test_an_empty_queue_says_so(page, app_server):
    login(page, "annotator")
    progress = {"total": 5, "labeled": 5, "eval_total": 0, "eval_labeled": 0, "remaining": 0, "queue": 0, "mine": 5}
    page.route("**/api/projects/*/tasks/claim/", lambda route: route.fulfill(json={"tasks": [], "progress": progress}))
    page.goto(f"/projects/{app_server.project_id}/label/")
    expect(page.locator("#empty")).to_contain_text("No more items")
    expect(page.locator("#item-card")).to_be_hidden()
    expect(page.locator("#progress-labeled")).to_have_text("5")
