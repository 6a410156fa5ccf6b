"""Headless-browser walk through the console; driven by .ci/console.sh (env LC_URL, LC_TOKEN, ...).

At 1280 px: sign in (a wrong token first), add integrations through the form (its errors, found by
the browser and by the API, next to their fields), Test (signed and unsigned wording), Rotate
secret (the generated secret shown once, both signatures after it), event types chosen and a
sale.created tested, a rule, a creator earning it, a monthly rule with tiers and its month run by
hand, the delivery log (its chart's numbers, columns, no broken words, live updates
that keep the focus), an integration's own page. Then every page and dialog at 390 px. After every
navigation the menu must be in view; axe-core must find no serious or critical violation on any
page or dialog at either width. Screenshots of each land in LC_SHOTS.
"""
import datetime, json, os, re, sys, time
from playwright.sync_api import sync_playwright, expect

URL, TOKEN = os.environ["LC_URL"], os.environ["LC_TOKEN"]
RECEIVER, RECEIVED, SHOTS = os.environ["LC_RECEIVER"], os.environ["LC_RECEIVED"], os.environ["LC_SHOTS"]
DOWN_RECEIVER, AXE = os.environ["LC_DOWN_RECEIVER"], os.environ["LC_AXE"]
API_KEY = "sk-console-test-0123456789abcdef"
SHORT_KEY = "sk_test_123"
errors, problems = [], []
width = ["desktop"]


def received():
    try:
        with open(RECEIVED) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def menu_in_view(page, where):
    box = page.evaluate("""() => {
        const r = document.querySelector('header nav').getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, height: innerHeight, scrollY};
    }""")
    assert box["top"] >= 0 and box["bottom"] <= box["height"], \
        f"{where} at {width[0]} width: the menu is out of view ({box})"


def nav(page, name):
    # From the bottom of the page, where the bug left people.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state("networkidle")
    heading = page.get_by_role("heading", level=1, name=name, exact=True)
    expect(heading).to_be_visible()
    # The page's heading takes the focus (for screen readers), without scrolling the menu away.
    expect(heading).to_be_focused()
    menu_in_view(page, f"after opening {name}")


