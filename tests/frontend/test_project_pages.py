"""Login, the project list, the dashboard (rounds, retraining, settings, import, members)
and the ontology editor, in a real browser against the real server."""
import re

from playwright.sync_api import expect

from .conftest import PASSWORDS, login

BAD_CSV = "text,label\nA fine sentence,positive\n,negative\nAnother one,maybe\n"
GOOD_CSV = "text\nfirst imported sentence\nsecond imported sentence\nthird imported sentence\n"


def csv_file(name: str, text: str) -> dict:
    return {"name": name, "mimeType": "text/csv", "buffer": text.encode()}


def test_a_wrong_password_is_told_clearly(page, app_server):
    page.goto("/login/")
    page.fill("#id_username", "annotator")
    page.fill("#id_password", "not-the-password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("Wrong username or password")
    expect(page.locator("#id_username")).to_have_value("annotator")
    page.fill("#id_password", PASSWORDS["annotator"])
    page.click("#login-form button[type=submit]")
    expect(page.locator("#current-user")).to_contain_text("annotator")


def test_annotators_see_their_role_but_no_admin_controls(page, app_server):
    login(page, "annotator")
    row = page.locator(f"#project-list li[data-project-id='{app_server.project_id}']")
    expect(row.locator(".badge")).to_have_text("annotator")
    expect(row.locator(".project-progress")).to_contain_text(re.compile(r"\d+ of [\d,]+ items labeled"))

    response = page.goto(f"/projects/{app_server.project_id}/ontology/")
    assert response.status == 403
    expect(page.locator("#forbidden-message")).to_contain_text("admin")

    page.goto(f"/projects/{app_server.project_id}/")
    expect(page.locator("#label-button")).to_be_visible()
    expect(page.locator("#rounds-body tr[data-round]").first).to_be_visible()
    expect(page.locator("#stat-labeled")).to_have_text(re.compile(r"^[\d,]+$"))
    for admin_only in ("#retrain-button", "#settings-form", "#import-form", "#members-card", "#ontology-link", "#export-card"):
        assert page.locator(admin_only).count() == 0, admin_only


def test_reviewers_get_the_export_links(page, app_server):
    login(page, "reviewer")
    page.goto(f"/projects/{app_server.project_id}/")
    expect(page.locator("#export-csv")).to_have_attribute("href", re.compile(r"export_format=csv$"))
    expect(page.locator("#export-jsonl")).to_have_attribute("href", re.compile(r"export_format=jsonl$"))
    assert page.locator("#retrain-button").count() == 0
    csv_text = page.request.get(page.locator("#export-csv").get_attribute("href")).text()
    assert csv_text.splitlines()[0].startswith("item_id,external_id,text,label")


def test_admin_retrains_and_watches_the_job_to_the_new_round(page, app_server):
    login(page, "admin")
    page.goto(f"/projects/{app_server.project_id}/")
    rows = page.locator("#rounds-body tr[data-round]")
    expect(rows.first).to_be_visible()
    rounds_before = rows.count()
    last_round = int(rows.first.get_attribute("data-round"))
    # Record every state the job display passes through.
    page.evaluate(
        """() => {
            window.__jobTexts = [];
            const root = document.querySelector('#job-status');
            new MutationObserver(() => window.__jobTexts.push(root.dataset.state + ': ' + root.textContent.trim()))
                .observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )
    page.click("#retrain-button")
    expect(page.locator("#job-text")).to_contain_text(f"Round {last_round + 1} ready", timeout=30_000)
    expect(page.locator("#job-status")).to_have_attribute("data-state", "done")
    expect(rows).to_have_count(rounds_before + 1)
    expect(rows.first).to_have_attribute("data-round", str(last_round + 1))
    texts = page.evaluate("window.__jobTexts")
    assert any(re.search(r"fitting|scoring|selecting", text) for text in texts), texts


def test_admin_settings_show_validation_errors_from_the_server(page, app_server):
    login(page, "admin")
    page.goto(f"/projects/{app_server.project_id}/")
    expect(page.locator("#set-strategy option")).not_to_have_count(0)
    expect(page.locator("#set-batch-size")).to_have_value(re.compile(r"^\d+$"))
    batch_size = page.input_value("#set-batch-size")
    page.fill("#set-batch-size", "0")
    page.fill("#set-eval-fraction", "0.9")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("[data-error-for=batch_size]")).to_contain_text("greater than or equal to 1")
    expect(page.locator("[data-error-for=eval_fraction]")).to_contain_text("less than or equal to 0.5")
    expect(page.locator("#settings-message")).to_contain_text("Not saved")

    page.fill("#set-batch-size", batch_size)
    page.fill("#set-eval-fraction", "0")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-message")).to_contain_text("Settings saved")
    expect(page.locator("[data-error-for=batch_size]")).to_have_text("")


def test_admin_imports_a_file_with_bad_rows_then_a_good_one(page, app_server):
    login(page, "admin")
    page.goto(f"/projects/{app_server.project_id}/")
    page.set_input_files("#import-file", csv_file("bad.csv", BAD_CSV))
    page.fill("#import-label-field", "label")
    page.select_option("#import-split", "pool")
    page.click("#import-button")
    result = page.locator("#import-result")
    expect(result).to_contain_text("Nothing was imported: 2 row(s) have problems")
    expect(result.locator("li")).to_have_text(
        [re.compile(r"Row 2: the 'text' field is empty"), re.compile(r"Row 3: unknown label 'maybe'")]
    )
    expect(page.locator("#upload-progress")).to_have_js_property("value", 100)

    total_before = page.inner_text("#stat-labeled-of")
    page.set_input_files("#import-file", csv_file("good.csv", GOOD_CSV))
    page.fill("#import-label-field", "")
    page.select_option("#import-split", "pool")
    page.click("#import-button")
    expect(result).to_contain_text("Imported 3 items")
    expect(page.locator("#import-rows")).to_contain_text("Server has read 3 rows")
    expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
    expect(page.locator("#stat-labeled-of")).not_to_have_text(total_before)


def test_admin_adds_and_removes_a_member(page, app_server):
    login(page, "admin")
    page.goto(f"/projects/{app_server.project_id}/")
    members = page.locator("#members-body tr")
    expect(members.filter(has_text="annotator2")).to_have_count(1)
    page.fill("#member-username", "nobody-by-this-name")
    page.click("#member-form button[type=submit]")
    expect(page.locator("#members-message")).to_contain_text("There is no user named nobody-by-this-name")

    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#members-body tr[data-username=annotator2] button").click()
    expect(page.locator("#members-body tr[data-username=annotator2]")).to_have_count(0)
    page.fill("#member-username", "annotator2")
    page.select_option("#member-role", "annotator")
    page.click("#member-form button[type=submit]")
    expect(page.locator("#members-message")).to_contain_text("annotator2 was added as annotator")
    expect(page.locator("#members-body tr[data-username=annotator2] select")).to_have_value("annotator")


def test_admin_edits_classes_and_sees_a_hotkey_clash_inline(page, app_server):
    login(page, "admin")
    page.goto(f"/projects/{app_server.project_id}/")
    page.click("#ontology-link")
    positive = page.locator("tr.class-row[data-key='1']")
    expect(positive.locator("input[name=name]")).to_have_value("positive")
    positive.locator("input[name=hotkey]").fill("1")
    positive.get_by_role("button", name="Save").click()
    expect(page.locator("tr.class-error[data-error-for='1']")).to_contain_text("taken by 'negative'")

    page.fill("#new-name", "Neutral")
    page.fill("#new-hotkey", "3")
    page.click("#add-class-form button[type=submit]")
    neutral = page.locator("tr.class-row[data-key='neutral']")
    expect(neutral).to_be_visible()
    expect(neutral.locator("input[name=hotkey]")).to_have_value("3")

    page.on("dialog", lambda dialog: dialog.accept())
    neutral.get_by_role("button", name="Delete").click()
    expect(neutral).to_have_count(0)
    expect(page.locator("#message")).to_contain_text("Deleted “Neutral”")


def test_a_failed_round_is_shown_with_its_error(page, app_server):
    """The server's job.failed push (injected here: a real failure needs a broken model)."""
    sockets = []

    def relay(ws):
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/ws/projects/\d+/$"), relay)
    login(page, "admin")
    page.goto(f"/projects/{app_server.project_id}/")
    expect(page.locator("#job-status")).not_to_have_attribute("data-state", "idle")
    for _ in range(100):
        if sockets:
            break
        page.wait_for_timeout(100)
    sockets[0].send('{"type": "job.progress", "job": 999, "phase": "scoring", "done": 500, "total": 2000}')
    expect(page.locator("#job-text")).to_contain_text("scoring 500 of 2,000")
    expect(page.locator("#job-bar")).to_be_visible()
    sockets[0].send('{"type": "job.failed", "job": 999, "error": "ValueError: the model exploded"}')
    expect(page.locator("#job-status")).to_have_attribute("data-state", "failed")
    expect(page.locator("#job-text")).to_contain_text("failed: ValueError: the model exploded")
