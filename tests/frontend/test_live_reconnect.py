"""A workspace whose live channel drops (the server closes it with 1012 when the channel
layer's Redis restarts, see annotations/consumers.py) reconnects and reloads the queue
behind the current item, so a batch published while it was away is not missed."""
import re

from playwright.sync_api import expect

from .conftest import login

ANY_ITEM = re.compile(r"^\d+$")
PROJECT_SOCKET = re.compile(r"/ws/projects/\d+/$")


def test_the_workspace_reloads_its_queue_when_its_live_channel_comes_back(page, app_server):
    sockets = []

    def through_to_server(socket):
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(PROJECT_SOCKET, through_to_server)
    login(page, "annotator2")
    page.goto(f"/projects/{app_server.project_id}/label/")
    card = page.locator("#item-card")
    expect(card).to_have_attribute("data-item-id", ANY_ITEM)
    shown = card.get_attribute("data-item-id")
    assert len(sockets) == 1

    def queue_reload(request):
        return request.url.endswith("/tasks/claim/") and "release_except" in (request.post_data or "")

    with page.expect_request(queue_reload, timeout=15_000) as reload:
        sockets[0].close(code=1012, reason="service restart")
    assert len(sockets) == 2
    assert len(reload.value.post_data_json["release_except"]) == 1  # the item on screen is kept
    expect(card).to_have_attribute("data-item-id", shown)
    expect(page.locator("#message")).to_be_hidden()  # "Live updates interrupted" is gone again
    expect(page.locator("#rerank-notice")).to_be_hidden()  # no new batch was announced