def axe(page, where):
    """Serious and critical violations of the page as it is now (dialogs included)."""
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
    }""")
    for v in found:
        if v["impact"] in ("serious", "critical"):
            problems.append(f"axe, {where} at {width[0]} width: {v['impact']} {v['id']} ({v['help']}): {v['nodes']}")


def shot(page, name):
    # A dialog is shown as the screen shows it; a page whole.
    dialog = page.locator("dialog[open]").count() > 0
    page.screenshot(path=f"{SHOTS}/{name}-{width[0]}.png", full_page=not dialog)


def look(page, name):
    """An accessibility check and a screenshot of what is on screen."""
    axe(page, name)
    shot(page, name)


def broken_words(page, selector):
    """Words in the cells matched that the layout split over two lines."""
    return page.evaluate("""(selector) => {
        const broken = [];
        for (const cell of document.querySelectorAll(selector)) {
            const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            for (let node = walk.nextNode(); node; node = walk.nextNode()) {
                for (const m of node.data.matchAll(/\\S+/g)) {
                    const range = document.createRange();
                    range.setStart(node, m.index);
                    range.setEnd(node, m.index + m[0].length);
                    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                    if (lines.size > 1) broken.push(m[0]);
                }
            }
        }
        return broken;
    }""", selector)


def caption_counts(figure):
    text = figure.locator("figcaption").inner_text()
    m = re.search(r"(\d+) succeeded, (\d+) retried, (\d+) failed", text)
    assert m, f"the chart says no numbers: {text!r}"
    return tuple(int(n) for n in m.groups())


def field_error(dialog_or_page, label):
    """The error shown next to the field `label`: the element its input is described by."""
    box = dialog_or_page.get_by_label(label, exact=True)
    expect(box).to_have_attribute("aria-invalid", "true")
    error = dialog_or_page.locator("#" + box.get_attribute("id") + "-error")
    expect(error).to_be_visible()
    assert error.get_attribute("class") == "error"
    return error


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # axe-core comes in as an init script: the console's strict policy (no inline script) stays on.
    context.add_init_script(path=AXE)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    # A 401 is how the console learns it needs a token (and how a wrong one is refused); the
    # browser logs that answer, which is not a script error.
    # Other 4xx answers are the refusals the walk provokes on purpose, shown as form errors.
    def on_console(m):
        if m.type == "error" and not re.search(r"status of 4\d\d", m.text):
            errors.append(f"console error: {m.text}")
    page.on("console", on_console)
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda r: r.abort())
    page.goto(URL + "/")
    tok = page.get_by_label("Admin token")
    tok.wait_for(timeout=5000)
    menu_in_view(page, "on load")
    look(page, "sign-in")

    # A wrong token is refused in words, next to the field.
    tok.fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(field_error(page, "Admin token")).to_contain_text("refused this token")
    look(page, "sign-in-refused")
    tok.fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Integrations", level=1)).to_be_visible()
    menu_in_view(page, "after signing in")

    # Integrations: the empty state leads to the form, which opens at once on Webhook.
    nav(page, "Integrations")
    empty = page.locator(".empty")
    expect(empty).to_contain_text("No integrations yet")
    look(page, "integrations-empty")
    empty.get_by_role("button", name="Add Integration").click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_role("heading", name="Add Integration: Webhook")).to_be_visible()
    save, close = dlg.get_by_role("button", name="Save"), dlg.get_by_role("button", name="Close")
    sb, cb = save.bounding_box(), close.bounding_box()
    assert abs(sb["y"] - cb["y"]) < 2 and sb["x"] < cb["x"], f"Save {sb} and Close {cb} are not side by side"
    name_box, dialog_box = dlg.get_by_label("Name").bounding_box(), dlg.bounding_box()
    assert name_box["width"] > 0.85 * dialog_box["width"], f"the Name input is {name_box['width']} px in a {dialog_box['width']} px dialog"
    # Found by the browser (a required field) and by the API (a refused address): one style, each
    # next to its field.
    save.click()
    browser_error = field_error(dlg, "Name")
    dlg.get_by_label("Name").fill("Console receiver")
    dlg.get_by_label("API URL").fill("http://169.254.169.254/latest")
    dlg.get_by_label("API key").fill(API_KEY)
    save.click()
    api_error = field_error(dlg, "API URL")
    expect(api_error).to_contain_text("169.254.169.254")
    style = lambda e: e.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).fontWeight].join()")
    dlg.get_by_label("Name").fill("")
    save.click()
    assert style(field_error(dlg, "Name")) == style(api_error), "the browser's and the API's errors look different"
    dlg.get_by_label("Name").fill("Console receiver")
    dlg.get_by_label("API URL").fill(RECEIVER)
    dlg.locator("summary", has_text="Advanced").click()
    expect(dlg.get_by_label("Auth header")).to_be_visible()
    expect(dlg.get_by_label("Auth prefix")).to_be_visible()
    dlg.get_by_role("button", name=re.compile(r"^Generate")).click()
    expect(dlg.get_by_label("Signing secret")).to_have_value(re.compile(r"^whsec_"))
    look(page, "integration-form")
    save.click()
    expect(page.get_by_role("heading", name="Console receiver")).to_be_visible()
    assert API_KEY not in page.content(), "the API key is in the page"
    card = page.get_by_role("article").filter(has=page.get_by_role("heading", name="Console receiver"))
    expect(card).to_contain_text(re.compile(r"(32 characters, )?ending …cdef"))
    expect(card).not_to_contain_text("only its last characters")

    # An unsigned integration with a short key: the key is described honestly, and Test does
    # not promise a signature.
    page.get_by_role("button", name="Add Integration").click()
    dlg = page.get_by_role("dialog")
    dlg.get_by_label("Name").fill("Unsigned receiver")
    dlg.get_by_label("API URL").fill(RECEIVER.replace("/hook", "/unsigned"))
    dlg.get_by_label("API key").fill(SHORT_KEY)
    dlg.get_by_role("button", name="Save").click()
    unsigned = page.get_by_role("article").filter(has=page.get_by_role("heading", name="Unsigned receiver"))
    expect(unsigned).to_contain_text(re.compile(r"11 characters, ending …23|Set; too short for any of it to be shown"))
    expect(unsigned).not_to_contain_text("only its last characters")
    unsigned.get_by_role("button", name="Test", exact=True).click()
    dlg = page.get_by_role("dialog")
    expect(dlg).to_contain_text("it is not signed, as this integration has no signing secret")
    expect(dlg).not_to_contain_text("signed with")
    dlg.get_by_role("button", name="Close").click()

    # Test send on the signed one.
    card.get_by_role("button", name="Test", exact=True).click()
    dlg = page.get_by_role("dialog")
    expect(dlg).to_contain_text("signed with this integration's secret")
    for label in ["Email", "Instagram username", "TikTok username", "Discount code"]:
        expect(dlg.get_by_label(label, exact=True)).to_be_visible()
    dlg.get_by_label("Medias (JSON)").fill("[{")
    dlg.get_by_role("button", name="Send test", exact=True).click()
    expect(field_error(dlg, "Medias (JSON)")).to_contain_text("not valid JSON")
    dlg.get_by_label("Medias (JSON)").fill('[{"postType": "STORY"}]')
    dlg.get_by_label("Email", exact=True).fill("edited@example.com")
    expect(dlg.get_by_label("Raw JSON")).to_contain_text("edited@example.com")
    dlg.get_by_role("button", name="Send test", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="200").first).to_be_visible(timeout=15000)
    bodies = [json.loads(r["body"]) for r in received()]
    assert any(b.get("email") == "edited@example.com" for b in bodies), f"receiver got {bodies}"
    expect(dlg.get_by_role("button", name="Copy as curl")).to_be_visible()
    assert API_KEY not in page.content(), "the API key is in the test result"
    look(page, "test-dialog")
    dlg.get_by_role("button", name="Close").click()

    # Rotate secret…: a refused grace period is said next to its field; a generated secret is
    # shown once, in the dialog, never again; then each webhook carries both signatures.
    card.get_by_role("button", name="Rotate secret…").click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_label("Grace period")).to_have_value("24h")
    dlg.get_by_label("Grace period").fill("8d")
    dlg.get_by_role("button", name="Rotate", exact=True).click()
    expect(field_error(dlg, "Grace period")).to_contain_text("7d")
    dlg.get_by_label("Grace period").fill("2h")
    dlg.get_by_role("button", name="Rotate", exact=True).click()
    expect(dlg.get_by_label("New signing secret")).to_have_value(re.compile(r"^whsec_"))
    rotated_secret = dlg.get_by_label("New signing secret").input_value()
    expect(dlg.get_by_role("status").filter(has_text="both signatures")).to_be_visible()
    expect(dlg.get_by_role("button", name="Rotate", exact=True)).to_be_hidden()
    expect(dlg.get_by_role("button", name="Copy signing secret")).to_be_visible()
    look(page, "rotate-dialog")
    dlg.get_by_role("button", name="Close").click()
    expect(card).to_contain_text("the previous secret also signs until")
    assert rotated_secret not in page.content(), "the generated secret is shown again after its dialog"
    card.get_by_role("button", name="Rotate secret…").click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_label("New signing secret")).to_be_hidden()
    assert rotated_secret not in page.content(), "the generated secret is shown again"
    dlg.get_by_role("button", name="Close").click()
    card.get_by_role("button", name="Test", exact=True).click()
    dlg = page.get_by_role("dialog")
    sent_before = len(received())
    dlg.get_by_role("button", name="Send test", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="200").first).to_be_visible(timeout=15000)
    assert rotated_secret not in page.content(), "the generated secret is in the test result"
    got = received()[sent_before:]
    sigs = [v for r in got for k, v in r["headers"].items() if k.lower() == "webhook-signature"]
    assert sigs and len(sigs[-1].split(" ")) == 2, f"not signed with both secrets during the grace period: {sigs}"
    dlg.get_by_role("button", name="Close").click()

    # Event types: chosen in the form, grouped in plain words; the Test modal sends a sale's sample.
    card.get_by_role("button", name="Edit", exact=True).click()
    dlg = page.get_by_role("dialog")
    events = dlg.get_by_role("group", name="Events it receives")
    for legend in ["Rewards", "Programs", "Posts", "Sales"]:
        expect(events.get_by_role("group", name=legend, exact=True)).to_be_visible()
    expect(events.get_by_label("A creator earns a reward (instant rule)")).to_be_checked()
    expect(events.get_by_label("A creator's storefront makes a sale")).not_to_be_checked()
    events.get_by_label("A creator's storefront makes a sale").check()
    look(page, "integration-form-events")
    dlg.get_by_role("button", name="Save").click()
    expect(card).to_contain_text("A creator's storefront makes a sale")
    card.get_by_role("button", name="Test", exact=True).click()
    dlg = page.get_by_role("dialog")
    dlg.get_by_label("Event", exact=True).select_option("sale.created")
    expect(dlg.get_by_label("Medias (JSON)")).to_be_hidden()
    expect(dlg.get_by_label("Raw JSON")).to_contain_text('"orderId": "order-1001"')
    dlg.get_by_role("button", name="Send test", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="200").first).to_be_visible(timeout=15000)
    expect(dlg).to_contain_text("lc-event-type: sale.created")
    sales = [r for r in received() if {k.lower(): v for k, v in r["headers"].items()}.get("lc-event-type") == "sale.created"]
    assert sales and json.loads(sales[-1]["body"])["sale"]["amount"] == "12.50", f"receiver got {received()}"
    look(page, "test-dialog-sale")
    dlg.get_by_role("button", name="Close").click()

    # Rewards: the empty state, the form's errors, and a prefix that reads as one.
    nav(page, "Rewards")
    expect(page.locator(".empty")).to_contain_text("No reward rules yet")
    look(page, "rewards-empty")
    page.get_by_role("button", name="New rule").click()
    dlg = page.get_by_role("dialog")
    dlg.get_by_label("Count").fill("0")
    dlg.get_by_role("button", name="Create rule").click()
    field_error(dlg, "Count")
    dlg.get_by_label("Count").fill("2")
    dlg.get_by_label("Name", exact=True).fill("   ")
    dlg.get_by_role("button", name="Create rule").click()
    expect(field_error(dlg, "Name")).to_contain_text("name")
    dlg.get_by_label("Name", exact=True).fill("2 Story posts")
    dlg.get_by_role("group", name="Post types").get_by_label("STORY").check()
    dlg.get_by_label("Code prefix", exact=True).fill("STORY-")
    # LoudCrowd's Fulfillment Limit: above 1 on a rule earned once is refused next to its field.
    dlg.get_by_label("Fulfillment Limit", exact=True).fill("5")
    dlg.get_by_role("button", name="Create rule").click()
    expect(field_error(dlg, "Fulfillment Limit")).to_contain_text("repeatable")
    dlg.get_by_label("Fulfillment Limit", exact=True).fill("1")
    look(page, "rule-form")
    dlg.get_by_role("button", name="Create rule").click()
    row = page.get_by_role("row").filter(has_text="2 Story posts")
    expect(row).to_be_visible()
    expect(row.get_by_role("cell").nth(1)).to_contain_text("Discount code, prefix STORY-")
    expect(row.get_by_role("cell").nth(3)).to_have_text("0")
    look(page, "rewards")

    # Creators: the empty state, a refused duplicate next to its field, a reward earned.
    nav(page, "Creators")
    expect(page.locator(".empty")).to_contain_text("No creators yet")
    page.get_by_label("Email", exact=True).fill("ana@example.com")
    page.get_by_label("Instagram username").fill("ana")
    page.get_by_role("button", name="Add creator").click()
    sec = page.get_by_role("region", name="ana@example.com")
    expect(sec).to_be_visible()
    page.get_by_label("Email", exact=True).fill("ana@example.com")
    page.get_by_role("button", name="Add creator").click()
    field_error(page, "Email")
    sec.get_by_label("Post type").select_option("STORY")
    for n in (1, 2):
        sec.get_by_role("button", name="Simulate post").click()
        expect(sec.get_by_role("status").filter(has_text=f"Post {n} ")).to_be_visible(timeout=10000)
    expect(sec.get_by_text(re.compile(r"^STORY-"))).to_be_visible(timeout=10000)
    # The creator's events (GET /v1/events?creatorId=): the reward just earned.
    expect(sec.get_by_role("list", name=re.compile(r"^Events of "))).to_contain_text("A creator earns a reward (instant rule)")
    look(page, "creators")

    # Programs: one under manual approval; Ana signs up, waits, and is approved.
    nav(page, "Programs")
    expect(page.locator(".empty")).to_contain_text("No programs yet")
    page.get_by_label("Program name").fill("Ambassadors")
    page.get_by_label("Approval").select_option("MANUAL")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Create program").click()
    field_error(page, "Time zone")
    page.get_by_label("Time zone").fill("America/New_York")
    page.get_by_role("button", name="Create program").click()
    sec = page.get_by_role("region", name="Ambassadors")
    expect(sec).to_be_visible()
    expect(sec).to_contain_text("Time zone: America/New_York")
    sec.get_by_label("Creator", exact=True).select_option(label="ana@example.com")
    sec.get_by_role("button", name="Sign up").click()
    row = sec.get_by_role("row").filter(has_text="ana@example.com")
    expect(row.get_by_role("cell").nth(1)).to_have_text("PENDING")
    look(page, "programs")
    row.get_by_role("button", name="Approve ana@example.com").click()
    expect(row.get_by_role("cell").nth(1)).to_have_text("APPROVED")
    expect(row.get_by_role("button", name="Remove ana@example.com")).to_be_visible()
    expect(row.get_by_role("button", name="Approve ana@example.com")).to_have_count(0)

    # Monthly rewards: Ben posted twice last month; a monthly rule with two tiers pays him tier 2
    # when the month is run by hand, once however many times it is run.
    first_of_month = datetime.datetime.now(datetime.timezone.utc).date().replace(day=1)
    this_month = first_of_month.strftime("%Y-%m")
    last_month = (first_of_month - datetime.timedelta(days=1)).strftime("%Y-%m")
    page.evaluate(f"""async () => {{
        const headers = {{authorization: 'Bearer {TOKEN}', 'content-type': 'application/json'}};
        const ben = await (await fetch('/v1/creators', {{method: 'POST', headers,
            body: JSON.stringify({{email: 'ben@example.com', igUsername: 'ben'}})}})).json();
        for (const day of ['10', '20']) {{
            await fetch('/v1/media', {{method: 'POST', headers, body: JSON.stringify(
                {{creatorId: ben.id, postType: 'FEED', postedAt: '{last_month}-' + day + 'T12:00:00.000000'}})}});
        }}
    }}""")
    nav(page, "Rewards")
    page.get_by_role("button", name="New rule").click()
    dlg = page.get_by_role("dialog")
    dlg.get_by_label("Name", exact=True).fill("Monthly feed")
    dlg.get_by_label("Schedule", exact=True).select_option("MONTHLY")
    expect(dlg.get_by_label("Count", exact=True)).to_be_hidden()
    expect(dlg.get_by_label("Fulfillment Limit", exact=True)).to_be_hidden()
    expect(dlg.get_by_label("Tier 1 posts")).to_have_value("2")
    expect(dlg.get_by_label("Tier 2 posts")).to_have_value("4")
    dlg.get_by_role("button", name="Add tier").click()
    expect(dlg.get_by_label("Tier 3 posts")).to_have_value("5")
    dlg.get_by_role("button", name="Remove tier 3").click()
    expect(dlg.get_by_label("Tier 3 posts")).to_have_count(0)
    dlg.get_by_role("group", name="Post types").get_by_label("STORY").uncheck()
    # Tiers out of order are refused by the API, next to the tiers.
    dlg.get_by_label("Tier 1 posts").fill("2")
    dlg.get_by_label("Tier 2 posts").fill("1")
    dlg.get_by_role("button", name="Create rule").click()
    tiers_error = dlg.get_by_role("group", name="Tiers", exact=True).locator(":scope > p.error")
    expect(tiers_error).to_be_visible()
    expect(tiers_error).to_contain_text("tiers[1]")
    dlg.get_by_label("Tier 1 posts").fill("1")
    dlg.get_by_label("Tier 2 posts").fill("2")
    dlg.get_by_label("Tier 2 code prefix").fill("MONTH-")
    dlg.get_by_label("Time zone", exact=True).fill("Mars/Olympus")
    dlg.get_by_role("button", name="Create rule").click()
    field_error(dlg, "Time zone")
    dlg.get_by_label("Time zone", exact=True).fill("UTC")
    look(page, "rule-form-monthly")
    dlg.get_by_role("button", name="Create rule").click()
    row = page.get_by_role("row").filter(has_text="Monthly feed")
    expect(row).to_contain_text("tier 1: 1 post, tier 2: 2 posts")
    expect(row.get_by_role("cell").nth(1)).to_contain_text("MONTH-")
    row.get_by_role("button", name="Run month of Monthly feed").click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_label("Month", exact=True)).to_have_value(last_month)
    expect(dlg).to_contain_text("No month run yet.")
    dlg.get_by_label("Month", exact=True).fill(this_month)
    dlg.get_by_role("button", name="Run month", exact=True).click()
    expect(field_error(dlg, "Month")).to_contain_text("not ended")
    dlg.get_by_label("Month", exact=True).fill(last_month)
    dlg.get_by_role("button", name="Run month", exact=True).click()
    expect(dlg.get_by_role("status")).to_contain_text(f"{last_month}: 1 fulfillment,")
    runs = dlg.get_by_role("row").filter(has_text=last_month)
    expect(runs).to_contain_text("By hand")
    expect(runs.get_by_role("cell").nth(1)).to_have_text("1")
    dlg.get_by_role("button", name="Run month", exact=True).click()
    expect(dlg.get_by_role("status")).to_contain_text(f"{last_month}: 0 fulfillments")
    look(page, "run-month")
    dlg.get_by_role("button", name="Close").click()
    expect(row.get_by_role("cell").nth(3)).to_have_text("1")
    tier = page.evaluate(f"""async () => {{
        const list = await (await fetch('/v1/fulfillments', {{headers: {{authorization: 'Bearer {TOKEN}'}}}})).json();
        const f = list.items.find(f => f.month !== null && f.month !== undefined);
        return f ? [f.month, f.tier] : null;
    }}""")
    assert tier == [last_month, 2], f"the monthly fulfillment is {tier}"
    deadline = time.time() + 15
    while time.time() < deadline and sum(json.loads(r["body"]).get("email") == "ben@example.com" for r in received()) < 2:
        time.sleep(0.1)
    bens = [json.loads(r["body"]) for r in received() if json.loads(r["body"]).get("email") == "ben@example.com"]
    assert len(bens) == 2, f"Ben's monthly webhook reached {len(bens)} of 2 integrations"
    assert all(b["discountCode"].startswith("MONTH-") and len(b["medias"]) == 2 for b in bens), f"Ben's webhooks: {bens}"

    # Delivery log: the chart's numbers are the receiver's, the new columns, the email in any case.
    nav(page, "Delivery log")
    expect(page.get_by_text("Pending:")).to_be_visible()
    expect(page.get_by_text("Failed:")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="2 Story posts").filter(has_text="succeeded")
    expect(row).to_have_count(2, timeout=15000)
    expect(row.first).to_contain_text("ana@example.com")
    for column in ["Event", "Creator"]:
        expect(page.get_by_role("columnheader", name=column)).to_be_visible()
    page.wait_for_timeout(3500)
    chart = page.locator("figure.chart")
    expect(chart).to_have_count(1)
    sent = len(received())
    assert caption_counts(chart) == (sent, 0, 0), f"the chart says {caption_counts(chart)}; the receiver got {sent} webhooks, all answered 200"
    assert chart.locator("svg rect.bar-ok").count() >= 1, "the chart draws no bar"
    row.filter(has_text="Console receiver").get_by_role("button", name=re.compile(r"^Open")).click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_role("heading", name="Attempts")).to_be_visible()
    expect(dlg.get_by_role("heading", name="Request headers")).to_be_visible()
    expect(dlg.get_by_role("row", name=re.compile(r"webhook-signature", re.I)).first).to_be_visible()
    expect(dlg.get_by_role("cell", name="200", exact=True).first).to_be_visible()
    assert API_KEY not in page.content(), "the API key is in the delivery dialog"
    dlg.get_by_role("button", name="Retry", exact=True).click()
    dlg.get_by_role("button", name="Retry now").click()
    expect(dlg.get_by_role("row").filter(has=page.get_by_role("cell", name="2", exact=True))).to_be_visible(timeout=10000)
    look(page, "delivery-dialog")
    dlg.get_by_role("button", name="Close").click()
    page.get_by_label("Search").fill("Ana@Example.COM")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row").filter(has_text="ana@example.com")).to_have_count(2)
    page.get_by_label("Search").fill("nobody@example.com")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".empty")).to_contain_text("No deliveries match these filters")
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_role("row").filter(has_text="ana@example.com")).to_have_count(2)
    # The event type: shown in plain words, and a filter.
    page.get_by_label("Event", exact=True).select_option("sale.created")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row").filter(has_text="Test send: A creator's storefront makes a sale")).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text="2 Story posts")).to_have_count(0)
    page.get_by_label("Event", exact=True).select_option("")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row").filter(has_text="ana@example.com")).to_have_count(2)

    # A receiver that is down: a long error, in its own cell, breaks no other word at 1280 px.
    nav(page, "Integrations")
    page.get_by_role("button", name="Add Integration").click()
    dlg = page.get_by_role("dialog")
    dlg.get_by_label("Name").fill("Integration that is down")
    dlg.get_by_label("API URL").fill(DOWN_RECEIVER)
    dlg.get_by_label("API key").fill(API_KEY)
    dlg.get_by_role("button", name="Save").click()
    down = page.get_by_role("article").filter(has=page.get_by_role("heading", name="Integration that is down"))
    down.get_by_role("button", name="Test", exact=True).click()
    dlg = page.get_by_role("dialog")
    dlg.get_by_role("button", name="Send test", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="No answer")).to_be_visible(timeout=15000)
    dlg.get_by_role("button", name="Close").click()
    nav(page, "Delivery log")
    failed_row = page.get_by_role("row").filter(has_text="Integration that is down")
    expect(failed_row).to_contain_text("connection failed")
    broken = broken_words(page, "table.log th, table.log td:not(.response)")
    assert not broken, f"words broken over two lines at 1280 px: {broken}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.wait_for_timeout(3500)
    assert caption_counts(page.locator("figure.chart")) == (len(received()), 0, 1)
    look(page, "log")

    # Live updates change the table in place: the focused Open button stays the same element,
    # focused, while a new delivery arrives above it.
    opener = page.get_by_role("button", name=re.compile(r"^Open delivery")).last
    opener.focus()
    opener.evaluate("b => { b.dataset.marked = 'yes'; }")
    rows_before = page.locator("table.log tbody tr").count()
    page.evaluate(f"""async () => {{
        const list = await (await fetch('/v1/integrations', {{headers: {{authorization: 'Bearer {TOKEN}'}}}})).json();
        const it = list.items.find(i => i.name === 'Console receiver');
        await fetch('/v1/integrations/' + it.id + '/test', {{method: 'POST', headers: {{authorization: 'Bearer {TOKEN}'}}}});
    }}""")
    expect(page.locator("table.log tbody tr")).to_have_count(rows_before + 1, timeout=10000)
    page.wait_for_timeout(3500)
    still = page.evaluate("document.activeElement.dataset.marked")
    assert still == "yes", "a live update took the keyboard focus from the Open button"

    # An integration's own page: its chart of the day, with the numbers in a table.
    nav(page, "Integrations")
    page.get_by_role("link", name="Console receiver").click()
    page.wait_for_load_state("networkidle")
    menu_in_view(page, "on an integration's page")
    expect(page.get_by_role("heading", name="Console receiver", level=1)).to_be_visible()
    day = page.locator("figure.chart.large")
    succeeded, retried, failed = caption_counts(day)
    assert succeeded >= 3 and retried == 0 and failed == 0, f"the integration's chart says {(succeeded, retried, failed)}"
    expect(day.locator("figcaption")).to_contain_text(re.compile(r"Latency p50 \d+ ms, p95 \d+ ms"))
    page.get_by_text("Numbers per hour").click()
    expect(page.get_by_role("columnheader", name="p95")).to_be_visible()
    look(page, "integration")

    # Replay and the payload format.
    nav(page, "Integrations")
    expect(page.get_by_text("medias (the original)").first).to_be_visible()
    card.get_by_role("button", name="Replay failed").click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_label("Since")).to_be_visible()
    dlg.get_by_role("button", name="Replay", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="queued again")).to_be_visible(timeout=10000)
    dlg.get_by_role("button", name="Close").click()
    card.get_by_role("button", name="Edit", exact=True).click()
    dlg = page.get_by_role("dialog")
    dlg.locator("summary", has_text="Advanced").click()
    dlg.get_by_label("Payload format").select_option("posts")
    dlg.get_by_role("button", name="Save").click()
    expect(card.get_by_text("posts (with each post's platform)")).to_be_visible()
    card.get_by_role("button", name="Test", exact=True).click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_label("Posts (JSON)")).to_be_visible()
    expect(dlg.get_by_label("Raw JSON")).to_contain_text('"platform": "instagram"')
    dlg.get_by_role("button", name="Send test", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="200").first).to_be_visible(timeout=15000)
    bodies = [json.loads(r["body"]) for r in received()]
    assert any("posts" in b for b in bodies), f"no posts body among {bodies}"
    dlg.get_by_role("button", name="Close").click()
    look(page, "integrations")

    # Phone width: every page and dialog, the menu in view, nothing wider than the screen.
    width[0] = "phone"
    page.set_viewport_size({"width": 390, "height": 844})
    def fits(where):
        sw = page.evaluate("document.documentElement.scrollWidth")
        assert sw <= 390, f"{where} is {sw}px wide at phone width"
    for name, slug in [("Integrations", "integrations"), ("Rewards", "rewards"), ("Programs", "programs"), ("Creators", "creators"), ("Delivery log", "log")]:
        nav(page, name)
        page.wait_for_timeout(300)
        fits(name)
        look(page, slug)
    expect(page.locator("figure.chart svg")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Open delivery")).first.click()
    look(page, "delivery-dialog")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    nav(page, "Integrations")
    page.get_by_role("link", name="Console receiver").click()
    page.wait_for_load_state("networkidle")
    menu_in_view(page, "on an integration's page")
    fits("An integration's page")
    look(page, "integration")
    nav(page, "Integrations")
    page.get_by_role("button", name="Add Integration").click()
    look(page, "integration-form")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Test", exact=True).first.click()
    look(page, "test-dialog")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Rotate secret…").first.click()
    fits("The Rotate secret dialog")
    look(page, "rotate-dialog")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    nav(page, "Rewards")
    page.get_by_role("button", name="New rule").click()
    look(page, "rule-form")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.evaluate("sessionStorage.clear()")
    page.reload()
    page.get_by_label("Admin token").wait_for()
    menu_in_view(page, "on load")
    look(page, "sign-in")
    browser.close()

if errors or problems:
    print("\n".join(["browser errors:"] * bool(errors) + errors + problems), file=sys.stderr)
    sys.exit(1)
print("console test: 1 passed, 0 failed")
